"""``chitieu demo``: the whole story played on a real share, checked in the ledger, the receipts and the master."""

from __future__ import annotations

import contextlib
import io
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from python_calamine import CalamineWorkbook

from processors.cli import main
from processors.demo import (
    CORRECTED,
    HABITS,
    LATE,
    MARKER,
    MISTAKE,
    SAMPLE_PLAN,
    SHARE_DIR,
    cumulative,
    story,
)
from processors.ledger import ACCEPTED, REFUSED, FileRecord, open_ledger
from shared_folder_layout.layout import ShareLayout

SILENT = "CU_LAO_DUNG"  # never reports
FIXER = "MY_TU"  # refused on 19/07, then sends the corrected file
ALWAYS_LATE = "TX_NGA_NAM"
STOPS = "LONG_PHU"  # misses 21/07


@dataclass(frozen=True)
class Played:
    """One run of ``chitieu demo``: exit code, what it printed, the share and every ledger record."""

    code: int
    out: str
    layout: ShareLayout
    records: list[FileRecord]
    figures: list[dict]


def play(root: Path, key: Path) -> Played:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["demo", str(root), "--key", str(key)])
    layout = ShareLayout((root / SHARE_DIR).resolve())
    records, figures = [], []
    if layout.ledger.exists():
        with open_ledger(layout.ledger) as ledger:
            records, figures = ledger.files(), ledger.effective_figures()
    return Played(code, out.getvalue(), layout, records, figures)


@pytest.fixture(scope="module")
def played(tmp_path_factory: pytest.TempPathFactory) -> Played:
    base = tmp_path_factory.mktemp("demo")
    return play(base / "chitieu_demo", base / "secret.key")


def of_unit(played: Played, unit: str) -> list[FileRecord]:
    return [r for r in played.records if r.folder_unit == unit]


def test_the_demo_ends_well_and_says_where_everything_is(played: Played) -> None:
    assert played.code == 0
    layout = played.layout
    for what, path in (
        ("Thư mục dùng chung", layout.root),
        ("Sổ tổng hợp", layout.master),
        ("Phiếu phản hồi", layout.units_root),
    ):
        line = next(line for line in played.out.splitlines() if line.strip().startswith(what))
        assert str(path) in line, line


def test_every_unit_but_one_reports_and_most_files_are_on_time(played: Played) -> None:
    reporting = {u for u in HABITS if u != SILENT}
    assert {r.folder_unit for r in played.records} == reporting
    assert of_unit(played, SILENT) == []
    accepted = [r for r in played.records if r.outcome == ACCEPTED]
    assert sum(r.timeliness == "on_time" for r in accepted) > sum(r.timeliness == "late" for r in accepted) > 0
    assert {r.timeliness for r in of_unit(played, ALWAYS_LATE)} == {"late"}
    assert "N20230721" not in {r.period_code for r in of_unit(played, STOPS)}
    assert "Cù Lao Dung" in played.out


def test_a_file_with_mistakes_is_refused_then_sent_again_corrected(played: Played) -> None:
    day = [r for r in of_unit(played, FIXER) if r.period_code == "N20230719"]
    assert [r.outcome for r in day] == [REFUSED, ACCEPTED]
    refused, fixed = day
    assert {(f.code, f.cell) for f in refused.findings if f.is_error} == {
        ("thousands_text", "F10"),
        ("cumulative_decrease", "F11"),
    }
    assert fixed.received_at > refused.received_at and fixed.timeliness == "on_time"
    receipts = played.layout.unit(FIXER).receipts
    (copy,) = receipts.glob(f"* (#{refused.id}) - SỬA LẠI.xlsx")
    assert copy.is_file()
    effective = {
        f["indicator"]: f["value"]
        for f in played.figures
        if f["unit_code"] == FIXER and f["period_code"] == "N20230719"
    }
    level_1, level_2 = cumulative(_campaign(), FIXER, 1)
    assert (effective["TK_MUC1"], effective["TK_MUC2"]) == (level_1, level_2)


