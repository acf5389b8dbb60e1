"""Output options of an export: changes-only delivery and time chunks, as a user writes them."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from ferry.spec.output import Changes, ChangesOption, ChunkBy, Format

CHANGES = TypeAdapter(ChangesOption)


def test_changes_true_means_every_default_and_false_means_none():
    assert CHANGES.validate_python(True) == Changes(output="column", key=None)
    assert CHANGES.validate_python(False) is None
    assert CHANGES.validate_python({"output": "files", "key": "lead_id"}).output == "files"


def test_changes_refuses_an_unknown_output():
    with pytest.raises(ValidationError, match="column"):
        CHANGES.validate_python({"output": "rows"})


def test_chunk_by_takes_a_column_and_a_period():
    fmt = Format.model_validate({"chunk_by": {"column": "created_at", "every": "week"}})
    assert fmt.chunk_by == ChunkBy(column="created_at", every="week")
    with pytest.raises(ValidationError, match="hour"):
        Format.model_validate({"chunk_by": {"column": "created_at", "every": "fortnight"}})
