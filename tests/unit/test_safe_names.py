"""Run ids as folder names: safe, injective, reversible, bounded; plain file names only."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from ferry import staging
from ferry.run_info import RunInfo
from ferry.safe_names import (
    MAX_NAME,
    folder_name,
    inside,
    path_problem,
    run_id_of,
    segment_problem,
)
from ferry.spec import templates
from ferry.spec.loader import load_project
from ferry.spec.models import Format
from include_copy import copy_include

AIRFLOW_ID = "manual__2026-11-20T00:00:00+00:00"
TRICKY = [
    "..", ".", "", "~", "~~", "/", "a/b", "a\\b", "a_b", "a~5Fb", "a b", "a\x00b", ".hidden",
    AIRFLOW_ID, AIRFLOW_ID + "~", AIRFLOW_ID.replace(":", "_"), AIRFLOW_ID.replace("+", "~"),
    "scheduled__2026-11-20T00:00:00.123456+00:00", "ü", "💥", "x" * 250, "x" * 249 + "y",
    "é" * 200, "~" * 250,
]  # fmt: skip


@pytest.mark.parametrize("run_id", TRICKY)
def test_every_name_is_one_safe_segment(run_id):
    name = folder_name(run_id)
    assert name and name not in (".", "..") and not name.startswith(".")
    assert "/" not in name and "\\" not in name and "\x00" not in name
    assert len(name) <= MAX_NAME and name.isascii()


def test_different_ids_give_different_names_and_history_keys():
    names = [folder_name(run_id) for run_id in TRICKY]
    assert len(set(names)) == len(TRICKY)
    keys = {RunInfo("leads", run_id).job_run_id for run_id in TRICKY}
    assert len(keys) == len(TRICKY)


def test_the_issues_colliding_ids_are_told_apart():
    first, second = RunInfo("leads", AIRFLOW_ID), RunInfo("leads", AIRFLOW_ID + "~")
    assert first.safe_run_id == "manual__2026-11-20T00~3A00~3A00~2B00~3A00"
    assert second.safe_run_id == first.safe_run_id + "~7E"
    assert first.job_run_id != second.job_run_id


@pytest.mark.parametrize("run_id", [r for r in TRICKY if len(folder_name(r)) < MAX_NAME - 40])
def test_short_names_read_back_as_their_run_id(run_id):
    assert run_id_of(folder_name(run_id)) == run_id


def test_long_ids_keep_a_readable_start_and_a_hash():
    name = folder_name("scheduled__" + "x" * 300)
    assert name.startswith("scheduled__xxx") and "~~" in name and len(name) == MAX_NAME
    assert run_id_of(name) is None
    # a cut never splits an escape
    for length in range(80, 95):
        head = folder_name("a" * length + "é" * 50).split("~~")[0]
        assert run_id_of(head) is not None


def test_pairs_of_short_ids_never_collide():
    alphabet = ["a", ".", "~", "_", "/", "7E", "2E", "~7E"]
    ids = {"".join(p) for n in range(4) for p in itertools.product(alphabet, repeat=n)}
    assert len({folder_name(run_id) for run_id in ids}) == len(ids)


@pytest.mark.parametrize("name", ["", ".", "..", "../x", "a/b", "/etc/x", "a\\b", "a\x00b"])
def test_inside_refuses_names_that_are_not_plain_files(tmp_path, name):
    with pytest.raises(ValueError, match="not a plain file name"):
        inside(tmp_path, name)


def test_inside_refuses_a_link_that_points_out(tmp_path: Path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "x.csv").symlink_to(tmp_path / "elsewhere.csv")
    with pytest.raises(ValueError, match="resolves outside"):
        inside(tmp_path / "run", "x.csv")
    assert inside(tmp_path / "run", "y.csv") == tmp_path / "run" / "y.csv"


@pytest.mark.parametrize(
    "name", ["../../../../x", "/tmp/x", "a/b", "a\\b", "a\x00b", "", ".hidden", "x y", "é"]
)
def test_a_format_name_that_is_not_a_plain_stem_is_a_definition_error(tmp_path, name):
    include = copy_include(tmp_path)
    (include / "exports" / "named.yaml").write_text(
        "id: named\nname: Named\nsource: {table: lead}\nfields: [lead_id]\n"
        f"format: {{type: csv, name: {json.dumps(name)}}}\n"
        "destinations: [{type: download}]\n"
    )
    project = load_project(include)

    [error] = [str(e) for e in project.errors]
    assert error.startswith("include/exports/named.yaml:5 -> format.name -> ")
    assert f"{name!r} is not a plain file name" in error and "e.g. daily_leads" in error
    assert "daily_lead_backup" in project.exports


def test_a_plain_format_name_names_the_files():
    assert Format(name="Daily-leads_2").name == "Daily-leads_2"


NAMES = ["..", ".", " .. ", "...", ". .", "", " ", "a/b", "a\\b", "a\x00b", "a\nb", "a\x7fb",
         "ok", ".hidden", "a..b", "x y", "é", "manual__2026-11-20T00~3A00"]  # fmt: skip


@pytest.mark.parametrize("name", NAMES)
def test_every_place_that_takes_a_name_follows_the_one_rule(tmp_path, name):
    refused = segment_problem(name) is not None

    def refuses(action) -> bool:
        try:
            action()
        except ValueError:
            return True
        return False

    assert refuses(lambda: inside(tmp_path, name)) == refused
    assert refuses(lambda: staging.run_location(str(tmp_path), "leads", name)) == refused
    if "/" not in name:  # in a path, '/' separates two segments
        assert (path_problem(f"x/{name}/y", absolute=False) is not None) == refused
    if name.strip():  # an empty value is the path's problem, not the placeholder's
        values = {"run_id": name, "part": "00001"}
        render = lambda: templates.render_path("r/{{ run_id }}_{{ part }}.csv", values)  # noqa: E731
        assert refuses(render) == refused


@pytest.mark.parametrize(
    ("path", "absolute", "problem"),
    [
        ("", False, "is empty"),
        ("/etc/x", False, "must be relative"),
        ("a//b", True, "empty path segment"),
        ("a/../b", True, "'..' or '.' segments"),
        ("a/ .. /b", True, "'..' or '.' segments"),
        ("..\\..\\etc\\x.csv", True, "would add a folder"),
        ("a/b\nc", False, "control character"),
    ],
)
def test_a_path_that_could_leave_its_folder_is_refused(path, absolute, problem):
    assert problem in path_problem(path, absolute=absolute)


@pytest.mark.parametrize(("path", "absolute"), [("a/b.csv", False), ("a/b/", False), ("/", True),
                                                ("/srv/x/", True), ("a..b/.x", False)])  # fmt: skip
def test_a_path_that_stays_inside_passes(path, absolute):
    assert path_problem(path, absolute=absolute) is None
