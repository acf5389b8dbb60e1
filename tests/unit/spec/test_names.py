"""Output names: Ferry's own are reserved and two columns never share a name."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from ferry.spec.loader import load_project
from include_copy import copy_include

EXPORT = """\
id: renamed
name: Renamed
source: {{table: lead}}
fields:
  - lead_id
  - {{field: state, as: {first}}}
  - {{field: country, as: {second}}}
format: {{type: parquet}}
destinations: [{{type: download}}]
"""


def _errors(tmp_path: Path, first: str, second: str) -> list[str]:
    include = copy_include(tmp_path)
    path = include / "exports" / "renamed.yaml"
    path.write_text(textwrap.dedent(EXPORT.format(first=first, second=second)))
    project = load_project(include)
    assert "daily_lead_backup" in project.exports  # the others still load
    return [str(error) for error in project.errors]


@pytest.mark.parametrize("reserved", ["__ferry_key", "__FERRY_anything"])
def test_ferry_s_own_names_are_reserved(tmp_path, reserved):
    [error] = _errors(tmp_path, reserved, "nation")
    assert error == (
        f"include/exports/renamed.yaml:6 -> fields[1].as -> '{reserved}' is reserved: "
        "names starting with __ferry are Ferry's own"
    )


@pytest.mark.parametrize(("first", "second"), [("Region", "Region"), ("Region", "REGION")])
def test_two_fields_with_one_output_name_are_refused_at_the_second(tmp_path, first, second):
    [error] = _errors(tmp_path, first, second)
    assert error == (
        f"include/exports/renamed.yaml:7 -> fields[2].as -> output name '{second}' is used "
        f"twice (also '{first}'; case does not count)"
    )


def test_a_rename_onto_another_field_s_name_is_refused(tmp_path):
    [error] = _errors(tmp_path, "lead_id", "nation")
    assert error.startswith("include/exports/renamed.yaml:6 -> fields[1].as -> output name")


@pytest.mark.parametrize("bad", ["''", '"tab\\there"', '"nul\\0"'])
def test_an_output_name_is_printable_text(tmp_path, bad):
    [error] = _errors(tmp_path, bad, "nation")
    assert ":6 -> fields[1].as -> " in error and "1 to 128 printable characters" in error


def test_distinct_names_still_load(tmp_path):
    include = copy_include(tmp_path)
    (include / "exports" / "renamed.yaml").write_text(
        EXPORT.format(first="Region", second="Nation")
    )
    project = load_project(include)
    assert project.errors == []
    names = [choice if isinstance(choice, str) else choice.output_name
             for choice in project.exports["renamed"].fields]  # fmt: skip
    assert names == ["lead_id", "Region", "Nation"]
