"""``chitieu demo``: a few days of the Sóc Trăng 2023 campaign, played on a real share.

The story is data (``story``): which district sends which figures for which day, at what
moment, under which file name. ``play`` acts it out through the product's own paths: each
clerk's figures are typed into the unit's issued template by defined name (``KY_BAO_CAO``,
``NHAP_<mã chỉ tiêu>``) with openpyxl, as any other tool would; the file is dropped into the
unit's «Nộp báo cáo» folder with the moment as its modification time; ``ingest_share`` then
judges it with the clock set to that moment, writes the receipt and rebuilds the master.
Everything is deterministic: the same story, the same ledger, the same receipts.

The office's ranking and reminder list are computed afterwards from the ledger
(processors.report), as the master's «Tổng hợp» button does.
"""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import groupby
from pathlib import Path
from typing import Any

from rich.markup import escape

from forms.schema import TZ, Campaign, Period
from processors.intake import IngestSummary, ingest_share
from processors.ledger import FileRecord, open_ledger
from shared_folder_layout.share import Share, ShareError, init_share

SAMPLE_PLAN = Path(__file__).resolve().parents[1] / "samples" / "soc_trang_2023" / "ke_hoach.xlsx"
SHARE_DIR = "thu_muc_chung"  # the demo's share, inside the demo folder
MARKER = ".chitieu_demo"  # a demo folder made by this command: its share may be replaced on a re-run
DAYS = tuple(date(2023, 7, d) for d in (18, 19, 20, 21))
ALL_DAYS = frozenset(d.day for d in DAYS)
# The demo's clock stops on the evening of the last day: the office looks at the day's ranking and
# calls the units that have not reported yet (before the 08:00 deadline). The master, rebuilt after
# each file, then opens on that day too (it shows the period current at its last update).
CLOSING = datetime(2023, 7, 21, 21, 0, tzinfo=TZ)
LEVEL_1_SHARE = 0.72  # Mức 1 of the accounts activated (Mức 2 the rest): plausible, not from the plan

ON_TIME, LATE, MISTAKE, CORRECTED = "on_time", "late", "mistake", "corrected"


@dataclass(frozen=True)
class Habit:
    """How a district's clerk reports: pace against the daily target, when, which days late or skipped."""

    pace: float  # activations per day ÷ the daily target
    at: tuple[int, int]  # hour, minute the evening report is sent
    late: frozenset[int] = frozenset()  # days (of July) sent the next morning, after the 08:00 deadline
    skip: frozenset[int] = frozenset()  # days never reported
    mistake: int | None = None  # the day the first file has mistakes (refused, then sent again corrected)


# Eleven districts of the plan's appendix, each with its own habit. CU_LAO_DUNG never reports.
HABITS: dict[str, Habit] = {
    "TP_SOC_TRANG": Habit(1.08, (17, 30)),
    "TX_VINH_CHAU": Habit(0.93, (19, 0)),
    "TX_NGA_NAM": Habit(0.81, (9, 30), late=ALL_DAYS),
    "CHAU_THANH": Habit(1.12, (17, 30)),
    "CU_LAO_DUNG": Habit(0.0, (0, 0), skip=ALL_DAYS),
    "KE_SACH": Habit(0.71, (20, 30)),
    "LONG_PHU": Habit(0.96, (19, 0), skip=frozenset({21})),
    "MY_TU": Habit(1.01, (20, 30), mistake=19),
    "MY_XUYEN": Habit(1.21, (17, 30)),
    "THANH_TRI": Habit(0.86, (19, 0), late=frozenset({20})),
    "TRAN_DE": Habit(0.62, (20, 30)),
}
LATE_AT = (9, 30)  # a late report comes the next morning
CORRECTION_DELAY = timedelta(minutes=45)  # the clerk reads the receipt, fixes the cells, sends again


@dataclass(frozen=True)
class Drop:
    """One file a clerk sends: unit, period, moment, what is typed into the named cells, and why (for the log)."""

    unit: str
    period: Period
    moment: datetime
    values: Mapping[str, Any]
    name: str
    kind: str  # ON_TIME, LATE, MISTAKE or CORRECTED (what the story means it to be)
    fix_of: str | None = None  # a correction starts from the marked-up copy of the refused file of this name


