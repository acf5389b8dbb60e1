"""Byte sinks: deterministic gzip and zip whatever the write sizes, readable by standard tools."""

from __future__ import annotations

import errno
import gzip
import hashlib
import random
import subprocess
import sys
import zipfile

import pytest

from ferry.engine import sinks
from ferry.engine.sinks import open_sink


def sample_bytes(size: int) -> bytes:
    generator = random.Random(7)
    words = [b"alpha,", b"beta\n", b'"gamma"', "delta \u00e9\u00e8".encode(), bytes(range(256))]
    out = bytearray()
    while len(out) < size:
        out += generator.choice(words)
    return bytes(out[:size])


def write_in_pieces(path, compression, data, piece_sizes) -> tuple[int, str]:
    sink = open_sink(path, compression)
    start = 0
    for size in piece_sizes:
        sink.write(data[start : start + size])
        start += size
    sink.write(data[start:])
    return sink.close()


@pytest.mark.parametrize("compression", ["none", "gzip", "zip"])
def test_output_does_not_depend_on_how_writes_are_cut(tmp_path, compression, monkeypatch):
    monkeypatch.setattr(sinks, "BLOCK_BYTES", 4096)
    data = sample_bytes(50_000)
    cuts = [[], [1, 4095, 4097, 3], [30_000], [7] * 900]
    results = []
    for index, pieces in enumerate(cuts):
        (tmp_path / str(index)).mkdir()
        path = tmp_path / str(index) / f"out.csv.{compression}"
        size, digest = write_in_pieces(path, compression, data, pieces)
        assert (size, digest) == (
            path.stat().st_size,
            hashlib.sha256(path.read_bytes()).hexdigest(),
        )
        results.append(digest)
    assert len(set(results)) == 1


def test_gzip_has_no_time_or_name_and_round_trips(tmp_path):
    data = sample_bytes(3_000_000)
    path = tmp_path / "part_00001.csv.gz"
    write_in_pieces(path, "gzip", data, [1000, 2_000_000])
    header = path.read_bytes()[:10]
    assert header[:4] == b"\x1f\x8b\x08\x00"  # deflate, no FNAME/FCOMMENT/FEXTRA flags
    assert header[4:8] == b"\x00\x00\x00\x00"  # mtime 0
    assert gzip.decompress(path.read_bytes()) == data


@pytest.mark.parametrize("size", [0, 1, 2_500_000])
def test_zip_holds_one_entry_with_a_fixed_time(tmp_path, size):
    data = sample_bytes(size)
    path = tmp_path / "leads_00001.csv.zip"
    write_in_pieces(path, "zip", data, [size // 3])
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None
        (info,) = archive.infolist()
        assert info.filename == "leads_00001.csv"
        assert info.date_time == (1980, 1, 1, 0, 0, 0)
        assert info.file_size == size
        assert archive.read(info) == data


def test_a_write_the_file_system_takes_only_part_of_fails_instead_of_truncating(tmp_path):
    """Over the file size limit the kernel writes what fits and says so; the rest must not be
    dropped silently (the manifest would carry the sha256 of bytes the file does not hold)."""
    script = (
        "import resource, signal, sys\n"
        "from pathlib import Path\n"
        "from ferry.engine.sinks import PlainSink\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (1000, resource.RLIM_INFINITY))\n"
        "sink = PlainSink(Path(sys.argv[1]))\n"
        "try:\n"
        "    sink.write(b'x' * 1500)\n"
        "except OSError as error:\n"
        "    print('refused', error.errno)\n"
        "else:\n"
        "    print('written', sink.close()[0])\n"
    )
    target = tmp_path / "part.csv"
    done = subprocess.run([sys.executable, "-c", script, str(target)], capture_output=True,
                          text=True, check=True)  # fmt: skip
    assert done.stdout.split() == ["refused", str(errno.EFBIG)]
    assert target.stat().st_size == 1000
