"""Every wrong or hostile return of the intake issue, each through a real share and ``ingest_share``.

Each case follows the same story (``Bench.send``): the unit's return for day 18/07 is accepted
first, so the unit has recorded figures; then the case's file is dropped into the unit's
«Nộp báo cáo» together with a valid return of another unit, and one pass runs. The pass must
not crash, must answer the file with exactly one Vietnamese receipt that names it (and the
cell, for a cell finding), record the expected finding code, still accept the other unit's
return, empty the drop folder, keep the original byte for byte, and — unless the file is
accepted — leave the unit's recorded figures as they were.

Returns are the units' own signed templates filled with openpyxl through their defined names
(``KY_BAO_CAO``, ``NHAP_<code>``); a real LibreOffice clerk is in test_intake_e2e.py. The Sóc
Trăng sample is used wherever it has the feature; the small campaign of conftest.py for a
relation between indicators and a text indicator.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import unicodedata
from contextlib import closing
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from conftest import SMALL_CAMPAIGN_YAML
from intake_helpers import (
    KEY,
    SOC_TRANG,
    annotated_copy_of,
    assert_marked,
    cell_of,
    clone_share,
    codes,
    drop,
    effective,
    errors,
    fill,
    inbox_names,
    ingest,
    ledger,
    ledger_state,
    make_csv,
    make_encrypted,
    make_entity_attack,
    make_macro_workbook,
    make_ods,
    make_pdf,
    make_share,
    make_xls,
    make_zip_bomb,
    period_values,
    random_bytes,
    receipt_for,
    receipts,
    record_of,
    records,
    sample_yaml,
    warnings_of,
    write_definition,
)

from forms.layout import COL_VALUE, SHEET_GUIDE, SHEET_META, SHEET_REPORT, layout_template
from processors.ledger import ACCEPTED, DUPLICATE, REFUSED, FileRecord
from shared_folder_layout.share import Share, init_share

# Sóc Trăng: daily reports due 08:00 the next day, 7 more days accepted late.
DAY1, DAY2, DAY3, DAY4 = "Ngày 18/07/2023", "Ngày 19/07/2023", "Ngày 20/07/2023", "Ngày 21/07/2023"
SUMMARY = "Báo cáo kết quả cao điểm (18/7–18/8/2023)"
SOC_UNIT, SOC_OTHER, SOC_THIRD = "TP_SOC_TRANG", "TX_VINH_CHAU", "TX_NGA_NAM"
SOC_BASE = {"TK_MUC1": 1200, "TK_MUC2": 300}
M1_CELL, M2_CELL, PERIOD_CELL, TOTAL_CELL = "F10", "F11", "C6", "F12"

# The small campaign: daily reports due 17:00 the same day.
SMALL_BASE = {
    "TK_MUC1": 500,
    "TK_MUC2": 120,
    "HS_TONG": 200,
    "HS_TRUC_TUYEN": 80,
    "CKS_CAN_BO": 20,
    "SO_HOA": 0.85,
    "TIEN_DO": "Đang thực hiện",
    "KHO_KHAN": "Thiếu máy đọc căn cước gắn chíp.",
}


# ---------------------------------------------------------------- the bench


class Returns:
    """Returns filled from a share's templates, each made once (openpyxl takes tens of ms per file)."""

    def __init__(self, share: Share):
        self.share = share
        self.cache: dict[tuple, bytes] = {}

    def template(self, unit: str) -> bytes:
        """The unit's issued template, as on the share."""
        return self.share.layout.unit(unit).template.read_bytes()

    def __call__(self, unit: str, period: str | None, figures: dict[str, Any], **extra: Any) -> bytes:
        """The unit's template with ``period`` chosen and ``figures`` typed (None leaves a cell blank)."""
        key = (unit, period, *sorted((k, type(v).__name__, v) for k, v in figures.items()), repr(extra))
        if extra.get("edit") is not None or key not in self.cache:  # an edit function is not a cache key
            values = (
                period_values(period, **figures) if period is not None else {f"NHAP_{k}": v for k, v in figures.items()}
            )
            self.cache[key] = fill(self.template(unit), values, **extra)
        return self.cache[key]


