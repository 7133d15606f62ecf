"""Creating a share (``chitieu init``) and opening an existing one.

``init_share`` is safe to run again: it creates what is missing, replaces templates with the
current ones and never deletes a received file, a receipt or an archived original.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from forms.atomic import write_atomic
from forms.clock import now_local
from forms.findings import DefinitionError, Finding
from forms.loader import WORKBOOK_SUFFIXES, YAML_SUFFIXES, load_campaign
from forms.schema import Campaign
from shared_folder_layout.acl import render_icacls, render_samba, render_setfacl
from shared_folder_layout.clerk_readme import render_clerk_readme
from shared_folder_layout.layout import ShareLayout

Progress = Callable[[int, int], None]


class ShareError(Exception):
    """A share that cannot be used as asked; the message is Vietnamese and says what to do."""


@dataclass(frozen=True)
class Share:
    """An opened share: its layout, the campaign it serves and its manifest."""

    layout: ShareLayout
    campaign: Campaign
    manifest: dict


def _read_manifest(layout: ShareLayout) -> dict | None:
    try:
        return json.loads(layout.manifest.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as err:
        raise ShareError(f"Tệp «{layout.manifest}» hỏng ({err}). Chạy lại «chitieu init» với tệp định nghĩa.") from None


def init_share(root: Path, definition: Path, key: bytes, progress: Progress | None = None) -> Share:
    """Create or update the share at ``root`` for the campaign in ``definition``; raise DefinitionError or ShareError."""
    from forms.template_writer import write_templates

    campaign = load_campaign(definition)  # a refused definition stops here: nothing is written
    layout = ShareLayout(Path(root).resolve())
    manifest = _read_manifest(layout)
    if manifest and manifest.get("campaign_code") != campaign.info.code:
        raise ShareError(
            f"Thư mục «{layout.root}» đang dùng cho chiến dịch «{manifest.get('campaign_code')}», "
            f"không dùng chung cho «{campaign.info.code}». Hãy chọn một thư mục khác."
        )
    for folder in layout.office_dirs():
        folder.mkdir(parents=True, exist_ok=True)
    units = campaign.reporting_units()
    for unit in units:
        f = layout.unit(unit.code)
        for folder in (f.template_dir, f.inbox, f.receipts):
            folder.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".mau_bieu_", dir=layout.office))
    try:
        written = write_templates(campaign, staging, key, progress=progress)
        for path in written:
            os.replace(path, layout.unit(path.stem).template)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    suffix = Path(definition).suffix.lower()
    for old in (*WORKBOOK_SUFFIXES, *YAML_SUFFIXES):
        if old != suffix and layout.definition(old).exists():
            layout.definition(old).unlink()  # one definition copy only: the one the share was made from
    write_atomic(layout.definition(suffix), Path(definition).read_bytes())
    stamp = now_local().isoformat(timespec="seconds")
    manifest = {
        "campaign_code": campaign.info.code,
        "template_version": campaign.info.template_version,
        "definition": layout.definition(suffix).name,
        "created_at": (manifest or {}).get("created_at", stamp),
        "updated_at": stamp,
        "units": [u.code for u in units],
    }
    write_atomic(layout.manifest, json.dumps(manifest, ensure_ascii=False, indent=2).encode("utf-8"))
    write_atomic(layout.clerk_readme, render_clerk_readme(campaign).encode("utf-8-sig"))
    write_atomic(layout.acl_dir / "smb.conf.txt", render_samba(layout, campaign).encode("utf-8"))
    write_atomic(layout.acl_dir / "phan_quyen_linux.sh", render_setfacl(layout, campaign).encode("utf-8"))
    write_atomic(layout.acl_dir / "phan_quyen_windows.cmd", render_icacls(layout, campaign).encode("utf-8"))
    return Share(layout=layout, campaign=campaign, manifest=manifest)


def open_share(root: Path) -> Share:
    """Open the share at ``root`` made by ``init_share``; raise ShareError or DefinitionError."""
    layout = ShareLayout(Path(root).resolve())
    manifest = _read_manifest(layout)
    if manifest is None:
        raise ShareError(
            f"«{layout.root}» chưa phải thư mục dùng chung của chitieu (không có {layout.manifest.name}). "
            "Chạy «chitieu init THƯ_MỤC --campaign ke_hoach.xlsx» trước."
        )
    definition = layout.office / manifest.get("definition", "")
    if not definition.is_file():
        raise DefinitionError(
            definition.name,
            [
                Finding(
                    code="missing_file",
                    message=f"Thiếu tệp định nghĩa «{definition}».",
                    hint="chạy lại «chitieu init» với tệp định nghĩa.",
                )
            ],
        )
    return Share(layout=layout, campaign=load_campaign(definition), manifest=manifest)


def list_units(share: Share) -> list[dict]:
    """Every reporting unit with code, name, level and absolute paths of its template, inbox and receipts."""
    rows = []
    for unit in share.campaign.reporting_units():
        f = share.layout.unit(unit.code)
        rows.append(
            {
                "code": unit.code,
                "name": unit.name,
                "level": unit.level.value,
                "parent": unit.parent,
                "template": str(f.template),
                "inbox": str(f.inbox),
                "receipts": str(f.receipts),
            }
        )
    return rows
