"""Ferry's C parts (hmac_native, lines_native, json_lines_native): each library is loaded
only when scripts/setup built it from its current source, and an environment switch turns
one off; without it Ferry computes the same bytes in SQL, more slowly."""

from __future__ import annotations

import ctypes
import logging
import os
from pathlib import Path

OFF_VALUES = ("0", "off", "false", "no")

log = logging.getLogger(__name__)


def switched_off(switch: str) -> bool:
    """Whether the environment variable switch says off (0, off, false, no)."""
    return os.environ.get(switch, "").lower() in OFF_VALUES


def load(source: Path, library: Path, without_it: str) -> ctypes.CDLL | None:
    """The library built from source, or None with a warning saying what is slower
    (without_it) when it is missing or older than its source."""
    if not library.exists() or library.stat().st_mtime < source.stat().st_mtime:
        log.warning("%s is missing or older than its source: %s. scripts/setup builds it.",
                    library.name, without_it)  # fmt: skip
        return None
    return ctypes.CDLL(str(library))  # CDLL: the GIL is let go during each call
