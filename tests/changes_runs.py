"""Changes-only exports run here and now (`ferry run --local`'s code), on a private copy of
the demo warehouse, with what each run delivered parsed back by the csv module.
"""

from __future__ import annotations

import csv
import json
import shutil
import textwrap
from pathlib import Path

import duckdb
import pytest

from ferry import history, paths
from ferry.cli.local import run_one
from ferry.definitions import current_project
from ferry.run_info import RunInfo
from include_copy import copy_include
from servers import airflow_connection

PII_KEY = "changes-test-pii-key"
EXPORT = """\
id: {id}
name: Profile changes {id}
source: {{table: customer_profile}}
fields: [profile_id, {{field: city, as: City}}, lifetime_value, {{field: email, as: Email}}]
pii: {{email: mask}}
changes: {changes}
destinations: {destinations}
schedule: "off"
"""


class Home:
    """A FERRY_HOME, include/ and warehouse of one test."""

    def __init__(self, root: Path, warehouse: Path) -> None:
        self.root, self.include = root, copy_include(root)
        self.warehouse = root / "warehouse.duckdb"
        shutil.copyfile(warehouse, self.warehouse)

    def define(self, export_id: str, changes: str = "true", *, destinations: str = "",
               extra: str = "") -> str:  # fmt: skip
        text = EXPORT.format(id=export_id, changes=changes,
                             destinations=destinations or "[{type: download}]")  # fmt: skip
        (self.include / "exports" / f"{export_id}.yaml").write_text(text + textwrap.dedent(extra))
        assert not current_project().errors, current_project().errors
        return export_id

    def sql(self, *statements: str) -> None:
        with duckdb.connect(str(self.warehouse)) as con:
            for statement in statements:
                con.execute(statement)

    def rows(self, query: str) -> list[tuple]:
        with duckdb.connect(str(self.warehouse), read_only=True) as con:
            return con.execute(query).fetchall()


def make_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, warehouse: Path) -> Home:
    """A Home, its folders set in the environment: what a test's `home` fixture returns."""
    made = Home(tmp_path, warehouse)
    monkeypatch.setenv("FERRY_HOME", str(tmp_path / "ferry"))
    monkeypatch.setenv("FERRY_INCLUDE", str(made.include))
    monkeypatch.setenv("FERRY_WAREHOUSE", str(made.warehouse))
    monkeypatch.delenv("FERRY_STAGING", raising=False)
    monkeypatch.setenv("FERRY_DELIVERY_ATTEMPTS", "1")  # a target down fails at once
    monkeypatch.setenv(*airflow_connection("ferry_pii", conn_type="generic", password=PII_KEY))
    return made


def run(export_id: str, run_id: str) -> int:
    """One run, as `ferry run --local` makes it; its exit code (0 delivered, 1 not)."""
    return run_one(RunInfo(export_id, run_id, triggered_by="test"), as_json=True)


def run_folder(export_id: str, run_id: str) -> Path:
    return paths.downloads_dir() / export_id / RunInfo(export_id, run_id).job_run_id


def manifest_of(export_id: str, run_id: str) -> dict:
    return json.loads((run_folder(export_id, run_id) / "manifest.json").read_text())


def delivered(export_id: str, run_id: str, prefix: str = "") -> tuple[list[str], list[list[str]]]:
    """The header and rows of the run's delivered CSV data files (those named prefix*)."""
    folder, header, rows = run_folder(export_id, run_id), [], []
    for staged in manifest_of(export_id, run_id)["files"]:
        if staged["kind"] != "data" or not staged["name"].startswith(prefix):
            continue
        with (folder / staged["name"]).open(newline="", encoding="utf-8") as stream:
            reader = csv.reader(stream)
            header = next(reader)
            rows += list(reader)
    return header, rows


def file_bytes(export_id: str, run_id: str) -> dict[str, bytes]:
    folder = run_folder(export_id, run_id)
    return {path.name: path.read_bytes() for path in sorted(folder.glob("*.csv"))}


def outcome(export_id: str, run_id: str) -> str:
    record = history.get_run(RunInfo(export_id, run_id).job_run_id)
    return record.outcome if record else "none"


def masked(email: str | None) -> str:
    """The demo's mask of an email: first letter, ***, the domain."""
    if email is None:
        return ""
    name, _, domain = email.partition("@")
    return f"{name[:1]}***@{domain}"


def profile_line(row: tuple, change: str) -> list[str]:
    """A customer_profile row (profile_id, city, lifetime_value, email) as the CSV has it."""
    profile_id, city, value, email = row
    return [str(profile_id), city or "", "" if value is None else str(value), masked(email),
            change]  # fmt: skip


def profiles(home: Home, where: str = "TRUE") -> list[tuple]:
    return home.rows(
        "SELECT profile_id, city, lifetime_value, email FROM customer_profile "
        f"WHERE {where} ORDER BY profile_id"
    )
