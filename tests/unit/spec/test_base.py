"""What every definition model shares: strictness, identifiers and byte sizes."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from ferry.spec.base import MAX_BYTES, ByteSize, Identifier, parse_byte_size

from .helpers import GOOD_EXPORT, errors_of, write


@pytest.mark.parametrize(
    "written, count",
    [
        (1000, 1000),
        ("5GB", 5 * 10**9),
        ("250 MB", 250 * 10**6),
        ("1.5kb", 1500),
        ("7", 7),
        ("2 TB", 2 * 10**12),
    ],
)
def test_sizes_are_written_in_bytes_or_units(written, count):
    assert parse_byte_size(written) == count


@pytest.mark.parametrize("written", ["5 GiB", "lots", "-1MB", ""])
def test_a_size_that_is_not_one_says_how_to_write_it(written):
    with pytest.raises(ValueError, match=r"is not a size; write bytes or e\.g\. 500MB, 5GB"):
        parse_byte_size(written)


def test_a_size_above_a_petabyte_is_refused():
    sizes = TypeAdapter(ByteSize)
    assert sizes.validate_python("1000TB") == MAX_BYTES
    with pytest.raises(ValidationError):
        sizes.validate_python("1001TB")


@pytest.mark.parametrize("name", ["a", "lead_export_2", "x" * 63])
def test_identifiers_are_lower_snake_case(name):
    assert TypeAdapter(Identifier).validate_python(name) == name


@pytest.mark.parametrize("name", ["Lead", "2nd", "a-b", "x" * 64, "", "a b", "é"])
def test_other_identifiers_are_refused(name):
    with pytest.raises(ValidationError):
        TypeAdapter(Identifier).validate_python(name)


def test_a_bad_size_in_a_definition_names_its_line(include):
    write(include, "exports/big.yaml", GOOD_EXPORT.format(id="big") + "limits: {max_bytes: huge}\n")
    [error] = errors_of(include)
    assert error.startswith("include/exports/big.yaml:6 -> limits.max_bytes -> ")
    assert "is not a size" in error


def test_a_bad_id_names_its_line(include):
    write(include, "exports/bad.yaml", GOOD_EXPORT.format(id="Bad-Id"))
    [error] = errors_of(include)
    assert error.startswith("include/exports/bad.yaml:1 -> id -> ")
