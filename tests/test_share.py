"""The shared folder: init creates it, re-init is safe, units lists it, permissions cover every unit."""

from __future__ import annotations

import json
from pathlib import Path

from forms.loader import load_campaign
from processors.cli import main
from shared_folder_layout.acl import unit_group
from shared_folder_layout.layout import ShareLayout, is_temp_name

SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "soc_trang_2023" / "ke_hoach.xlsx"


def _init(share: Path, key: Path, definition: Path = SAMPLE) -> int:
    return main(["init", str(share), "--campaign", str(definition), "--key", str(key)])


def test_init_creates_every_folder_template_and_helper(tmp_path, capsys):
    share, key = tmp_path / "chia_se", tmp_path / "khoa" / "secret.key"
    assert _init(share, key) == 0
    layout = ShareLayout(share.resolve())
    campaign = load_campaign(SAMPLE)
    for unit in campaign.reporting_units():
        f = layout.unit(unit.code)
        assert f.template.is_file() and f.inbox.is_dir() and f.receipts.is_dir()
    assert not layout.unit("SOC_TRANG").root.exists()  # the province row does not report
    for folder in layout.office_dirs():
        assert folder.is_dir()
    readme = layout.clerk_readme.read_bytes()
    assert readme.startswith(b"\xef\xbb\xbf") and "Nộp báo cáo" in readme.decode("utf-8-sig")
    manifest = json.loads(layout.manifest.read_text(encoding="utf-8"))
    assert manifest["campaign_code"] == "SOC_TRANG_2023" and len(manifest["units"]) == 11
    assert layout.definition(".xlsx").read_bytes() == SAMPLE.read_bytes()
    # The key lives where it was asked to, outside the share.
    assert key.is_file() and not any(p.name == "secret.key" for p in share.rglob("*"))
    samba = (layout.acl_dir / "smb.conf.txt").read_text(encoding="utf-8")
    linux = (layout.acl_dir / "phan_quyen_linux.sh").read_text(encoding="utf-8")
    windows = (layout.acl_dir / "phan_quyen_windows.cmd").read_text(encoding="utf-8")
    for unit in campaign.reporting_units():
        group = unit_group(unit.code)
        assert f"@{group}" in samba and f"g:{group}:rwx" in linux and f'"{group}:(OI)(CI)(RX,W)"' in windows
    assert "chcp 65001" in windows and b"\r\n" in (layout.acl_dir / "phan_quyen_windows.cmd").read_bytes()


def test_init_again_keeps_received_files(tmp_path):
    share, key = tmp_path / "chia_se", tmp_path / "secret.key"
    assert _init(share, key) == 0
    layout = ShareLayout(share.resolve())
    f = layout.unit("TP_SOC_TRANG")
    dropped = f.inbox / "bao cao.xlsx"
    dropped.write_bytes(b"clerk's bytes")
    receipt = f.receipts / "phieu.txt"
    receipt.write_text("cũ", encoding="utf-8")
    f.template.write_bytes(b"stale")
    assert _init(share, key) == 0
    assert dropped.read_bytes() == b"clerk's bytes" and receipt.read_text(encoding="utf-8") == "cũ"
    assert f.template.read_bytes()[:2] == b"PK"  # the template was replaced by the current one


def test_init_refuses_another_campaign_in_the_same_share(tmp_path, small_yaml, capsys):
    share, key = tmp_path / "chia_se", tmp_path / "secret.key"
    assert _init(share, key) == 0
    assert _init(share, key, small_yaml) == 2
    assert "SOC_TRANG_2023" in capsys.readouterr().err


def test_init_with_broken_definition_writes_nothing(tmp_path, small_yaml, capsys):
    small_yaml.write_text(
        small_yaml.read_text(encoding="utf-8").replace("parent: TINH", "parent: KHONG_CO"), encoding="utf-8"
    )
    share = tmp_path / "chia_se"
    assert _init(share, tmp_path / "secret.key", small_yaml) == 2
    assert not share.exists()
    assert "unknown" not in capsys.readouterr().err  # Vietnamese, not codes


def test_units_json_lists_absolute_paths(tmp_path, capsys):
    share = tmp_path / "chia_se"
    assert _init(share, tmp_path / "secret.key") == 0
    capsys.readouterr()
    assert main(["units", str(share), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 11
    first = rows[0]
    assert {"code", "name", "template", "inbox", "receipts"} <= set(first)
    for key in ("template", "inbox", "receipts"):
        assert Path(first[key]).is_absolute() and Path(first[key]).exists()
    assert main(["units", str(tmp_path / "khong_phai")]) == 2


def test_temp_and_lock_names_are_recognised():
    for name in ("~$bao cao.xlsx", ".~lock.bao cao.xlsx#", "~WRL0001.tmp", "A1B2C3D4", "Thumbs.db", "x.xlsx.part"):
        assert is_temp_name(name), name
    for name in ("bao cao.xlsx", "Copy of bao cao.xlsx", "bao cao (1).xlsx", "Báo cáo tuần 3.xlsx"):
        assert not is_temp_name(name), name