@dataclass
class Scene:
    """What one intake pass at ``moment`` did with the files sent then."""

    moment: datetime
    drops: list[Drop]
    summary: IngestSummary
    records: list[FileRecord] = field(default_factory=list)


def cumulative(campaign: Campaign, unit_code: str, day_index: int) -> tuple[int, int]:
    """(Mức 1, Mức 2) activated from 18/07 to the end of day ``day_index`` (0 = 18/07): plausible, deterministic."""
    unit = campaign.unit_by_code[unit_code]
    target = campaign.target_for(unit, "TK_TONG")
    daily = target.daily if target and target.daily else 1000
    habit = HABITS[unit_code]
    total = 0.0
    for k in range(day_index + 1):
        wiggle = 1 + ((len(unit_code) * 7 + k * 5) % 9 - 4) / 40  # ±10 % from day to day
        total += daily * habit.pace * wiggle
    level_1 = round(total * LEVEL_1_SHARE)
    return level_1, round(total) - level_1


def story(campaign: Campaign) -> list[Drop]:
    """Every file the clerks send before the demo's clock stops, in the order they arrive."""
    drops = []
    for code, habit in HABITS.items():
        unit = campaign.unit_by_code[code]
        for index, day in enumerate(DAYS):
            if day.day in habit.skip:
                continue
            period = campaign.period_by_code[f"N{day:%Y%m%d}"]
            level_1, level_2 = cumulative(campaign, code, index)
            values = {"TK_MUC1": level_1, "TK_MUC2": level_2}
            name = f"{unit.name} - báo cáo ngày {day:%d-%m}.xlsx"
            if day.day in habit.late:
                moment = datetime.combine(day + timedelta(days=1), datetime.min.time(), TZ).replace(
                    hour=LATE_AT[0], minute=LATE_AT[1]
                )
                drops.append(Drop(code, period, moment, values, name, LATE))
                continue
            moment = datetime(day.year, day.month, day.day, *habit.at, tzinfo=TZ)
            if day.day == habit.mistake:
                # Mức 1 typed with a thousands dot as text; Mức 2 typed as the day's number, not the cumulative one.
                previous = cumulative(campaign, code, index - 1)[1]
                wrong = {"TK_MUC1": f"{level_1:,}".replace(",", "."), "TK_MUC2": level_2 - previous}
                drops.append(Drop(code, period, moment, wrong, name, MISTAKE))
                fixed = f"{unit.name} - báo cáo ngày {day:%d-%m} (đã sửa).xlsx"
                drops.append(Drop(code, period, moment + CORRECTION_DELAY, values, fixed, CORRECTED, fix_of=name))
                continue
            drops.append(Drop(code, period, moment, values, name, ON_TIME))
    return sorted((d for d in drops if d.moment <= CLOSING), key=lambda d: (d.moment, d.unit))


def fill_by_name(template: bytes, values: Mapping[str, Any]) -> bytes:
    """The workbook with ``values`` typed into the cells its defined names point at, as openpyxl saves it.

    A string is stored as text, even one starting with «=»: what a text cell keeps. The sheets'
    protection and the hidden identity sheet are kept, so the result is a real return.
    """
    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(template))
    for name, value in values.items():
        sheet, ref = next(iter(book.defined_names[name].destinations))
        cell = book[sheet][ref.replace("$", "")]
        cell.value = value
        if isinstance(value, str):
            cell.data_type = "s"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def fill_template(template: bytes, period_label: str, figures: Mapping[str, Any]) -> bytes:
    """A unit's template with the period chosen (``KY_BAO_CAO``) and each figure typed into ``NHAP_<code>``."""
    return fill_by_name(template, {"KY_BAO_CAO": period_label, **{f"NHAP_{c}": v for c, v in figures.items()}})


@contextmanager
def fixed_clock(moment: datetime) -> Iterator[None]:
    """``CHITIEU_NOW`` set to ``moment`` (every part of chitieu reads its clock there), restored afterwards."""
    before = os.environ.get("CHITIEU_NOW")
    os.environ["CHITIEU_NOW"] = moment.isoformat()
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("CHITIEU_NOW", None)
        else:
            os.environ["CHITIEU_NOW"] = before


