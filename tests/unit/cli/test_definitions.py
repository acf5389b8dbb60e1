"""`ferry validate`, `ferry definitions`, `ferry schema`: a wrong place is one clear line."""

from __future__ import annotations

from pathlib import Path

from ferry.cli import main as ferry


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
