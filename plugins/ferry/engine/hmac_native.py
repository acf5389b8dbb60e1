"""HMAC-SHA256 of whole Arrow arrays in C (hmac_sha256.c), as a DuckDB function.

In SQL, an HMAC is four SHA-256 blocks per value plus string work, and it was most of an
export's CPU time. The C loop reuses the keyed SHA-256 states, so a value costs two blocks
of OpenSSL's SHA-256. DuckDB calls the function (ferry_hmac_sha256(value, key)) with
vectors of values, from its own threads; ctypes lets go of the GIL for the C call.

scripts/setup builds the library; without it (no C compiler, or FERRY_NATIVE_HMAC=off)
pii.hmac_sql falls back to the SQL form, which gives the same bytes more slowly.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
from pathlib import Path

import numpy as np
import pyarrow as pa

from ferry.engine import native

SOURCE = Path(__file__).with_name("hmac_sha256.c")
LIBRARY = Path(__file__).with_name("_hmac_sha256.so")
FUNCTION_NAME = "ferry_hmac_sha256"
HEX_CHARS = 64
BLOCK_BYTES = 64  # SHA-256's block size


def available() -> bool:
    """True when the C library is built, current and not switched off."""
    if native.switched_off("FERRY_NATIVE_HMAC"):
        return False
    return _library() is not None


@functools.cache
def _library() -> ctypes.CDLL | None:
    library = native.load(SOURCE, LIBRARY, "PII is hashed in SQL, more slowly")
    if library is None:
        return None
    function = library.ferry_hmac_sha256_hex
    function.argtypes = (
        [ctypes.c_char_p, ctypes.c_char_p]
        + [ctypes.c_void_p] * 2
        + [
            ctypes.c_int64,
            ctypes.c_void_p,
        ]
    )
    function.restype = None
    return library


def hmac_pads(key: bytes) -> tuple[bytes, bytes]:
    """The inner and outer padded keys of RFC 2104 for SHA-256 (the SQL form uses them too)."""
    if len(key) > BLOCK_BYTES:
        key = hashlib.sha256(key).digest()
    key = key.ljust(BLOCK_BYTES, b"\0")
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


def hmac_hex(values: pa.Array | pa.ChunkedArray, key: bytes) -> pa.Array:
    """HMAC-SHA256(key, value) of every value as 64 hex characters; nulls stay null."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    values = values.cast(pa.large_string())
    count = len(values)
    _, offsets, data = values.buffers()
    digests = np.empty(count * HEX_CHARS, dtype=np.uint8)
    inner, outer = hmac_pads(key)
    _library().ferry_hmac_sha256_hex(
        inner,
        outer,
        data.address if data is not None else None,
        offsets.address + values.offset * 8,
        count,
        digests.ctypes.data,
    )
    digest_offsets = np.arange(count + 1, dtype=np.int64) * HEX_CHARS
    return pa.Array.from_buffers(
        pa.large_string(),
        count,
        [_validity(values), pa.py_buffer(digest_offsets), pa.py_buffer(digests)],
    )


def _validity(values: pa.Array) -> pa.Buffer | None:
    """The nulls as a bitmap starting at row 0 (the input may be a slice)."""
    if values.null_count == 0:
        return None
    return values.is_valid().buffers()[1]


def _udf(values: pa.ChunkedArray, keys: pa.ChunkedArray) -> pa.Array:
    # DuckDB leaves a vector's null values out: one of only nulls arrives empty, key too
    if not len(keys):
        return pa.array([], pa.large_string())
    return hmac_hex(values, keys[0].as_py())


def register(con) -> None:
    """Make ferry_hmac_sha256(VARCHAR, BLOB) -> VARCHAR callable on a DuckDB connection.

    Connections to the same file in one process share a database and its catalog, where
    the function may already be (it outlives the connection that registered it).
    """
    import duckdb

    try:
        con.create_function(
            FUNCTION_NAME, _udf, ["VARCHAR", "BLOB"], "VARCHAR", type="arrow", side_effects=False
        )
    except duckdb.CatalogException as error:
        if "already exists" not in str(error):
            raise
