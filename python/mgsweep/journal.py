"""The store's write-ahead journal (STORE.journal), read the way `mgsweep status` reads it.

Results reach the HDF5 file only at checkpoints; between two of them they sit in the journal.
A reader that lays the journal's valid records over the file sees what a resumed run would
see (src/sweep/journal.h documents the format; this is a reader of it, nothing more):

    header  64 bytes: "MGSWJRNL", u32 version (1), u32 header size (64), 16-byte store id,
            28 zero bytes, u32 CRC-32C of bytes 0..59
    record  "MGRC", u32 rank R, u64 size S (all of it, CRC included), u64 generation,
            u32 path length L, u32 0, path, u64 offset[R], u64 count[R], u64 payload size,
            payload (row-major, native byte order), u32 CRC-32C of everything before it

The longest prefix of complete, CRC-valid records of the store's current generation counts;
the first record that is not ends it (a torn tail, or stale bytes after a truncation).
"""

from __future__ import annotations

import dataclasses
import os
import struct

import crc32c as _crc32c

MAGIC = b"MGSWJRNL"
RECORD_MAGIC = b"MGRC"
HEADER_SIZE = 64
MAX_RANK = 32


@dataclasses.dataclass
class Record:
    dataset: str  # "/a/b"
    offset: tuple[int, ...]
    count: tuple[int, ...]
    payload: memoryview  # the hyperslab's elements, row-major, native byte order


def crc32c(data) -> int:
    return _crc32c.crc32c(data)


def scan(data: bytes, generation: int, store_id_hex: str | None = None) -> list[Record]:
    """The valid records of `generation` in a whole journal's bytes ([] for a bad header)."""
    if len(data) < HEADER_SIZE or data[:8] != MAGIC:
        return []
    if struct.unpack_from("<I", data, 60)[0] != crc32c(data[:60]):
        return []
    if store_id_hex is not None and data[16:32].hex() != store_id_hex.lower():
        return []  # another store's journal: nothing of it is ours
    view = memoryview(data)
    out: list[Record] = []
    pos = HEADER_SIZE
    while pos + 32 <= len(data):
        if data[pos:pos + 4] != RECORD_MAGIC:
            break
        rank, size, gen, plen = struct.unpack_from("<IQQI", data, pos + 4)
        if rank > MAX_RANK or size < 36 or pos + size > len(data):
            break
        end = pos + size
        if struct.unpack_from("<I", data, end - 4)[0] != crc32c(view[pos:end - 4]):
            break
        if gen != generation:
            break
        p = pos + 32
        name = bytes(view[p:p + plen]).decode("utf-8")
        p += plen
        offset = struct.unpack_from(f"<{rank}Q", data, p)
        p += 8 * rank
        count = struct.unpack_from(f"<{rank}Q", data, p)
        p += 8 * rank
        (nbytes,) = struct.unpack_from("<Q", data, p)
        p += 8
        if p + nbytes + 4 != end:
            break
        out.append(Record(name, offset, count, view[p:p + nbytes]))
        pos = end
    return out


def read(store_path: str, generation: int, store_id_hex: str | None) -> dict[str, list[Record]]:
    """The records of STORE.journal by dataset, in journal order ({} when there is none)."""
    path = store_path + ".journal"
    try:
        with open(path, "rb") as f:
            data = f.read()
    except (FileNotFoundError, PermissionError, IsADirectoryError):
        return {}
    by_dataset: dict[str, list[Record]] = {}
    for r in scan(data, generation, store_id_hex):
        by_dataset.setdefault(r.dataset, []).append(r)
    return by_dataset


def journal_exists(store_path: str) -> bool:
    return os.path.exists(store_path + ".journal")
