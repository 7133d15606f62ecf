"""The stream names inside an OLE2 / Compound File Binary container, without a library.

Excel 97-2003 workbooks (.xls) and password-protected .xlsx files are both CFB containers:
an .xls holds a "Workbook" (or "Book") stream, an encrypted OOXML file holds
"EncryptionInfo" and "EncryptedPackage". Telling them apart only needs the directory
entries' names (UTF-16LE), so this walks the header, the FAT chain of the directory and
nothing else. Every step is bounded: the input is hostile.
"""

from __future__ import annotations

import struct

MAGIC = bytes.fromhex("D0CF11E0A1B11AE1")
_END_OF_CHAIN = 0xFFFFFFFE
_MAX_REGULAR_SECTOR = 0xFFFFFFFA
_HEADER_DIFAT_ENTRIES = 109
_ENTRY_SIZE = 128


class CfbError(ValueError):
    """The container's structure cannot be followed."""


def list_stream_names(data: bytes) -> list[str]:
    """Names of every directory entry (storages and streams) of a CFB file; raises CfbError."""
    if not data.startswith(MAGIC) or len(data) < 512:
        raise CfbError("not a CFB header")
    shift = struct.unpack_from("<H", data, 0x1E)[0]
    if shift not in (9, 12):
        raise CfbError(f"sector shift {shift}")
    sector_size = 1 << shift
    # Bounds every chain walk: a chain cannot be longer than the file has sectors.
    sector_count = max(0, (len(data) - sector_size) // sector_size) + 1
    first_dir = struct.unpack_from("<I", data, 0x30)[0]
    difat = _read_difat(data, sector_size, sector_count)
    names: list[str] = []
    for sector in _follow_chain(data, first_dir, difat, sector_size, sector_count):
        start = (sector + 1) * sector_size
        chunk = data[start : start + sector_size]
        if len(chunk) < sector_size:
            raise CfbError("directory sector beyond end of file")
        for offset in range(0, sector_size, _ENTRY_SIZE):
            name = _entry_name(chunk, offset)
            if name:
                names.append(name)
    return names


def _entry_name(chunk: bytes, offset: int) -> str:
    """The name of one 128-byte directory entry ('' for an unused entry)."""
    length = struct.unpack_from("<H", chunk, offset + 64)[0]
    kind = chunk[offset + 66]
    if kind == 0 or length < 2 or length > 64:
        return ""
    return chunk[offset : offset + length - 2].decode("utf-16-le", errors="replace")


def _read_difat(data: bytes, sector_size: int, sector_count: int) -> list[int]:
    """The FAT sector numbers: 109 in the header, the rest on the DIFAT chain."""
    fat_sectors = struct.unpack_from("<I", data, 0x2C)[0]
    difat = list(struct.unpack_from(f"<{_HEADER_DIFAT_ENTRIES}I", data, 0x4C))
    next_difat = struct.unpack_from("<I", data, 0x44)[0]
    per_sector = sector_size // 4 - 1  # the last entry of a DIFAT sector points to the next one
    for _ in range(sector_count):
        if next_difat > _MAX_REGULAR_SECTOR or len(difat) >= fat_sectors:
            break
        start = (next_difat + 1) * sector_size
        if start + sector_size > len(data):
            raise CfbError("DIFAT sector beyond end of file")
        entries = struct.unpack_from(f"<{per_sector + 1}I", data, start)
        difat.extend(entries[:per_sector])
        next_difat = entries[per_sector]
    return difat[: min(fat_sectors, len(difat))] if fat_sectors else difat


def _fat_next(data: bytes, sector: int, difat: list[int], sector_size: int) -> int:
    """The FAT entry of one sector: the next sector of its chain."""
    per_sector = sector_size // 4
    index, slot = divmod(sector, per_sector)
    if index >= len(difat) or difat[index] > _MAX_REGULAR_SECTOR:
        raise CfbError("sector outside the FAT")
    position = (difat[index] + 1) * sector_size + slot * 4
    if position + 4 > len(data):
        raise CfbError("FAT sector beyond end of file")
    return struct.unpack_from("<I", data, position)[0]


def _follow_chain(data: bytes, first: int, difat: list[int], sector_size: int, sector_count: int) -> list[int]:
    """Sectors of a chain in order; a loop or a dangling link raises CfbError."""
    chain: list[int] = []
    seen: set[int] = set()
    sector = first
    while sector != _END_OF_CHAIN:
        if sector > _MAX_REGULAR_SECTOR or sector in seen or len(chain) >= sector_count:
            raise CfbError("broken or looping sector chain")
        seen.add(sector)
        chain.append(sector)
        sector = _fat_next(data, sector, difat, sector_size)
    return chain
