"""Byte sinks: a staged file written plain, gzip or zip, counted and hashed as it goes.

Compression output depends on how its input is cut (ISA-L more than zlib), so every
compressing sink feeds its codec fixed-size blocks counted from the start of the file:
the same bytes give the same file whatever batch sizes the warehouse happened to return.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from pathlib import Path
from typing import Protocol

from isal import isal_zlib

BLOCK_BYTES = 1 << 20
GZIP_LEVEL = 1  # ISA-L levels 0-3: 1 gave 0.45 of the CSV size at ~490 MB/s (zlib 6: 0.46, 39 MB/s)
_GZIP_WBITS = 31  # gzip wrapper; header has mtime 0 and no file name


class Sink(Protocol):
    def write(self, data) -> None: ...

    def close(self) -> tuple[int, str]: ...


class PlainSink:
    """Writes bytes as they are; keeps the byte count and sha256."""

    def __init__(self, path: Path):
        self._file = path.open("wb", buffering=0)
        self._digest = hashlib.sha256()
        self.bytes = 0

    def write(self, data) -> None:
        view = memoryview(data)
        if not view.nbytes:
            return
        self._digest.update(view)
        written = 0
        while written < view.nbytes:  # an unbuffered write may take part (a disk nearly full)
            written += self._file.write(view[written:])
        self.bytes += view.nbytes

    @property
    def closed(self) -> bool:  # pyarrow's writers check it before writing to a file object
        return self._file.closed

    def close(self) -> tuple[int, str]:
        self._file.close()
        return self.bytes, self._digest.hexdigest()


class _Blocks:
    """Cuts a byte stream into BLOCK_BYTES blocks, whatever the sizes written."""

    def __init__(self, consume):
        self._consume = consume
        self._pending = bytearray()

    def write(self, data) -> None:
        view = memoryview(data).cast("B")
        if self._pending:
            take = min(BLOCK_BYTES - len(self._pending), len(view))
            self._pending += view[:take]
            view = view[take:]
            if len(self._pending) < BLOCK_BYTES:
                return
            self._consume(bytes(self._pending))
            self._pending.clear()
        whole = len(view) - len(view) % BLOCK_BYTES
        for start in range(0, whole, BLOCK_BYTES):
            self._consume(view[start : start + BLOCK_BYTES])
        self._pending += view[whole:]

    def finish(self) -> None:
        if self._pending:
            self._consume(bytes(self._pending))
            self._pending.clear()


class GzipSink:
    """Gzip with ISA-L (igzip): deterministic header, fixed input blocks."""

    def __init__(self, path: Path, level: int = GZIP_LEVEL):
        self._out = PlainSink(path)
        self._codec = isal_zlib.compressobj(level, isal_zlib.DEFLATED, _GZIP_WBITS)
        self._blocks = _Blocks(lambda block: self._out.write(self._codec.compress(block)))

    def write(self, data) -> None:
        self._blocks.write(data)

    def close(self) -> tuple[int, str]:
        self._blocks.finish()
        self._out.write(self._codec.flush())
        return self._out.close()


class ZipSink:
    """A one-entry zip (deflate via ISA-L) with a fixed entry time, written in one pass.

    Sizes and CRC follow the data in a ZIP64 data descriptor, so nothing is rewritten
    and the archive streams; zipfile, unzip and 7-Zip read it.
    """

    _DOS_TIME, _DOS_DATE = 0, (1980 - 1980) << 9 | 1 << 5 | 1  # 1980-01-01 00:00:00

    def __init__(self, path: Path, entry_name: str, level: int = GZIP_LEVEL):
        self._out = PlainSink(path)
        self._name = entry_name.encode("utf-8")
        self._codec = isal_zlib.compressobj(level, isal_zlib.DEFLATED, -15)
        self._crc, self._size, self._compressed = 0, 0, 0
        self._blocks = _Blocks(self._deflate)
        self._out.write(self._local_header())

    def _local_header(self) -> bytes:
        zip64_extra = struct.pack("<HHQQ", 0x0001, 16, 0, 0)
        fixed = struct.pack(
            "<IHHHHHIIIHH", 0x04034B50, 45, 0x0808, 8, self._DOS_TIME, self._DOS_DATE,
            0, 0xFFFFFFFF, 0xFFFFFFFF, len(self._name), len(zip64_extra),
        )  # fmt: skip
        return fixed + self._name + zip64_extra

    def _deflate(self, block) -> None:
        self._crc = zlib.crc32(block, self._crc)
        self._size += len(block)
        self._emit(self._codec.compress(block))

    def _emit(self, data: bytes) -> None:
        self._compressed += len(data)
        self._out.write(data)

    def write(self, data) -> None:
        self._blocks.write(data)

    def close(self) -> tuple[int, str]:
        self._blocks.finish()
        self._emit(self._codec.flush())
        self._out.write(struct.pack("<IIQQ", 0x08074B50, self._crc, self._compressed, self._size))
        directory_start = self._out.bytes
        self._out.write(self._central_entry())
        self._out.write(self._end_records(directory_start, self._out.bytes - directory_start))
        return self._out.close()

    def _central_entry(self) -> bytes:
        zip64_extra = struct.pack("<HHQQQ", 0x0001, 24, self._size, self._compressed, 0)
        fixed = struct.pack(
            "<IHHHHHHIIIHHHHHII", 0x02014B50, 0x031E, 45, 0x0808, 8, self._DOS_TIME,
            self._DOS_DATE, self._crc, 0xFFFFFFFF, 0xFFFFFFFF, len(self._name),
            len(zip64_extra), 0, 0, 0, 0o100644 << 16, 0xFFFFFFFF,
        )  # fmt: skip
        return fixed + self._name + zip64_extra

    def _end_records(self, directory_start: int, directory_size: int) -> bytes:
        end64_start = directory_start + directory_size
        end64 = struct.pack(
            "<IQHHIIQQQQ", 0x06064B50, 44, 0x031E, 45, 0, 0, 1, 1,
            directory_size, directory_start,
        )  # fmt: skip
        locator = struct.pack("<IIQI", 0x07064B50, 0, end64_start, 1)
        end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, directory_size, 0xFFFFFFFF, 0)
        return end64 + locator + end


def open_sink(path: Path, compression: str) -> Sink:
    """The sink for a text file: plain, gzip or zip (the entry is the name without .zip)."""
    if compression == "gzip":
        return GzipSink(path)
    if compression == "zip":
        return ZipSink(path, path.name.removesuffix(".zip"))
    return PlainSink(path)
