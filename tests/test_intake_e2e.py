"""Acceptance test of intake: clerks fill their templates in LibreOffice, drop them with junk, and ``chitieu ingest`` answers.

``chitieu init`` makes a share from the Sóc Trăng sample; a real LibreOffice (headless, one start
for every clerk) fills several units' templates by their defined names and saves them as .xlsx,
one of them with a mistake; the drop folders also get a PDF, random bytes, an empty file, a
folder, another unit's template, «Copy of …» and «… (1)» names, a long Vietnamese name and the
lock files an open workbook leaves behind. Then ``chitieu ingest`` runs (the office clock set by
``CHITIEU_NOW``) and the ledger, the archive, the receipts and the drop folders are checked; a
second run records nothing new.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from clerk.libreoffice import FillJob, fill_many_with_libreoffice, require_libreoffice
from intake_helpers import (
    SOC_TRANG,
    annotated_copies,
    assert_marked,
    effective,
    errors,
    inbox_names,
    ledger,
    make_pdf,
    moment,
    random_bytes,
    receipt_for,
    receipts,
)

from processors.cli import main
from processors.ledger import ACCEPTED, REFUSED
from shared_folder_layout.share import Share, open_share

pytestmark = pytest.mark.libreoffice

NOW = "2023-07-19T07:30:00"  # before 08:00 on 19/07, the deadline of day 18/07
DAY = "Ngày 18/07/2023"
LONG_NAME = (
    "Báo cáo kết quả thực hiện cao điểm vận động kích hoạt tài khoản định danh điện tử "
    "của Công an huyện Châu Thành ngày 18 tháng 7 năm 2023 (bản chính thức đã ký).xlsx"
)
LOCK_FILES = {
    "~$Báo cáo ngày 18-07-2023.xlsx": b"\x0cNguyen Van A" + bytes(150),  # Excel's owner file
    ".~lock.Báo cáo ngày 18-07-2023.xlsx#": "Nguyễn Văn A,may-tinh-pc06,may-tinh-pc06,18.07.2023 17:02,file:///home/a/.config/libreoffice/4;".encode(),
}

# What each clerk types (Mức 1, Mức 2) into the own template, the file's name, and into which folder it goes.
CLERKS = [
    # (template of, drop folder, file name, Mức 1, Mức 2)
    ("TP_SOC_TRANG", "TP_SOC_TRANG", "Báo cáo ngày 18-07-2023.xlsx", 1200, 350),
    ("TX_VINH_CHAU", "TX_VINH_CHAU", "Copy of Báo cáo ngày 18-07-2023.xlsx", 2100, 640),
    ("TX_NGA_NAM", "TX_NGA_NAM", "Báo cáo ngày 18-07-2023 (1).xlsx", 870, 215),
    ("CHAU_THANH", "CHAU_THANH", LONG_NAME, 1415, 402),
    ("KE_SACH", "KE_SACH", "BC KE SACH 18.7.xlsx", 2306, 733),
    ("CU_LAO_DUNG", "CU_LAO_DUNG", "Báo cáo Cù Lao Dung.xlsx", {"typed": "50.802"}, 120),  # the mistake
    ("KE_SACH", "LONG_PHU", "Báo cáo Kế Sách gửi nhầm.xlsx", 2306, 733),  # another unit's template
]
ACCEPTED_FILES = {("TP_SOC_TRANG", 1200, 350), ("TX_VINH_CHAU", 2100, 640), ("TX_NGA_NAM", 870, 215)}
ACCEPTED_FILES |= {("CHAU_THANH", 1415, 402), ("KE_SACH", 2306, 733)}


@pytest.fixture(scope="module", autouse=True)
def libreoffice() -> None:
    """Skip on a developer machine without LibreOffice; in CI its absence is a failure."""
    require_libreoffice()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def ingest(share_dir: Path, key: Path) -> None:
    assert main(["ingest", str(share_dir), "--key", str(key), "--settle", "0"]) == 0


def snapshot(share: Share) -> dict[str, list[str]]:
    """Every file under the units' folders and the archive, for comparing two runs."""
    roots = {"units": share.layout.units_root, "archive": share.layout.accepted_archive.parent}
    return {label: sorted(str(p.relative_to(root)) for p in root.rglob("*")) for label, root in roots.items()}


