"""Which stores this reader understands, and the messages for those it does not.

The C++ side writes `schema` = "mgsweep.store/N" as a root attribute (src/sweep/plan.h) and
`mgsweep_store_format` for the file layout itself (src/sweep/store.cpp). History:
  1  /interventions/precision = -KL(before || after); no /interventions/ideal_precision
  2  /interventions/precision = -KL(after || before) (the paper's code);
     /interventions/ideal_precision [nQ, P] added. `mgsweep migrate STORE` turns 1 into 2.
  3  per-item checksums (/baseline/checksum, /lens/checksum, /interventions/checksum,
     /means/checksum, /baseline/self_similarity_checksum: CRC-32C of an item's stored values,
     int64 holding the uint32, -1 where not done) and the root attributes model_fingerprint,
     classifier_fingerprint. Every value has the meaning it had in schema 2, so a schema-2 store
     is read as it is (without checksums); `mgsweep migrate` turns 2 into 3.
"""

from __future__ import annotations

import re

PREFIX = "mgsweep.store/"
CURRENT = 3
KNOWN = (1, 2, 3)
# The oldest schema read without legacy=True: schema 1's precision has the other KL direction.
OLDEST_CURRENT_MEANING = 2
STORE_FORMATS = ("1",)


class StoreSchemaError(ValueError):
    """A store this reader cannot (or, without legacy=True, will not) read."""


def version_of(schema: str | None, path: str) -> int:
    """The schema number of a store, or StoreSchemaError for one this reader does not know."""
    if schema is None:
        raise StoreSchemaError(
            f"{path}: has no 'schema' attribute: not an mgsweep store, or one written before "
            f"stores carried a schema (rerun its job with this mgsweep)")
    m = re.fullmatch(re.escape(PREFIX) + r"(\d+)", schema)
    if not m:
        raise StoreSchemaError(f"{path}: schema {schema!r} is not an mgsweep store schema "
                               f"(this reader knows {PREFIX}1 to {PREFIX}{CURRENT})")
    v = int(m.group(1))
    if v > CURRENT:
        raise StoreSchemaError(
            f"{path}: has store schema {schema}, newer than this reader's {PREFIX}{CURRENT}: "
            f"it was written by a newer mgsweep. Update this package (tools/setup.sh, or "
            f"pip install -e python/ from that mgsweep's checkout)")
    if v not in KNOWN:
        raise StoreSchemaError(f"{path}: store schema {schema} is unknown to this reader")
    return v


def refuse_old(path: str, v: int) -> StoreSchemaError:
    return StoreSchemaError(
        f"{path}: has store schema {PREFIX}{v}, older than {PREFIX}{CURRENT}: its "
        f"/interventions/precision is -KL(before || after), the opposite direction of the "
        f"paper's (and of schemas 2 and 3), and it has no /interventions/ideal_precision. Run "
        f"`mgsweep migrate {path}` once (it recomputes both from the stored logits in seconds, "
        f"nothing is generated again), or open it with open_store(path, legacy=True) to read it "
        f"as it is (its precision then appears as `precision_v1`)")


def check_store_format(fmt: str | None, path: str) -> None:
    if fmt is not None and fmt not in STORE_FORMATS:
        raise StoreSchemaError(
            f"{path}: store file format {fmt!r} is newer than this reader's "
            f"({', '.join(STORE_FORMATS)}): update this package")
