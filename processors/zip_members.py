"""Reading members of a hostile zip held in memory: the index, the bomb check, capped inflation.

zipfile parses the central directory; the members are inflated here straight from the bytes
with zlib so that nothing inflates past a member's declared size (Python's ZipExtFile stops
there silently, other readers such as Rust's zip crate keep going), the CRC is always
checked, and the local header must name the same file as the directory.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

from processors.safety_messages import Refusal, format_size

# Small parts legitimately compress 100-fold and more (runs of identical XML); the ratio only
# tells a bomb from a workbook once a member is big enough to hurt.
RATIO_FLOOR = 2**20
_LOCAL_HEADER = struct.Struct("<4s22xHH")
_LOCAL_SIGNATURE = b"PK\x03\x04"
_ENCRYPTED_FLAG = 0x1
_UTF8_FLAG = 0x800

Members = dict[str, zipfile.ZipInfo]


def index_members(data: bytes) -> Members:
    """Members by normalised name (lower case, forward slashes); a broken zip or twin names are refused."""
    try:
        infos = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except Exception as error:  # zipfile raises many types on hostile input; all mean "broken"
        raise Refusal("corrupt_zip", "zip", value=type(error).__name__) from None
    members: Members = {}
    for info in infos:
        # OPC part names are case-insensitive; different readers would pick different twins.
        key = normalise_name(info.filename)
        if key in members:
            raise Refusal("corrupt_zip", "zip", value=info.filename)
        members[key] = info
    return members


def normalise_name(name: str) -> str:
    """The lookup form of a part name: forward slashes, no leading slash, lower case."""
    return name.replace("\\", "/").lstrip("/").lower()


def check_bomb(members: Members, max_members: int, max_uncompressed: int, max_ratio: float) -> None:
    """Refuse, from the central directory alone, too many members, too much data or a bomb-like ratio."""
    if len(members) > max_members:
        raise Refusal("zip_bomb", "zip", value=len(members), why=f"{len(members)} thành phần")
    total = sum(info.file_size for info in members.values())
    if total > max_uncompressed:
        raise Refusal("zip_bomb", "zip", value=total, why=f"giải nén ra {format_size(total)}")
    for info in members.values():
        if info.file_size > RATIO_FLOOR and info.file_size > max_ratio * max(info.compress_size, 1):
            ratio = info.file_size // max(info.compress_size, 1)
            raise Refusal("zip_bomb", "zip", value=info.filename, why=f"tỉ lệ nén {ratio}:1")


def read_member(data: bytes, info: zipfile.ZipInfo) -> bytes:
    """A member's bytes, never inflated past its declared size, CRC checked; refuses what does not match."""
    raw = _raw_data(data, info)
    if info.compress_type == zipfile.ZIP_STORED:
        if info.compress_size != info.file_size:
            raise Refusal("corrupt_zip", "zip", value=info.filename)
        out = bytes(raw)
    else:
        out = _inflate(raw, info, info.file_size + 1)
        if len(out) > info.file_size:
            raise Refusal("zip_bomb", "zip", value=info.filename, why="kích thước khai báo sai")
        if len(out) != info.file_size:
            raise Refusal("corrupt_zip", "zip", value=info.filename)
    if zlib.crc32(out) != info.CRC:
        raise Refusal("corrupt_zip", "zip", value=info.filename)
    return out


def read_member_head(data: bytes, info: zipfile.ZipInfo, size: int) -> bytes:
    """The first `size` bytes of a member (the whole member, CRC checked, when it is that small)."""
    if info.file_size <= size:
        return read_member(data, info)
    raw = _raw_data(data, info)
    if info.compress_type == zipfile.ZIP_STORED:
        return bytes(raw[:size])
    return _inflate(raw, info, size, whole=False)


def raw_data(data: bytes, info: zipfile.ZipInfo) -> memoryview:
    """The compressed bytes of a member; refuses a local header that disagrees with the directory, or encryption."""
    return _raw_data(data, info)


def _raw_data(data: bytes, info: zipfile.ZipInfo) -> memoryview:
    """The compressed bytes of a member, after a local header that must agree with the directory."""
    if info.flag_bits & _ENCRYPTED_FLAG or info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        # Zip-level encryption and exotic methods: Excel never writes them.
        raise Refusal("corrupt_zip", "zip", value=info.filename)
    offset = info.header_offset
    if offset < 0 or offset + _LOCAL_HEADER.size > len(data):
        raise Refusal("corrupt_zip", "zip", value=info.filename)
    signature, name_length, extra_length = _LOCAL_HEADER.unpack_from(data, offset)
    name_start = offset + _LOCAL_HEADER.size
    encoding = "utf-8" if info.flag_bits & _UTF8_FLAG else "cp437"
    local_name = data[name_start : name_start + name_length].decode(encoding, errors="replace")
    # Readers that trust local headers and readers that trust the directory must see one file.
    if signature != _LOCAL_SIGNATURE or local_name != info.orig_filename:
        raise Refusal("corrupt_zip", "zip", value=info.filename)
    start = name_start + name_length + extra_length
    raw = memoryview(data)[start : start + info.compress_size]
    if len(raw) < info.compress_size:
        raise Refusal("corrupt_zip", "zip", value=info.filename)
    return raw


def _inflate(raw: memoryview, info: zipfile.ZipInfo, limit: int, whole: bool = True) -> bytes:
    """Raw deflate, at most `limit` bytes out; a whole member must end its stream."""
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    try:
        out = inflater.decompress(raw, limit)
    except zlib.error:
        raise Refusal("corrupt_zip", "zip", value=info.filename) from None
    if whole and not inflater.eof and not inflater.unconsumed_tail:
        raise Refusal("corrupt_zip", "zip", value=info.filename)  # the stream stops short
    return out