@dataclass
class Bench:
    """A fresh share of one campaign, with what a case needs to tell its story."""

    share: Share
    returns: Returns
    monkeypatch: pytest.MonkeyPatch
    unit: str
    other: str
    base: dict[str, Any]
    now1: str  # the baseline is received on time for day 1
    now2: str  # the case and the other unit's day-2 return are received on time for day 2
    day1: str = DAY1
    day2: str = DAY2
    baseline: FileRecord | None = field(default=None, init=False)

    def filled(self, period: str | None = DAY2, unit: str | None = None, **figures: Any) -> bytes:
        """A return of ``unit`` (default: the case's unit) for ``period``, the base figures overridden by ``figures``."""
        return self.returns(unit or self.unit, period, {**self.base, **figures})

    def edited(self, period: str | None = DAY2, **extra: Any) -> bytes:
        """A base return whose workbook is changed further (``cells=`` or ``edit=`` of intake_helpers.fill)."""
        return self.returns(self.unit, period, dict(self.base), **extra)

    def accept_baseline(self) -> FileRecord:
        """The unit's day-1 return, received and accepted on time."""
        drop(self.share, self.unit, "Báo cáo ngày 18.xlsx", self.returns(self.unit, self.day1, self.base))
        ingest(self.share, self.monkeypatch, self.now1)
        self.baseline = record_of(self.share, self.unit, "Báo cáo ngày 18.xlsx")
        assert self.baseline.outcome == ACCEPTED and self.baseline.timeliness == "on_time"
        return self.baseline

    def send(
        self,
        name: str,
        data: bytes | None,
        *,
        folder: str | None = None,
        now: str | None = None,
        other_period: str | None = None,
        baseline: bool = True,
    ) -> FileRecord:
        """Drop ``data`` (None: a folder) as ``name`` next to another unit's valid return; one pass; the common checks."""
        folder = folder or self.unit
        if baseline and self.baseline is None:
            self.accept_baseline()
        rows, before = ledger_state(self.share)
        known = {r.id for r in rows}
        receipts_before = len(receipts(self.share, folder))
        drop(self.share, folder, name, data)
        other_name = "Báo cáo của đơn vị khác.xlsx"
        drop(self.share, self.other, other_name, self.filled(other_period or self.day2, unit=self.other))

        summary = ingest(self.share, self.monkeypatch, now or self.now2)  # never raises, whatever the file

        rows, after = ledger_state(self.share)
        new = [r for r in rows if r.id not in known]
        assert sorted((r.folder_unit, r.original_name) for r in new) == sorted(
            [(folder, name), (self.other, other_name)]
        )
        assert summary.total == 2 and summary.waiting == 0
        (record,) = [r for r in new if (r.folder_unit, r.original_name) == (folder, name)]
        (other,) = [r for r in new if r.folder_unit == self.other]
        assert other.outcome == ACCEPTED, errors(other)  # the batch went on
        receipt_for(self.share, record)  # exactly one, Vietnamese, BOM, names the file, the findings and cells
        receipt_for(self.share, other)
        assert len(receipts(self.share, folder)) == receipts_before + 1
        assert inbox_names(self.share, folder) == [] and inbox_names(self.share, self.other) == []
        kept = Path(record.archive_path)
        if data is None:
            assert kept.is_dir() and (kept / "Báo cáo.xlsx").is_file()  # the folder is kept whole
        else:
            assert hashlib.sha256(kept.read_bytes()).hexdigest() == record.sha256 == hashlib.sha256(data).hexdigest()
        if record.outcome != ACCEPTED:  # no unit's recorded figures changed, but for the other unit's new return
            assert {u: f for u, f in after.items() if u != self.other} == {
                u: f for u, f in before.items() if u != self.other
            }
        return record


@pytest.fixture(scope="session")
def soc_pristine(tmp_path_factory: pytest.TempPathFactory) -> Share:
    """A Sóc Trăng share nothing was ever dropped into, made once: each test works on a copy."""
    return make_share(tmp_path_factory.mktemp("soc_trang") / "share", SOC_TRANG / "ke_hoach.xlsx")


