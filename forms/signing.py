"""The office secret: where it lives, and what it signs.

One random key, kept outside any shared folder, signs each issued template's identity
(campaign, unit, template version, layout digest) with HMAC-SHA256, so a returned file
proves which unit's template it came from. The same key derives the sheet-protection
password, so the office can always regenerate it and nobody has to write it down.
The key itself is never printed or logged.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import os
import secrets
from pathlib import Path

KEY_ENV = "CHITIEU_KEY_FILE"
KEY_BYTES = 32
# Domain-separation tags: one key serves several purposes, and a signature for one purpose
# must never be valid for another.
_IDENTITY_TAG = "chitieu-template-identity-v1"
_PASSWORD_TAG = "chitieu-sheet-password-v1"
_PASSWORD_LENGTH = 10


def default_key_path() -> Path:
    """The key file: ``$CHITIEU_KEY_FILE`` when set, else ``~/.chitieu/secret.key``."""
    configured = os.environ.get(KEY_ENV, "").strip()
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".chitieu" / "secret.key"


def load_or_create_key(path: Path | None = None) -> bytes:
    """The office key from ``path`` (default: ``default_key_path()``), created with 32 random bytes on first use."""
    path = Path(path) if path is not None else default_key_path()
    if not path.exists():
        _create_key(path)
    key = path.read_bytes()
    if len(key) < KEY_BYTES:
        # A truncated key would silently sign with a weak secret; refuse instead.
        raise ValueError(f"Tệp khóa bí mật «{path}» bị hỏng (ngắn hơn {KEY_BYTES} byte). Hãy khôi phục từ bản sao lưu.")
    return key


def _create_key(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(secrets.token_bytes(KEY_BYTES))
            handle.flush()
            os.fsync(handle.fileno())
        # link() fails when the key already exists, so two processes creating it at once agree
        # on one key, and nobody ever sees a half-written file.
        with contextlib.suppress(FileExistsError):
            os.link(temp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)


def identity_message(campaign_code: str, unit_code: str, version: int, digest: str) -> bytes:
    """The canonical message a template identity signature covers."""
    # Codes are ASCII letters, digits and underscores and the digest is hex, so "|" cannot
    # occur inside a field and the join is unambiguous.
    return "|".join((_IDENTITY_TAG, campaign_code, unit_code, str(int(version)), digest)).encode("utf-8")


def sign_identity(key: bytes, campaign_code: str, unit_code: str, version: int, digest: str) -> str:
    """HMAC-SHA256 (hex) of a template's identity under the office key."""
    return hmac.new(key, identity_message(campaign_code, unit_code, version, digest), hashlib.sha256).hexdigest()


def verify_identity(key: bytes, campaign_code: str, unit_code: str, version: int, digest: str, signature: str) -> bool:
    """True when ``signature`` is the office's signature of this identity (constant-time compare)."""
    if not isinstance(signature, str):
        return False
    expected = sign_identity(key, campaign_code, unit_code, version, digest)
    return hmac.compare_digest(expected, signature.strip().lower())


def derive_sheet_password(key: bytes, campaign_code: str) -> str:
    """The campaign's sheet/workbook protection password: short, derived from the key, reproducible."""
    raw = hmac.new(key, f"{_PASSWORD_TAG}|{campaign_code}".encode(), hashlib.sha256).digest()
    # Base32 without padding: letters and digits only, easy to read out over the phone.
    return base64.b32encode(raw).decode("ascii")[:_PASSWORD_LENGTH].lower()


def hash_legacy_password(password: str) -> str:
    """The 16-bit legacy hash Excel stores for sheet and workbook protection (ECMA-376 Part 4, §3.2.29), as hex."""
    digest = 0
    for char in reversed(password):
        digest = ((digest >> 14) & 0x01) | ((digest << 1) & 0x7FFF)
        digest ^= ord(char)
    digest = ((digest >> 14) & 0x01) | ((digest << 1) & 0x7FFF)
    digest ^= len(password)
    digest ^= 0xCE4B
    return f"{digest:X}"
