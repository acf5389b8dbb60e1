"""Run values as folder names and keys: one reversible escaping, and the path rules.

Airflow accepts run ids such as '..', '.', 'a~b' or (with a custom allowed_run_id_pattern)
'a/b'. Every folder, S3 key, history key and header built from a run id goes through
folder_name(), which is safe and injective:

- [A-Za-z0-9_-] stay as they are; every other character, '~' and '.' included, becomes
  ~XX per UTF-8 byte (upper-case hex), so no name contains '/', starts with '.' or is '..'.
- the empty id is '~', which no other id gives ('~' is otherwise followed by two hex
  digits or by a second '~').
- a name longer than MAX_NAME keeps its first characters, then '~~' and 32 hex digits of
  the id's SHA-256, so folder names stay far below file system limits.

segment_problem() and path_problem() are the one statement of what a name or a path
must be to stay where it is put; templates, staging and delivery all ask them.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

MAX_NAME = 120
_HASH_CHARS = 32
_KEPT = re.compile(r"[A-Za-z0-9_-]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DOTS = "would move up or stay in the folder"


def folder_name(run_id: str) -> str:
    """The escaped, bounded folder name of a run id (see the module's rules)."""
    if not run_id:
        return "~"
    pieces = [_escape(char) for char in run_id]
    if sum(map(len, pieces)) <= MAX_NAME:
        return "".join(pieces)
    digest = hashlib.sha256(run_id.encode("utf-8", "surrogatepass")).hexdigest()[:_HASH_CHARS]
    head, room = [], MAX_NAME - 2 - _HASH_CHARS
    for piece in pieces:  # whole characters only: the head still reads back
        if len(piece) > room:
            break
        head.append(piece)
        room -= len(piece)
    return f"{''.join(head)}~~{digest}"


def _escape(char: str) -> str:
    if _KEPT.fullmatch(char):
        return char
    return "".join(f"~{byte:02X}" for byte in char.encode("utf-8", "surrogatepass"))


def run_id_of(name: str) -> str | None:
    """The run id folder_name() gave name, or None when the name was shortened."""
    if name == "~":
        return ""
    if "~~" in name:
        return None
    return re.sub(
        r"(?:~[0-9A-F]{2})+",
        lambda found: bytes.fromhex(found.group(0).replace("~", "")).decode(
            "utf-8", "surrogatepass"
        ),
        name,
    )


def segment_problem(name: str) -> str | None:
    """Why name cannot be one plain path segment (a file or folder name); None when it can.

    Refused: an empty or blank name; a name of only dots and spaces ('..', ' .. ', '...'),
    which moves up or stays put on some system (or once trimmed); '/' or '\\' (a
    separator on some system); NUL and other control characters.
    """
    if not name.strip():
        return "is empty or blank"
    if not name.replace(".", "").strip():
        return _DOTS
    if "/" in name or "\\" in name:
        return "would add a folder (it holds '/' or '\\')"
    if _CONTROL.search(name):
        return "holds a control character"
    return None


def path_problem(path: str, *, absolute: bool) -> str | None:
    """Why a '/'-separated path could leave the folder it is put under; None when it stays.

    Every segment must pass segment_problem; a trailing '/' (a folder) is allowed, and a
    leading '/' only where the destination takes absolute paths.
    """
    if not path.strip():
        return "is empty"
    if path.startswith("/") and not absolute:
        return "must be relative (no leading '/')"
    inner = path.removeprefix("/").removesuffix("/")
    if not inner:
        return None  # '/': the root of a destination that takes absolute paths
    segments = inner.split("/")
    if "" in segments:
        return "has an empty path segment ('//')"
    for segment in segments:
        problem = segment_problem(segment)
        if problem == _DOTS:
            return "has '..' or '.' segments that could leave the destination folder"
        if problem:
            return f"has the segment {segment!r}, which {problem}"
    return None


def inside(folder: Path, name: str) -> Path:
    """folder/name, after checking it is a plain file name that stays inside folder.

    Raises:
        ValueError: name is not one plain segment (segment_problem), or resolves outside.
    """
    problem = segment_problem(name)
    if problem:
        raise ValueError(f"{name!r} is not a plain file name ({problem}); it could leave {folder}")
    path = folder / name
    if path.resolve().parent != folder.resolve():
        raise ValueError(f"{path} resolves outside {folder}")
    return path


FILE_STEM = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}")


def file_stem(value: str) -> str:
    """format.name: files are <name>_<part>.<ext> inside the run's staging folder.

    A pydantic validator: a ValueError becomes a definition error naming the field.
    """
    if not FILE_STEM.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a plain file name; use 1-100 letters, digits, _ and - "
            "(a letter or digit first), e.g. daily_leads"
        )
    return value