@pytest.fixture(scope="session")
def soc_returns(soc_pristine: Share) -> Returns:
    return Returns(soc_pristine)


@pytest.fixture
def soc(soc_pristine: Share, soc_returns: Returns, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Bench:
    """A fresh Sóc Trăng share (a copy of the pristine one) and its bench."""
    share = clone_share(soc_pristine, tmp_path / "share")
    return Bench(
        share, soc_returns, monkeypatch, SOC_UNIT, SOC_OTHER, SOC_BASE, "2023-07-19T07:00:00", "2023-07-20T07:00:00"
    )


@pytest.fixture(scope="session")
def small_pristine(tmp_path_factory: pytest.TempPathFactory) -> Share:
    base = tmp_path_factory.mktemp("small")
    return make_share(base / "share", write_definition(SMALL_CAMPAIGN_YAML, base / "ke_hoach.yaml"))


@pytest.fixture(scope="session")
def small_returns(small_pristine: Share) -> Returns:
    return Returns(small_pristine)


@pytest.fixture
def small(small_pristine: Share, small_returns: Returns, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Bench:
    """A fresh share of conftest's small campaign (a relation, a text indicator) and its bench."""
    share = clone_share(small_pristine, tmp_path / "share")
    return Bench(
        share,
        small_returns,
        monkeypatch,
        "PHUONG_1",
        "XA_DAI",
        SMALL_BASE,
        "2023-07-18T16:00:00",
        "2023-07-19T16:00:00",
    )


def test_the_cells_this_file_names_are_the_templates(soc_pristine: Share) -> None:
    template = soc_pristine.layout.unit(SOC_UNIT).template
    assert (cell_of(template, "NHAP_TK_MUC1"), cell_of(template, "NHAP_TK_MUC2")) == (M1_CELL, M2_CELL)
    assert cell_of(template, "KY_BAO_CAO") == PERIOD_CELL
    unit = soc_pristine.campaign.unit_by_code[SOC_UNIT]
    total = [c for c in layout_template(soc_pristine.campaign, unit).cells if c.key == "TK_TONG" and c.col == COL_VALUE]
    assert [c.ref for c in total] == [TOTAL_CELL]


def refused_with(record: FileRecord, code: str, cell: str | None = None) -> None:
    """The record is a refusal whose findings include ``code`` (at ``cell`` when given)."""
    assert record.outcome == REFUSED, (record.outcome, codes(record))
    assert record.timeliness is None
    assert code in codes(record), codes(record)
    if cell is not None:
        assert (code, cell) in errors(record), errors(record)


# ---------------------------------------------------------------- not a workbook at all


@pytest.mark.parametrize(
    ("name", "make", "code"),
    [
        ("Báo cáo.xls", make_xls, "wrong_type_xls"),
        ("Báo cáo Excel 97.xlsx", make_xls, "wrong_type_xls"),
        ("Báo cáo.ods", make_ods, "wrong_type_ods"),
        ("Báo cáo.csv", make_csv, "wrong_type_csv"),
        ("Báo cáo.pdf", make_pdf, "wrong_type_pdf"),
        ("Báo cáo.xlsx", random_bytes, "wrong_type"),
        ("Báo cáo rỗng.xlsx", lambda: b"", "empty_file"),
    ],
    ids=["xls", "xls-renamed", "ods", "csv", "pdf", "random-bytes", "empty"],
)
def test_not_an_xlsx(soc: Bench, name: str, make, code: str) -> None:
    record = soc.send(name, make())
    refused_with(record, code)
    assert codes(record) == [code]
    assert annotated_copy_of(soc.share, record) is None


def test_a_folder(soc: Bench) -> None:
    record = soc.send("Báo cáo tháng 7", None)
    refused_with(record, "not_a_file")


def test_password_protected(soc: Bench) -> None:
    refused_with(soc.send("Báo cáo có mật khẩu.xlsx", make_encrypted(soc.filled())), "encrypted")


@pytest.mark.parametrize("cut", ["half", "no_directory"])
def test_corrupt_or_truncated_zip(soc: Bench, cut: str) -> None:
    data = soc.filled()
    data = data[: len(data) // 2] if cut == "half" else data[:-30]
    refused_with(soc.send("Báo cáo chép dở.xlsx", data), "corrupt_zip")


def test_zip_bomb(soc: Bench) -> None:
    bomb = make_zip_bomb(soc.filled(), 200)
    assert len(bomb) < 2**20
    refused_with(soc.send("Báo cáo.xlsx", bomb), "zip_bomb")


@pytest.mark.parametrize("part", ["xl/worksheets/sheet1.xml", "xl/workbook.xml", "xl/sharedStrings.xml"])
def test_xml_entity_expansion(soc: Bench, part: str) -> None:
    refused_with(soc.send("Báo cáo.xlsx", make_entity_attack(soc.filled(), part)), "xml_entities")


@pytest.mark.parametrize("name", ["Báo cáo.xlsm", "Báo cáo có macro.xlsx"])
def test_macro_enabled_workbook(soc: Bench, name: str) -> None:
    refused_with(soc.send(name, make_macro_workbook(soc.filled())), "macro_enabled")


# ---------------------------------------------------------------- the wrong template


@pytest.fixture(scope="session")
def other_campaign_return(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """TP Sóc Trăng's filled template of another campaign (same units, code SOC_TRANG_2024)."""
    base = tmp_path_factory.mktemp("other_campaign")
    text = sample_yaml(**{"code: SOC_TRANG_2023": "code: SOC_TRANG_2024"})
    share = make_share(base / "share", write_definition(text, base / "ke_hoach.yaml"))
    return Returns(share)(SOC_UNIT, DAY2, SOC_BASE)


def test_another_campaigns_template(soc: Bench, other_campaign_return: bytes) -> None:
    refused_with(soc.send("Báo cáo.xlsx", other_campaign_return), "other_campaign")


def test_another_units_template_in_the_wrong_folder(soc: Bench) -> None:
    theirs = soc.filled(unit=SOC_THIRD)
    record = soc.send("Báo cáo Ngã Năm.xlsx", theirs)
    refused_with(record, "wrong_folder")
    assert record.folder_unit == SOC_UNIT and record.unit_code == SOC_THIRD
    assert effective(soc.share, SOC_THIRD) == {}
    assert receipts(soc.share, SOC_THIRD) == []  # answered in the folder it was dropped into


def test_old_template_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    definition = write_definition(sample_yaml(), tmp_path / "ke_hoach.yaml")
    share = make_share(tmp_path / "share", definition)
    old = Returns(share)(SOC_UNIT, DAY2, SOC_BASE)  # filled from the version 1 template
    write_definition(sample_yaml(**{"template_version: 1": "template_version: 2"}), definition)
    share = init_share(tmp_path / "share", definition, KEY)
    assert share.manifest["template_version"] == 2
    bench = Bench(
        share, Returns(share), monkeypatch, SOC_UNIT, SOC_OTHER, SOC_BASE, "2023-07-19T07:00:00", "2023-07-20T07:00:00"
    )
    record = bench.send("Báo cáo mẫu cũ.xlsx", old)
    refused_with(record, "old_template")
    assert record.template_version == 1


@pytest.mark.parametrize(
    ("cell", "value"),
    [("D12", 5080), ("E12", 1), ("D12", None), ("B10", "Số tài khoản mức 1"), ("C4", "TX Vĩnh Châu")],
    ids=["target", "daily-target", "target-cleared", "indicator-label", "unit-name"],
)
def test_changed_target_or_label(soc: Bench, cell: str, value: Any) -> None:
    record = soc.send("Báo cáo.xlsx", soc.edited(cells={(SHEET_REPORT, cell): value}))
    refused_with(record, "tampered", cell)
    assert_marked(soc.share, record, cell)
    assert "None" not in receipt_for(soc.share, record).text  # an emptied cell is shown in Vietnamese


def _remove_sheet(sheet: str):
    return lambda book: book.remove(book[sheet])


def test_missing_report_sheet(soc: Bench) -> None:
    record = soc.send("Báo cáo.xlsx", soc.edited(edit=_remove_sheet(SHEET_REPORT)))
    refused_with(record, "missing_sheet")
    assert codes(record) == ["missing_sheet"]  # one finding, not one per issued cell


def test_missing_identity_sheet(soc: Bench) -> None:
    refused_with(soc.send("Báo cáo.xlsx", soc.edited(edit=_remove_sheet(SHEET_META))), "not_our_template")


def test_missing_defined_name(soc: Bench) -> None:
    record = soc.send("Báo cáo.xlsx", soc.edited(edit=lambda book: book.defined_names.pop("NHAP_TK_MUC2")))
    refused_with(record, "missing_name")


# ---------------------------------------------------------------- wrong figures


@pytest.mark.parametrize(
    ("typed", "code", "suggestion"),
    [
        ("năm mươi", "not_a_number", None),
        (-5, "negative", None),
        (12.5, "fractional_count", None),
        ("50.802", "thousands_text", 50802),
        (50.802, "fractional_count", 50802),
    ],
    ids=["text", "negative", "fractional", "thousands-as-text", "thousands-as-number"],
)
def test_wrong_count(soc: Bench, typed: Any, code: str, suggestion: int | None) -> None:
    record = soc.send("Báo cáo.xlsx", soc.filled(TK_MUC1=typed))
    refused_with(record, code, M1_CELL)
    finding = next(f for f in record.findings if f.code == code)
    assert finding.value == typed
    if suggestion is not None:
        assert str(suggestion) in finding.hint
        assert str(suggestion) in receipt_for(soc.share, record).text
    assert_marked(soc.share, record, M1_CELL)


def test_formula_typed_in_an_input_cell(soc: Bench) -> None:
    data = soc.edited(formulas={"TK_MUC1": "=1000+250"})
    record = soc.send("Báo cáo.xlsx", data)
    refused_with(record, "formula_in_input", M1_CELL)
    assert_marked(soc.share, record, M1_CELL)


def test_cumulative_figure_below_the_last_accepted(soc: Bench) -> None:
    record = soc.send("Báo cáo.xlsx", soc.filled(TK_MUC1=SOC_BASE["TK_MUC1"] - 1))
    refused_with(record, "cumulative_decrease", M1_CELL)
    assert_marked(soc.share, record, M1_CELL)


def test_relation_violated(small: Bench) -> None:
    record = small.send("Báo cáo.xlsx", small.filled(HS_TRUC_TUYEN=250, HS_TONG=200))
    cell = cell_of(small.returns.template(small.unit), "NHAP_HS_TRUC_TUYEN")
    refused_with(record, "relation_violated", cell)
    assert_marked(small.share, record, cell)


# ---------------------------------------------------------------- periods


def test_no_period_chosen(soc: Bench) -> None:
    record = soc.send("Báo cáo.xlsx", soc.filled(period=None))
    refused_with(record, "no_period", PERIOD_CELL)
    assert_marked(soc.share, record, PERIOD_CELL)


def test_closed_period(soc: Bench) -> None:
    period = soc.share.campaign.period_by_label[DAY2]
    closes = period.closes_at(soc.share.campaign.info.late_days)
    now = (closes + timedelta(minutes=1)).replace(tzinfo=None).isoformat()
    record = soc.send("Báo cáo.xlsx", soc.filled(), now=now, other_period=SUMMARY)
    refused_with(record, "period_closed", PERIOD_CELL)


def test_period_not_yet_open(soc: Bench) -> None:
    record = soc.send("Báo cáo.xlsx", soc.filled(period="Ngày 25/07/2023"))
    refused_with(record, "period_not_open", PERIOD_CELL)


@pytest.mark.parametrize("typed", ["Ngày 19/7/2023", "ngày 19/07/2023 ", "19/07/2023"])
def test_period_typed_by_hand_that_is_not_in_the_plan(soc: Bench, typed: str) -> None:
    record = soc.send("Báo cáo.xlsx", soc.filled(period=typed))
    refused_with(record, "unknown_period", PERIOD_CELL)


def test_late_or_on_time_by_the_recorded_arrival_not_the_files_dates(soc: Bench) -> None:
    campaign = soc.share.campaign
    deadline = campaign.period_by_label[DAY2].deadline

    def dated(unit: str, when) -> bytes:
        def stamp(book: openpyxl.Workbook) -> None:
            book.properties.created = book.properties.modified = when.replace(tzinfo=None)

        return soc.returns(unit, DAY2, SOC_BASE, edit=stamp)

    # Arrives (by the office's clock) before the deadline, though the file says it was made after it.
    after = deadline + timedelta(days=3)
    drop(soc.share, SOC_UNIT, "Báo cáo.xlsx", dated(SOC_UNIT, after), mtime=after.timestamp())
    ingest(soc.share, soc.monkeypatch, (deadline - timedelta(hours=1)).replace(tzinfo=None).isoformat())
    # Arrives after the deadline, though the file and its modification time say before.
    before = deadline - timedelta(days=1)
    drop(soc.share, SOC_OTHER, "Báo cáo.xlsx", dated(SOC_OTHER, before), mtime=before.timestamp())
    ingest(soc.share, soc.monkeypatch, (deadline + timedelta(hours=1)).replace(tzinfo=None).isoformat())

    on_time, late = record_of(soc.share, SOC_UNIT, "Báo cáo.xlsx"), record_of(soc.share, SOC_OTHER, "Báo cáo.xlsx")
    assert (on_time.outcome, on_time.timeliness) == (ACCEPTED, "on_time")
    assert (late.outcome, late.timeliness) == (ACCEPTED, "late")
    assert on_time.received_at == deadline - timedelta(hours=1)
    assert late.received_at == deadline + timedelta(hours=1)
    assert receipt_for(soc.share, on_time).text != receipt_for(soc.share, late).text


# ---------------------------------------------------------------- size and names


@pytest.mark.parametrize("far", ["A1048576", "XFD1"], ids=["far-row", "far-column"])
def test_very_large_sheet(soc: Bench, far: str) -> None:
    record = soc.send("Báo cáo.xlsx", soc.edited(cells={(SHEET_GUIDE, far): 1}))
    refused_with(record, "very_large_sheet")


LONG_VIETNAMESE = (
    "Báo cáo kết quả thực hiện cao điểm vận động kích hoạt tài khoản định danh điện tử "
    "của Công an thành phố Sóc Trăng ngày 19 tháng 7 năm 2023 (bản cuối).xlsx"
)


@pytest.mark.parametrize(
    "name",
    [
        "Copy of Báo cáo ngày 19.xlsx",
        "Báo cáo ngày 19 (1).xlsx",
        "Copy of Copy of Báo cáo (2) (1).xlsx",
        "BÁO CÁO NGÀY 19.XLSX",
        LONG_VIETNAMESE,
        unicodedata.normalize("NFD", "Báo cáo Phường 3 – Đợt 2.xlsx"),  # as a Mac writes names
        "ệ" * 83 + ".xlsx",  # 254 bytes: the longest name a Linux share can hold
        "📊" * 62 + ".xlsx",  # 253 bytes of four-byte characters
    ],
    ids=["copy-of", "numbered", "copy-of-numbered", "upper-case", "long-vietnamese", "nfd", "max-bytes", "emoji"],
)
def test_untidy_file_names_are_accepted_normally(soc: Bench, name: str) -> None:
    assert len(name.encode("utf-8")) <= 255
    record = soc.send(name, soc.filled(TK_MUC1=1300, TK_MUC2=320))
    assert (record.outcome, record.timeliness, record.findings) == (ACCEPTED, "on_time", ())
    assert effective(soc.share, SOC_UNIT)[("N20230719", "TK_MUC1")] == 1300


# ---------------------------------------------------------------- sent again, corrected, history


@pytest.mark.parametrize("name", ["Báo cáo ngày 18.xlsx", "Báo cáo ngày 18 (gửi lại).xlsx"])
def test_same_bytes_twice_is_a_duplicate(soc: Bench, name: str) -> None:
    first = soc.accept_baseline()
    record = soc.send(name, soc.returns(SOC_UNIT, DAY1, SOC_BASE))
    assert record.outcome == DUPLICATE and record.duplicate_of == first.id
    assert record.sha256 == first.sha256
    assert effective(soc.share, SOC_UNIT) == {("N20230718", "TK_MUC1"): 1200, ("N20230718", "TK_MUC2"): 300}
    with ledger(soc.share) as book:
        assert book.find_file(first.id).is_effective


def test_same_bytes_twice_in_one_pass(soc: Bench) -> None:
    data = soc.filled()
    drop(soc.share, SOC_UNIT, "Báo cáo.xlsx", data)
    drop(soc.share, SOC_UNIT, "Copy of Báo cáo.xlsx", data)
    summary = ingest(soc.share, soc.monkeypatch, soc.now2)
    assert (summary.accepted, summary.duplicate, summary.refused) == (1, 1, 0)
    first, again = (
        record_of(soc.share, SOC_UNIT, "Báo cáo.xlsx"),
        record_of(soc.share, SOC_UNIT, "Copy of Báo cáo.xlsx"),
    )
    assert (first.outcome, again.outcome, again.duplicate_of) == (ACCEPTED, DUPLICATE, first.id)
    assert effective(soc.share, SOC_UNIT) == {("N20230719", "TK_MUC1"): 1200, ("N20230719", "TK_MUC2"): 300}
    receipt_for(soc.share, first)
    receipt_for(soc.share, again)
    assert len(receipts(soc.share, SOC_UNIT)) == 2 and inbox_names(soc.share, SOC_UNIT) == []


def test_a_corrected_file_supersedes_the_earlier_one_and_history_is_kept(soc: Bench) -> None:
    first = soc.accept_baseline()
    record = soc.send("Báo cáo ngày 18 (sửa).xlsx", soc.filled(DAY1, TK_MUC1=1250, TK_MUC2=310))
    assert (record.outcome, record.timeliness, record.findings) == (ACCEPTED, "late", ())
    assert effective(soc.share, SOC_UNIT) == {("N20230718", "TK_MUC1"): 1250, ("N20230718", "TK_MUC2"): 310}
    with ledger(soc.share) as book:
        earlier = book.find_file(first.id)
        assert earlier.outcome == ACCEPTED and earlier.superseded_by == record.id
        assert book.figures_of(first.id) == {"TK_MUC1": 1200, "TK_MUC2": 300}  # kept, no longer effective
        assert [r.id for r in book.files(unit_code=SOC_UNIT)] == [first.id, record.id]
    assert Path(earlier.archive_path).read_bytes() == soc.returns(SOC_UNIT, DAY1, SOC_BASE)


def test_a_jump_far_beyond_history_is_accepted_with_a_warning(soc: Bench) -> None:
    soc.accept_baseline()  # 1200 on day 1
    for day, m1, now in ((DAY2, 1300, "2023-07-20T07:00:00"), (DAY3, 1400, "2023-07-21T07:00:00")):
        drop(soc.share, SOC_UNIT, f"{day}.xlsx".replace("/", "-"), soc.filled(day, TK_MUC1=m1))
        ingest(soc.share, soc.monkeypatch, now)
    record = soc.send("Báo cáo ngày 21.xlsx", soc.filled(DAY4, TK_MUC1=9400), now="2023-07-22T07:00:00")
    assert record.outcome == ACCEPTED
    assert warnings_of(record) == [("unusual_jump", M1_CELL)]
    assert effective(soc.share, SOC_UNIT)[("N20230721", "TK_MUC1")] == 9400


def test_a_figure_above_target_is_accepted_with_a_warning(soc: Bench) -> None:
    # TP Sóc Trăng's target is 50.802 accounts, Mức 1 + Mức 2.
    record = soc.send("Báo cáo.xlsx", soc.filled(TK_MUC1=48000, TK_MUC2=3000))
    assert record.outcome == ACCEPTED
    assert warnings_of(record) == [("above_target", TOTAL_CELL)]
    assert effective(soc.share, SOC_UNIT)[("N20230719", "TK_MUC1")] == 48000


# ---------------------------------------------------------------- text is data


@pytest.mark.parametrize(
    "text",
    ['=HYPERLINK("http://vi-du.invalid","Bấm vào đây")', "+84 912 345 678", "-10 hộ chưa có CCCD", "@SUM(A1:A9)"],
    ids=["equals", "plus", "minus", "at"],
)
def test_text_that_looks_like_a_formula_is_text(small: Bench, text: str) -> None:
    record = small.send("Báo cáo.xlsx", small.filled(KHO_KHAN=text))
    assert (record.outcome, record.findings) == (ACCEPTED, ())
    with ledger(small.share) as book:
        assert book.figures_of(record.id)["KHO_KHAN"] == text
    with closing(sqlite3.connect(f"{small.share.layout.ledger.as_uri()}?mode=ro", uri=True)) as db:  # as stored
        stored = db.execute(
            "SELECT value_num, value_text FROM figures WHERE file_id = ? AND indicator = 'KHO_KHAN'", (record.id,)
        ).fetchone()
    assert stored == (None, text)
    label = small.share.campaign.indicator_by_code["KHO_KHAN"].name
    assert f"{label}: {text}\r\n" in receipt_for(small.share, record).text


def test_text_that_looks_like_a_formula_stays_text_in_the_marked_up_copy(small: Bench) -> None:
    text = '=HYPERLINK("http://vi-du.invalid","Bấm vào đây")'
    record = small.send("Báo cáo.xlsx", small.filled(KHO_KHAN=text, TK_MUC1=-5))
    refused_with(record, "negative", cell_of(small.returns.template(small.unit), "NHAP_TK_MUC1"))
    copy = annotated_copy_of(small.share, record)
    sheet = openpyxl.load_workbook(copy)[SHEET_REPORT]
    kept = sheet[cell_of(small.returns.template(small.unit), "NHAP_KHO_KHAN")]
    assert (kept.value, kept.data_type) == (text, "s")


@pytest.mark.skipif(os.name == "nt", reason="POSIX file names are bytes")
def test_a_file_name_that_is_not_utf8(soc: Bench) -> None:
    name = "Báo cáo ngày 19.xlsx".encode("cp1258")  # made under a Windows code page, e.g. unpacked from a zip
    inbox = os.fsencode(soc.share.layout.unit(SOC_OTHER).inbox)
    try:
        with open(os.path.join(inbox, name), "wb") as fh:
            fh.write(soc.filled(unit=SOC_OTHER, TK_MUC1=777))
    except OSError:
        pytest.skip("this file system refuses names that are not UTF-8")
    os.utime(os.path.join(inbox, name), (1_600_000_000, 1_600_000_000))
    record = soc.send("Báo cáo.xlsx", soc.filled(TK_MUC1=1300))  # the odd name is answered by the first pass
    assert record.outcome == ACCEPTED
    (odd,) = [r for r in records(soc.share) if r.folder_unit == SOC_OTHER and "\ufffd" in r.original_name]
    assert odd.outcome == ACCEPTED and odd.original_name == "B\ufffdo c\ufffdo ng\ufffdy 19.xlsx"
    receipt_for(soc.share, odd)
    assert inbox_names(soc.share, SOC_OTHER) == []


# ---------------------------------------------------------------- left alone


def test_lock_and_temp_files_are_skipped_and_left_alone(soc: Bench) -> None:
    leftovers = {
        "~$Báo cáo.xlsx": b"\x00clerk",
        ".~lock.Báo cáo.xlsx#": b"clerk,host,01.01.2023;",
        "~WRL0001.tmp": b"x",
    }
    for name, data in leftovers.items():
        drop(soc.share, SOC_UNIT, name, data)
    drop(soc.share, SOC_UNIT, "Báo cáo.xlsx", soc.filled())
    summary = ingest(soc.share, soc.monkeypatch, soc.now2)
    assert summary.total == 1
    assert [r.original_name for r in records(soc.share)] == ["Báo cáo.xlsx"]
    assert inbox_names(soc.share, SOC_UNIT) == sorted(leftovers)
    for name, data in leftovers.items():
        assert (soc.share.layout.unit(SOC_UNIT).inbox / name).read_bytes() == data
    assert len(receipts(soc.share, SOC_UNIT)) == 1