def prepare(root: Path, key: bytes, progress: Callable[[int, int], None] | None = None) -> Share:
    """A fresh demo share in ``root/thu_muc_chung`` (a share left by an earlier demo is replaced)."""
    root = Path(root)
    share_root = root / SHARE_DIR
    if share_root.exists():
        if not (root / MARKER).is_file():
            raise ShareError(
                f"Thư mục «{share_root}» đã có và không phải do «chitieu demo» tạo; chọn thư mục minh họa khác."
            )
        shutil.rmtree(share_root)
    root.mkdir(parents=True, exist_ok=True)
    (root / MARKER).write_text("chitieu demo\n", encoding="utf-8")
    with fixed_clock(datetime(2023, 7, 17, 16, 0, tzinfo=TZ)):
        return init_share(share_root, SAMPLE_PLAN, key, progress=progress)


def scenes(drops: list[Drop]) -> list[list[Drop]]:
    """The drops grouped by moment: one intake pass each (the watcher answers within a second)."""
    return [list(group) for _moment, group in groupby(drops, key=lambda d: d.moment)]


def play_scene(share: Share, key: bytes, drops: list[Drop]) -> Scene:
    """Send these files (same moment) into their units' folders and run one intake pass at that moment."""
    moment = drops[0].moment
    for drop in drops:
        folders = share.layout.unit(drop.unit)
        base = _corrected_base(share, drop) if drop.fix_of else folders.template.read_bytes()
        path = folders.inbox / drop.name
        path.write_bytes(fill_template(base, drop.period.label, drop.values))
        stamp = moment.timestamp()
        os.utime(path, (stamp, stamp))
    with fixed_clock(moment):
        summary = ingest_share(share, key, settle=0.0, clock=lambda: moment)
    with open_ledger(share.layout.ledger) as ledger:
        names = {(d.unit, d.name) for d in drops}
        records = [r for r in ledger.files() if (r.folder_unit, r.original_name) in names]
    return Scene(moment, drops, summary, records)


def _corrected_base(share: Share, drop: Drop) -> bytes:
    """The marked-up copy («… - SỬA LẠI.xlsx») the receipt of the refused file points to: the clerk fixes that one."""
    receipts = share.layout.unit(drop.unit).receipts
    stem = Path(drop.fix_of or "").stem
    found = sorted(receipts.glob(f"* - {stem} (#*) - SỬA LẠI.xlsx"))
    return found[-1].read_bytes() if found else share.layout.unit(drop.unit).template.read_bytes()


# ---------------------------------------------------------------- telling the story

KIND_NOTES = {
    ON_TIME: "",
    LATE: "nộp sau 08:00",
    MISTAKE: "Mức 1 gõ «{TK_MUC1}», Mức 2 giảm",
    CORRECTED: "nộp lại bản đã sửa",
}
TIMELINESS_VI = {"on_time": "đúng hạn", "late": "[yellow]TRỄ HẠN[/yellow]"}


def describe_record(campaign: Campaign, record: FileRecord, drop: Drop | None) -> str:
    """One Vietnamese line for a file the office received: time, unit, period, outcome, and why."""
    from forms.vi_format import format_number
    from processors.ledger import ACCEPTED, REFUSED

    unit = campaign.unit_by_code[record.folder_unit]
    period = campaign.period_by_code.get(record.period_code or "")
    head = f"{record.received_at:%H:%M}  {escape(unit.name):<13} kỳ {period.start:%d/%m}  " if period else ""
    if record.outcome == ACCEPTED:
        text = f"[green]ĐÃ NHẬN[/green], {TIMELINESS_VI.get(record.timeliness or '', '')}"
        if drop is not None:
            text += f", {format_number(sum(drop.values.values()))} tài khoản"
    elif record.outcome == REFUSED:
        cells = ", ".join(f.cell for f in record.findings if f.is_error and f.cell)
        text = f"[red]TRẢ LẠI[/red]: sai ô {cells}"
    else:
        text = "TRÙNG LẶP"
    note = KIND_NOTES[drop.kind].format_map(drop.values) if drop else ""
    return head + text + (f" [dim]({escape(note)})[/dim]" if note else "")