def test_every_file_has_its_receipt_and_its_archived_original(played: Played) -> None:
    assert len(played.records) == len(story(_campaign()))
    for record in played.records:
        folder = played.layout.unit(record.folder_unit).receipts
        (receipt,) = folder.glob(f"* (#{record.id}).txt")
        text = receipt.read_bytes().decode("utf-8-sig")
        assert ("ĐÃ TIẾP NHẬN" if record.outcome == ACCEPTED else "TRẢ LẠI") in text
        assert Path(record.archive_path).is_file()
        assert list(played.layout.unit(record.folder_unit).inbox.iterdir()) == []


def test_the_master_holds_every_file(played: Played) -> None:
    master = played.layout.master
    with zipfile.ZipFile(master) as book:
        assert "xl/vbaProject.bin" in book.namelist()
    book = CalamineWorkbook.from_path(str(master))
    assert {"Dữ liệu", "Nhật ký"} <= set(book.sheet_names)
    logged = {str(cell) for row in book.get_sheet_by_name("Nhật ký").to_python() for cell in row}
    assert {r.original_name for r in played.records} <= logged


def test_the_output_shows_the_ranking_and_the_reminders(played: Played) -> None:
    from processors.demo import CLOSING
    from processors.report import load_report
    from shared_folder_layout.share import open_share

    report = load_report(open_share(played.layout.root), period="N20230721", now=CLOSING)
    assert set(report.reminders["unit"]) == {SILENT, STOPS, ALWAYS_LATE}
    ranked = report.units.dropna(subset=["rank"]).sort_values("rank")
    assert ranked.iloc[0]["code"] == "MY_XUYEN"  # the fastest pace of the story
    text = played.out.lower()
    assert "xếp hạng" in text
    reminders = text[text.index("đôn đốc") :]
    for name in ("Cù Lao Dung", "Long Phú", "TX Ngã Năm"):
        assert name.lower() in reminders
    table = text[text.rindex("xếp hạng") :]  # the ranking table, best first
    assert table.index("mỹ xuyên") < table.index("trần đề") < table.index("cù lao dung")


def test_the_story_is_plausible() -> None:
    drops = story(_campaign())
    assert [d.moment for d in drops] == sorted(d.moment for d in drops)
    assert {d.kind for d in drops} >= {LATE, MISTAKE, CORRECTED}
    for unit in HABITS:
        sent = [d for d in drops if d.unit == unit and d.kind != MISTAKE]
        totals = [d.values["TK_MUC1"] + d.values["TK_MUC2"] for d in sent]
        assert totals == sorted(totals), unit  # cumulative figures never go down
        for d in sent:  # every report is made within a day of its period, or the next morning
            assert 0 <= (d.moment.date() - d.period.start).days <= 1


def test_running_again_replaces_the_demo_share(played: Played, tmp_path: Path) -> None:
    root = tmp_path / "chitieu_demo"
    shutil.copytree(played.layout.root.parent, root)  # a demo folder as the first run left it
    again = play(root, tmp_path / "secret.key")
    assert again.code == 0
    shape = [(r.folder_unit, r.original_name, r.outcome, r.timeliness, r.received_at) for r in again.records]
    assert shape == [(r.folder_unit, r.original_name, r.outcome, r.timeliness, r.received_at) for r in played.records]


def test_a_folder_the_demo_did_not_make_is_left_alone(tmp_path: Path) -> None:
    keep = tmp_path / SHARE_DIR / "quan_trong.txt"
    keep.parent.mkdir()
    keep.write_text("không được xóa", encoding="utf-8")
    result = play(tmp_path, tmp_path / "secret.key")
    assert result.code == 2
    assert keep.read_text(encoding="utf-8") == "không được xóa"
    assert not (tmp_path / MARKER).exists()


def _campaign():
    from forms.loader import load_campaign

    return load_campaign(SAMPLE_PLAN)
