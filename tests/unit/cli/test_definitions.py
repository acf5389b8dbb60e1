"""`ferry validate`, `ferry definitions`, `ferry schema`: a wrong place is one clear line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator
from pydantic import ValidationError

from ferry.cli import main as ferry
from ferry.cli.definitions import SCHEMA_KINDS
from ferry.spec.loader import load_project
from ferry.spec.models import ExportSpec, TablesFile, TargetsFile
from include_copy import ROOT, copy_include


def test_validate_of_a_folder_that_is_not_there_is_an_error_not_ok(tmp_path: Path, capsys):
    missing = tmp_path / "nowhere"

    assert ferry(["validate", str(missing)]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"error: {missing} is not a folder of definitions (the path given); give the include/ "
        "folder that holds exports/, segments/, groups/, targets.yaml and warehouse/tables.yaml\n"
    )


def test_definitions_says_when_ferry_include_is_not_a_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FERRY_INCLUDE", str(tmp_path / "typo"))

    assert ferry(["definitions"]) == 2
    assert "(FERRY_INCLUDE, else the repository's include/)" in capsys.readouterr().err


def test_schema_into_a_file_is_one_line_not_a_traceback(tmp_path: Path, capsys):
    a_file = tmp_path / "schemas"
    a_file.write_text("")

    assert ferry(["schema", "--out", str(a_file)]) == 2
    assert capsys.readouterr().err == f"error: cannot write the schemas to {a_file}: File exists\n"


@pytest.fixture(scope="module")
def validators(tmp_path_factory) -> dict[str, Draft202012Validator]:
    """`ferry schema --out` as an editor gets it, each schema checked as Draft 2020-12."""
    folder = tmp_path_factory.mktemp("schemas")
    assert ferry(["schema", "--out", str(folder)]) == 0
    validators = {}
    for kind in SCHEMA_KINDS:
        schema = json.loads((folder / f"{kind}.schema.json").read_text())
        Draft202012Validator.check_schema(schema)
        validators[kind] = Draft202012Validator(
            schema, format_checker=Draft202012Validator.FORMAT_CHECKER
        )
    return validators


def _as_an_editor_reads(text: str) -> object:
    """YAML as JSON data: dates stay text, as a YAML language server sees them."""
    return json.loads(json.dumps(yaml.safe_load(text), default=str))


def _shipped() -> list[tuple[str, Path]]:
    include = ROOT / "include"
    folders = {"export": "exports", "import": "imports", "segment": "segments", "group": "groups"}
    files = [(kind, p) for kind, f in folders.items() for p in (include / f).glob("*.yaml")]
    files += [("targets", include / "targets.yaml")]
    return [*files, ("tables", include / "warehouse" / "tables.yaml")]


def _shipped_export() -> dict:
    return _as_an_editor_reads((ROOT / "include/exports/daily_lead_backup.yaml").read_text())


def test_every_shipped_definition_validates_against_the_published_schema(validators):
    shipped = _shipped()

    assert {kind for kind, _ in shipped} == set(SCHEMA_KINDS)
    for kind, path in shipped:
        errors = [
            f"{path.name}: {list(e.absolute_path)}: {e.message}"
            for e in validators[kind].iter_errors(_as_an_editor_reads(path.read_text()))
        ]
        assert errors == []


BROKEN = {
    "an unknown key": ("retires: 3\n", ["Additional properties are not allowed ('retires'"]),
    "a number as text": ("retries: many\n", ["'many' is not of type 'integer'"]),
    "a size in no unit": ("limits: {max_bytes: 5 parsecs}\n", ["limits", "max_bytes"]),
    "a schedule word": ("schedule: sometimes\n", ["schedule"]),
    "a list for a mapping": ("format: [csv]\n", ["format"]),
}


@pytest.mark.parametrize("name", BROKEN)
def test_a_broken_export_fails_the_published_schema_and_the_loader(name, validators, tmp_path):
    line, said = BROKEN[name]
    include = copy_include(tmp_path)
    export = include / "exports" / "daily_lead_backup.yaml"
    text = export.read_text()
    text = "\n".join(
        kept for kept in text.splitlines() if not kept.startswith(line.split(":")[0] + ":")
    )
    export.write_text(text + "\n" + line)

    errors = list(validators["export"].iter_errors(_as_an_editor_reads(export.read_text())))
    assert len(errors) == 1
    where = " ".join([*map(str, errors[0].absolute_path), errors[0].message])
    assert all(part in where for part in said), where
    project = load_project(include)
    assert "daily_lead_backup" not in project.exports
    assert any("daily_lead_backup.yaml" in str(error) for error in project.errors)


def test_a_table_or_target_named_against_the_rules_fails_the_schema_and_the_loader(validators):
    tables = _as_an_editor_reads((ROOT / "include/warehouse/tables.yaml").read_text())
    targets = _as_an_editor_reads((ROOT / "include/targets.yaml").read_text())
    tables["tables"]["Bad-Name"] = next(iter(tables["tables"].values()))
    targets["targets"]["Bad-Name"] = next(iter(targets["targets"].values()))

    assert not validators["tables"].is_valid(tables)
    assert not validators["targets"].is_valid(targets)
    with pytest.raises(ValidationError):
        TablesFile.model_validate(tables)
    with pytest.raises(ValidationError):
        TargetsFile.model_validate(targets)


SIZES = ["5GB", "250 MB", "1kb", "7 b", "1.5TB", 1000, "5K", "GB", "-5MB", "5 GiB", 0]


@pytest.mark.parametrize("size", SIZES)
def test_the_schema_and_the_loader_agree_on_sizes(size: object, validators):
    export = _shipped_export()
    export["limits"]["max_bytes"] = size

    by_schema = validators["export"].is_valid(export)
    try:
        ExportSpec.model_validate(export)
        by_loader = True
    except ValidationError:
        by_loader = False
    assert by_schema == by_loader


def test_an_unquoted_off_schedule_is_valid_for_both(validators):
    export = {**_shipped_export(), **_as_an_editor_reads("schedule: off")}

    assert export["schedule"] is False  # YAML 1.1 reads an unquoted off as false
    assert validators["export"].is_valid(export)
    assert ExportSpec.model_validate(export).schedule == "off"
