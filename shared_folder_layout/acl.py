"""Permission helpers written by ``chitieu init``: a Samba snippet with a setfacl script, and a Windows icacls script.

Each unit gets a group; the group may traverse to its own folder, read its template and its
receipts, and write (not delete) in its own drop folder. The office group has full access.
The texts are pure functions of the layout and the unit codes, so tests can read them.
"""

from __future__ import annotations

from forms.schema import Campaign
from shared_folder_layout.layout import ShareLayout

OFFICE_GROUP = "chitieu_vanphong"


def unit_group(code: str) -> str:
    """The group name of a unit's clerks (``chitieu_<code>`` in lower case)."""
    return f"chitieu_{code.lower()}"


def _posix_quote(path: str) -> str:
    return "'" + path.replace("'", "'\"'\"'") + "'"


def render_samba(layout: ShareLayout, campaign: Campaign, share_name: str = "chitieu") -> str:
    """An smb.conf share section plus a setfacl script granting each unit its own folders."""
    root = str(layout.root.resolve())
    groups = " ".join(f"@{unit_group(u.code)}" for u in campaign.reporting_units())
    lines = [
        "# Đoạn cấu hình Samba cho thư mục dùng chung của chiến dịch " + campaign.info.code,
        "# Dán vào /etc/samba/smb.conf rồi chạy: systemctl reload smbd",
        "# Quyền chi tiết từng thư mục do tệp phan_quyen_linux.sh (setfacl) đặt.",
        f"[{share_name}]",
        f"   path = {root}",
        "   read only = no",
        f"   valid users = @{OFFICE_GROUP} {groups}",
        f"   admin users = @{OFFICE_GROUP}",
        "   # Đơn vị chỉ thấy thư mục mình được quyền đọc.",
        "   access based share enum = yes",
        "   hide unreadable = yes",
        "   inherit acls = yes",
        "   map acl inherit = yes",
        "   vfs objects = acl_xattr",
        "",
    ]
    return "\n".join(lines)


def render_setfacl(layout: ShareLayout, campaign: Campaign) -> str:
    """A bash script that creates the groups (if missing) and sets POSIX ACLs per unit folder."""
    q = _posix_quote
    root = str(layout.root.resolve())
    lines = [
        "#!/usr/bin/env bash",
        "# Phân quyền thư mục dùng chung (Linux, Samba). Chạy bằng quyền root sau «chitieu init».",
        "# Mỗi đơn vị một nhóm: chỉ đọc mẫu biểu và phiếu phản hồi của mình, chỉ ghi vào «Nộp báo cáo» của mình.",
        "set -euo pipefail",
        f"getent group {OFFICE_GROUP} >/dev/null || groupadd {OFFICE_GROUP}",
        f"setfacl -R -b {q(root)}",
        f"chmod -R u=rwX,g=,o= {q(root)}",
        f"setfacl -R -m g:{OFFICE_GROUP}:rwX -m d:g:{OFFICE_GROUP}:rwX {q(root)}",
    ]
    units_root = str(layout.units_root.resolve())
    readme = str(layout.clerk_readme.resolve())
    for unit in campaign.reporting_units():
        g = unit_group(unit.code)
        f = layout.unit(unit.code)
        lines += [
            f"# {unit.name}",
            f"getent group {g} >/dev/null || groupadd {g}",
            f"setfacl -m g:{g}:x {q(root)} {q(units_root)}",
            f"setfacl -m g:{g}:r {q(readme)}",
            f"setfacl -m g:{g}:rx {q(str(f.root.resolve()))}",
            f"setfacl -R -m g:{g}:rX -m d:g:{g}:rX {q(str(f.template_dir.resolve()))} {q(str(f.receipts.resolve()))}",
            f"setfacl -R -m g:{g}:rwx -m d:g:{g}:rw {q(str(f.inbox.resolve()))}",
        ]
    return "\n".join(lines) + "\n"


def render_icacls(layout: ShareLayout, campaign: Campaign, root: str = r"D:\chitieu") -> str:
    """A Windows .cmd script (UTF-8, chcp 65001) that grants each unit group its own folders with icacls."""

    def win(path) -> str:
        rel = path.relative_to(layout.root)
        return root + ("\\" + "\\".join(rel.parts) if rel.parts else "")

    lines = [
        "@echo off",
        "chcp 65001 >nul",
        "rem Phân quyền thư mục dùng chung (Windows). Chạy bằng quyền quản trị sau «chitieu init».",
        f"rem Sửa biến SHARE nếu thư mục dùng chung không nằm ở {root}.",
        "rem Tạo nhóm trước (máy chủ độc lập): net localgroup TÊN_NHÓM /add ; trong miền dùng nhóm của AD.",
        f'icacls "{root}" /inheritance:r /grant:r "Administrators:(OI)(CI)F" "{OFFICE_GROUP}:(OI)(CI)F" /T /C',
    ]
    for unit in campaign.reporting_units():
        g = unit_group(unit.code)
        f = layout.unit(unit.code)
        lines += [
            f"rem {unit.name}",
            f"net localgroup {g} /add 2>nul",
            f'icacls "{root}" /grant "{g}:(RX)"',
            f'icacls "{win(layout.units_root)}" /grant "{g}:(RX)"',
            f'icacls "{win(layout.clerk_readme)}" /grant "{g}:(R)"',
            f'icacls "{win(f.root)}" /grant "{g}:(RX)"',
            f'icacls "{win(f.template_dir)}" /grant "{g}:(OI)(CI)(RX)"',
            f'icacls "{win(f.receipts)}" /grant "{g}:(OI)(CI)(RX)"',
            # Write and read back (Excel re-reads what it saved), but never delete: a clerk can't erase a return.
            f'icacls "{win(f.inbox)}" /grant "{g}:(OI)(CI)(RX,W)"',
        ]
    return "\r\n".join(lines) + "\r\n"