def tally(campaign: Campaign, records: list[FileRecord]) -> str:
    """The story's outcome in one Vietnamese sentence: files, accepted (late ones by unit), refused, silent units."""
    from collections import Counter

    from processors.ledger import ACCEPTED, LATE, REFUSED

    accepted = [r for r in records if r.outcome == ACCEPTED]
    late = Counter(r.folder_unit for r in accepted if r.timeliness == LATE)
    refused = sum(1 for r in records if r.outcome == REFUSED)
    reported = {r.folder_unit for r in records}
    silent = [u.name for u in campaign.reporting_units() if u.code not in reported]
    late_units = ", ".join(f"{campaign.unit_by_code[code].name} {n} lần" for code, n in late.items())
    text = (
        f"{len(records)} tệp: {len(accepted)} tiếp nhận ({sum(late.values())} trễ hạn: {late_units}), {refused} trả lại"
    )
    if silent:
        text += "; chưa nộp lần nào: " + ", ".join(silent)
    return text + "."


def say(console: Any, text: str, *, markup: bool = True) -> None:
    """Print one line unwrapped (paths and names must stay whole to be copied); ``markup=False`` for paths."""
    console.print(text, soft_wrap=True, markup=markup)


def run_demo(root: Path, key_file: Path | None, console: Any, progress: Callable[[], Any]) -> int:
    """Play the whole story into ``root`` and tell it on ``console`` (rich); ``progress()`` makes a progress bar."""
    from forms.signing import load_or_create_key
    from forms.vi_format import format_moment
    from processors.ledger import open_ledger

    say(
        console,
        "[bold]Minh họa chitieu[/bold]: bốn ngày cao điểm của Kế hoạch 142/KH-UBND tỉnh Sóc Trăng "
        f"({DAYS[0]:%d/%m}–{DAYS[-1]:%d/%m/%Y}), 11 đơn vị cấp huyện báo cáo hằng ngày, hạn 08:00 sáng hôm sau.",
    )
    key = load_or_create_key(key_file)
    try:
        with progress() as bar:
            task = bar.add_task("Đang tạo thư mục dùng chung, mẫu biểu", total=None)
            share = prepare(root, key, lambda done, total: bar.update(task, completed=done, total=total))
    except ShareError as err:
        say(console, f"[red]{escape(str(err))}[/red]")
        return 2
    layout = share.layout
    say(
        console,
        f"Thư mục dùng chung: {layout.root} ({len(share.manifest['units'])} đơn vị, mỗi đơn vị một mẫu biểu)",
        markup=False,
    )
    played = scenes(story(share.campaign))
    day = None
    with progress() as bar:
        task = bar.add_task("Các đơn vị nộp báo cáo", total=len(played))
        for drops in played:
            if drops[0].moment.date() != day:
                day = drops[0].moment.date()
                say(console, f"\n[bold]{day:%d/%m/%Y}[/bold]")
            scene = play_scene(share, key, drops)
            by_name = {(d.unit, d.name): d for d in drops}
            for record in scene.records:
                say(
                    console,
                    "  "
                    + describe_record(share.campaign, record, by_name.get((record.folder_unit, record.original_name))),
                )
            bar.advance(task)
    with open_ledger(layout.ledger) as ledger:
        records = ledger.files()
    say(console, f"\nKết quả: {tally(share.campaign, records)}")
    with fixed_clock(CLOSING):
        show_report(console, share)
    units = layout.units_root
    say(console, f"\n[bold]Xong[/bold] (đồng hồ minh họa dừng lúc {format_moment(CLOSING)}).")
    say(console, f"  Thư mục dùng chung:  {layout.root}", markup=False)
    say(console, f"  Sổ tổng hợp:         {layout.master}", markup=False)
    say(console, f"  Phiếu phản hồi:      {units}/<MÃ ĐƠN VỊ>/Phiếu phản hồi", markup=False)
    say(console, f"    (ví dụ: {layout.unit('MY_TU').receipts})", markup=False)
    say(console, f"  Bản gốc mọi tệp:     {layout.accepted_archive.parent}", markup=False)
    say(console, f"  Sổ cái:              {layout.ledger}", markup=False)
    return 0


def show_report(console: Any, share: Share) -> None:
    """The ranking and the reminder list of the last day, as the office sees them that evening."""
    from processors.report import load_report
    from processors.report_output import format_report_table

    period = share.campaign.period_by_code[f"N{DAYS[-1]:%Y%m%d}"]
    say(
        console,
        f"\n[bold]Xếp hạng và danh sách đôn đốc[/bold] kỳ «{escape(period.label)}» (như lệnh «chitieu report»):",
    )
    report = load_report(share, period=period.code, now=CLOSING)
    say(console, format_report_table(report, width=max(console.width, 120)).rstrip(), markup=False)
