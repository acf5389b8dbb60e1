"""Fixtures of the spec tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from include_copy import copy_include


@pytest.fixture
def include(tmp_path: Path) -> Path:
    """A copy of the repo's include/ to break at will."""
    return copy_include(tmp_path)