def test_clerks_in_libreoffice_and_hostile_files_all_answered_exactly_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    share_dir, key = tmp_path / "Thư mục dùng chung", tmp_path / "khoa" / "secret.key"
    assert main(["init", str(share_dir), "--campaign", str(SOC_TRANG / "ke_hoach.xlsx"), "--key", str(key)]) == 0
    share = open_share(share_dir)

    # The clerks: one LibreOffice for all of them, each saving the own (or, once, a neighbour's) template.
    staging = tmp_path / "may_cua_can_bo"
    jobs = [
        FillJob(
            share.layout.unit(owner).template,
            staging / f"{n}.xlsx",
            {"KY_BAO_CAO": DAY, "NHAP_TK_MUC1": m1, "NHAP_TK_MUC2": m2},
        )
        for n, (owner, _folder, _name, m1, m2) in enumerate(CLERKS)
    ]
    jobs.append(FillJob(share.layout.unit("TRAN_DE").template, staging / "tran_de.xlsx", {"KY_BAO_CAO": DAY}))
    reports = fill_many_with_libreoffice(jobs)
    assert all(r["ok"] for r in reports)

    dropped: dict[tuple[str, str], bytes] = {}
    for n, (_owner, folder, name, _m1, _m2) in enumerate(CLERKS):
        dropped[(folder, name)] = (staging / f"{n}.xlsx").read_bytes()
    dropped[("MY_TU", "Báo cáo ngày 18.pdf")] = make_pdf()
    dropped[("MY_XUYEN", "Báo cáo.xlsx")] = random_bytes(20_000)
    dropped[("THANH_TRI", "Báo cáo ngày 18 (1).xlsx")] = b""
    for (folder, name), data in dropped.items():
        (share.layout.unit(folder).inbox / name).write_bytes(data)
    folder_drop = share.layout.unit("TRAN_DE").inbox / "Báo cáo tháng 7"
    folder_drop.mkdir()
    inner = (staging / "tran_de.xlsx").read_bytes()
    (folder_drop / "TRAN_DE.xlsx").write_bytes(inner)
    for name, data in LOCK_FILES.items():  # TP Sóc Trăng's clerk still has the workbook open
        (share.layout.unit("TP_SOC_TRANG").inbox / name).write_bytes(data)

    monkeypatch.setenv("CHITIEU_NOW", NOW)
    ingest(share_dir, key)

    # The ledger: one row per file, the right outcome, the typed figures of accepted files.
    with ledger(share) as book:
        rows = book.files()
    by_name = {(r.folder_unit, r.original_name): r for r in rows}
    assert len(rows) == len(by_name) == len(dropped) + 1
    assert set(by_name) == set(dropped) | {("TRAN_DE", "Báo cáo tháng 7")}
    for record in rows:
        assert record.received_at == moment(NOW)
    accepted = {(r.folder_unit, r.id) for r in rows if r.outcome == ACCEPTED}
    assert {unit for unit, _ in accepted} == {unit for unit, _m1, _m2 in ACCEPTED_FILES}
    with ledger(share) as book:
        for unit, m1, m2 in ACCEPTED_FILES:
            (record,) = [r for r in rows if r.folder_unit == unit and r.outcome == ACCEPTED]
            assert (record.unit_code, record.period_code, record.timeliness) == (unit, "N20230718", "on_time")
            assert record.findings == ()
            assert book.figures_of(record.id) == {"TK_MUC1": m1, "TK_MUC2": m2}
            assert effective(share, unit) == {("N20230718", "TK_MUC1"): m1, ("N20230718", "TK_MUC2"): m2}
    expected_refusals = {
        ("CU_LAO_DUNG", "Báo cáo Cù Lao Dung.xlsx"): [("fractional_count", "F10")],
        ("LONG_PHU", "Báo cáo Kế Sách gửi nhầm.xlsx"): [("wrong_folder", None)],
        ("MY_TU", "Báo cáo ngày 18.pdf"): [("wrong_type_pdf", None)],
        ("MY_XUYEN", "Báo cáo.xlsx"): [("wrong_type", None)],
        ("THANH_TRI", "Báo cáo ngày 18 (1).xlsx"): [("empty_file", None)],
        ("TRAN_DE", "Báo cáo tháng 7"): [("not_a_file", None)],
    }
    for place, expected in expected_refusals.items():
        record = by_name[place]
        assert (record.outcome, errors(record)) == (REFUSED, expected), place
    for unit in ("CU_LAO_DUNG", "LONG_PHU", "MY_TU", "MY_XUYEN", "THANH_TRI", "TRAN_DE"):
        assert effective(share, unit) == {}
    mistake = by_name[("CU_LAO_DUNG", "Báo cáo Cù Lao Dung.xlsx")]
    assert mistake.findings[0].value == pytest.approx(50.802) and "50802" in mistake.findings[0].hint

    # The archive: every original kept byte for byte, the folder kept whole.
    for place, record in by_name.items():
        kept = Path(record.archive_path)
        archive = share.layout.accepted_archive if record.outcome == ACCEPTED else share.layout.refused_archive
        assert kept.is_relative_to(archive / record.folder_unit), place
        if place in dropped:
            assert sha256(kept.read_bytes()) == sha256(dropped[place]) == record.sha256, place
        else:
            assert kept.is_dir() and (kept / "TRAN_DE.xlsx").read_bytes() == inner

    # The receipts: one Vietnamese .txt (BOM) per file in the folder it came from; the refused template marked up.
    for record in rows:
        receipt_for(share, record)
    for unit in share.manifest["units"]:
        sent = [r for r in rows if r.folder_unit == unit]
        assert len(receipts(share, unit)) == len(sent), unit
    assert_marked(share, mistake, "F10")
    assert [p.parent.parent.name for p in share.layout.units_root.glob("*/*/* - SỬA LẠI.xlsx")] == ["CU_LAO_DUNG"]
    assert annotated_copies(share, "CU_LAO_DUNG")[0].name in receipt_for(share, mistake).text

    # The drop folders: emptied, but for the lock files of the open workbook, left untouched.
    for unit in share.manifest["units"]:
        expected = sorted(LOCK_FILES) if unit == "TP_SOC_TRANG" else []
        assert inbox_names(share, unit) == expected, unit
    for name, data in LOCK_FILES.items():
        assert (share.layout.unit("TP_SOC_TRANG").inbox / name).read_bytes() == data

    # A second run: nothing new recorded, answered or archived.
    before = snapshot(share)
    monkeypatch.setenv("CHITIEU_NOW", "2023-07-19T09:00:00")
    ingest(share_dir, key)
    with ledger(share) as book:
        assert [(r.id, r.outcome, r.superseded_by) for r in book.files()] == [
            (r.id, r.outcome, r.superseded_by) for r in rows
        ]
    assert snapshot(share) == before
