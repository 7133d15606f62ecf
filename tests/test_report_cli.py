"""``chitieu report`` end to end: a real share, templates filled and returned, intake, then the report as JSON and table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from intake_helpers import SOC_TRANG, drop, fill, ingest, make_share, period_values

from processors.cli import main
from shared_folder_layout.share import Share

LABEL = "Ngày 18/07/2023"
CODE = "N20230718"
RETURNS = {  # unit: (TK_MUC1, TK_MUC2, moment of intake)
    "TP_SOC_TRANG": (1000, 600, "2023-07-18T20:00"),
    "TX_VINH_CHAU": (2000, 300, "2023-07-19T09:00"),  # after the 08:00 deadline
}


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Share:
    return make_share(tmp_path_factory.mktemp("report") / "share", SOC_TRANG / "ke_hoach.yaml")


@pytest.fixture(scope="module")
def share(pristine: Share) -> Share:
    mp = pytest.MonkeyPatch()
    try:
        for unit, (m1, m2, when) in RETURNS.items():
            data = fill(pristine.layout.unit(unit).template, period_values(LABEL, TK_MUC1=m1, TK_MUC2=m2))
            drop(pristine, unit, f"{unit} báo cáo.xlsx", data)
            ingest(pristine, mp, when)
    finally:
        mp.undo()
    return pristine


def run(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, now: str, *args: str
) -> tuple[int, str, str]:
    monkeypatch.setenv("CHITIEU_NOW", now)
    code = main(["report", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_report_json_through_a_real_share(share: Share, capsys, monkeypatch) -> None:
    code, out, _ = run(capsys, monkeypatch, "2023-07-19T10:00", str(share.layout.root), "--period", LABEL, "--json")
    assert code == 0
    data = json.loads(out)
    assert data["campaign"]["code"] == "SOC_TRANG_2023"
    assert (data["period"]["code"], data["period"]["label"]) == (CODE, LABEL)
    assert isinstance(data["warnings"], list) and all(isinstance(w, str) for w in data["warnings"])
    units = {u["code"]: u for u in data["units"]}
    assert set(units) == {u.code for u in share.campaign.reporting_units()}
    assert units["TP_SOC_TRANG"]["status"] == "on_time"
    assert units["TX_VINH_CHAU"]["status"] == "late"
    assert {u["status"] for c, u in units.items() if c not in RETURNS} == {"missing"}
    rates = {}
    for unit, (m1, m2, _) in RETURNS.items():
        target = share.campaign.target_for(share.campaign.unit_by_code[unit], "TK_TONG").value
        figure = units[unit]["indicators"]["TK_TONG"]
        assert (figure["value"], figure["target"]) == (m1 + m2, target)
        assert figure["rate"] == pytest.approx((m1 + m2) / target)
        assert units[unit]["score"] == pytest.approx(figure["rate"])
        rates[unit] = figure["rate"]
    best, second = sorted(rates, key=rates.get, reverse=True)
    assert (units[best]["rank"], units[second]["rank"]) == (1, 2)
    assert {u["rank"] for c, u in units.items() if c not in RETURNS} == {3}  # the silent ones tie, score 0
    assert data["reporting_rate"] == pytest.approx(len(RETURNS) / len(units))
    reminded = {r["unit"] for r in data["reminders"]}
    assert reminded == {c for c in units if c not in RETURNS} | {"TX_VINH_CHAU"}
    assert any("17.482" in w for w in data["warnings"])
    province = next(t for t in data["totals"] if t["code"] == "SOC_TRANG")
    assert province["indicators"]["TK_TONG"]["value"] == sum(m1 + m2 for m1, m2, _ in RETURNS.values())


def test_period_by_code_level_by_label_and_the_clock_by_default(share: Share, capsys, monkeypatch) -> None:
    root = str(share.layout.root)
    _, by_label, _ = run(capsys, monkeypatch, "2023-07-19T10:00", root, "--period", LABEL, "--json")
    _, by_code, _ = run(capsys, monkeypatch, "2023-07-19T10:00", root, "--period", CODE, "--json")
    assert json.loads(by_label)["units"] == json.loads(by_code)["units"]
    code, out, _ = run(capsys, monkeypatch, "2023-07-18T21:00", root, "--level", "huyện", "--json")
    data = json.loads(out)
    assert code == 0 and data["period"]["code"] == CODE and data["level"] == "huyen"
    code, out, _ = run(capsys, monkeypatch, "2023-07-18T21:00", root, "--level", "tinh", "--json")
    assert json.loads(out)["units"] == [] and json.loads(out)["totals"][0]["code"] == "SOC_TRANG"


def test_the_table_for_the_terminal(share: Share, capsys, monkeypatch) -> None:
    code, out, _ = run(capsys, monkeypatch, "2023-07-19T10:00", str(share.layout.root), "--period", LABEL)
    assert code == 0
    assert "Kết quả và xếp hạng" in out and "TP Sóc Trăng" in out
    assert "1.600 / 50.802" in out  # Vietnamese thousands
    assert "Trễ hạn" in out and "Chưa nộp" in out


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--period", "Ngày 31/12/2099"], ["Không có kỳ báo cáo", CODE]),
        (["--level", "vũ trụ"], ["Không có cấp", "huyện"]),
    ],
)
def test_unknown_choices_exit_2_with_the_valid_ones(share: Share, capsys, monkeypatch, args, words) -> None:
    code, out, err = run(capsys, monkeypatch, "2023-07-19T10:00", str(share.layout.root), *args)
    assert code == 2 and out == ""
    flat = " ".join(err.split())
    assert all(w in flat for w in words) and "Traceback" not in err


def test_a_share_without_a_ledger_exits_2(tmp_path: Path, capsys, monkeypatch) -> None:
    fresh = make_share(tmp_path / "fresh", SOC_TRANG / "ke_hoach.yaml")
    code, out, err = run(capsys, monkeypatch, "2023-07-19T10:00", str(fresh.layout.root))
    assert out == ""
    assert code == 2 and "Chưa có sổ cái" in " ".join(err.split())
    assert not fresh.layout.ledger.exists()  # reporting never creates a ledger


def test_not_a_share_exits_2(tmp_path: Path, capsys, monkeypatch) -> None:
    code, _, err = run(capsys, monkeypatch, "2023-07-19T10:00", str(tmp_path))
    assert code == 2 and "chitieu init" in " ".join(err.split())
