"""The Astro-style DAG integrity test: every DAG file imports, and every DAG is well formed."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from include_copy import copy_include

ROOT = Path(__file__).resolve().parents[2]
EXPORT_CHAIN = ["wait_for_refresh", "check_eligibility", "check_limits", "extract", "validate"]


def load_dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags"))


@pytest.fixture(scope="module")
def dagbag():
    return load_dagbag()


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}


def test_every_definition_is_a_dag(dagbag):
    exports = sorted(path.stem for path in (ROOT / "include" / "exports").glob("*.yaml"))
    assert exports, "the demo ships example exports"
    for export_id in exports:
        assert f"export__{export_id}" in dagbag.dags


def test_every_dag_has_tags_owner_and_retries(dagbag):
    for dag_id, dag in dagbag.dags.items():
        assert dag.tags, f"{dag_id} has no tags"
        for task in dag.tasks:
            assert task.owner and task.owner != "airflow", f"{dag_id}.{task.task_id} has no owner"
            assert task.retries is not None, f"{dag_id}.{task.task_id} sets no retries"


def test_export_dags_follow_the_design_chain(dagbag):
    dag = dagbag.dags["export__daily_lead_backup"]
    for upstream, downstream in itertools.pairwise(EXPORT_CHAIN):
        assert downstream in dag.get_task(upstream).downstream_task_ids
    delivers = [t for t in dag.task_ids if t.startswith("deliver_")]
    assert delivers and dag.get_task("validate").downstream_task_ids == set(delivers)
    for task_id in delivers:
        assert dag.get_task(task_id).downstream_task_ids == {"finalize"}


def test_a_broken_definition_hides_no_other_export(tmp_path, monkeypatch):
    include = copy_include(tmp_path)
    (include / "exports" / "broken.yaml").write_text(
        "id: broken\nname: Broken\nsource: {table: leads}\ndestinations: [{type: download}]\n"
    )
    monkeypatch.setenv("FERRY_INCLUDE", str(include))
    dagbag = load_dagbag()
    assert "export__daily_lead_backup" in dagbag.dags
    broken = dagbag.dags["ferry_broken__exports.broken"]
    assert "unknown table 'leads'; did you mean 'lead'?" in broken.doc_md
    [(file, message)] = dagbag.import_errors.items()
    assert file.endswith("ferry_definition_errors.py")
    assert "exports/broken.yaml:3 -> source.table -> unknown table 'leads'" in message


HEAVY_MODULES = ("duckdb", "pandas", "pyarrow", "great_expectations", "paramiko", "ferry.engine")


def test_parsing_the_dags_imports_nothing_heavy(tmp_path):
    """DAG files parse on every refresh: no warehouse, dataframe or SSH library at import."""
    probe = (
        "import sys, json\n"
        "from airflow.dag_processing.dagbag import DagBag\n"
        f"bag = DagBag(dag_folder={str(ROOT / 'dags')!r})\n"
        f"print(json.dumps([len(bag.dags), [m for m in {HEAVY_MODULES!r} if m in sys.modules]]))\n"
    )
    env = {**os.environ, "FERRY_HOME": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    )
    dags, heavy = json.loads(result.stdout.strip().splitlines()[-1])
    assert dags >= 5 and heavy == []


GOOD_EXPORT = (
    "id: {id}\nname: Bad\nsource: {{table: lead}}\nfields: [lead_id, state]\n"
    "destinations: [{{type: download}}]\n"
)
BOMB = "".join(
    f"x{level}: &x{level} [{', '.join([f'*x{level - 1}' if level else 'lol'] * 9)}]\n"
    for level in range(9)
)
ONE_FILE_HID_EVERY_EXPORT = {  # issue 10, item 2: each left 0 export__ DAGs
    "latin1": "id: latin1\nname: Café\n".encode("latin-1"),
    "utf16": GOOD_EXPORT.format(id="utf16").encode("utf-16"),
    "feb30": GOOD_EXPORT.format(id="feb30") + "expires: 2026-02-30\n",
    "long_tag": GOOD_EXPORT.format(id="long_tag") + f"tags: [{'t' * 101}]\n",
    "never": GOOD_EXPORT.format(id="never") + "schedule: '0 0 31 2 *'\nexpires: 2027-01-01\n",
    "year_one": GOOD_EXPORT.format(id="year_one") + "schedule: '0 2 * * *'\nexpires: 0001-01-01\n",
    "year_9999": GOOD_EXPORT.format(id="year_9999")
    + "schedule: once\ntimezone: America/New_York\nexpires: 9999-12-31\n",
    "b" * 240: "id: long_name\n",
    "bomb_kind": BOMB.replace("x0:", "description:") + GOOD_EXPORT.format(id="bk") + "kind: *x8\n",
    "bomb_pii": GOOD_EXPORT.format(id="bp") + BOMB + "pii: *x8\n",
    "duplicate": GOOD_EXPORT.format(id="duplicate") + "pii: {email: hash, email: keep}\n",
}


def shipped_dag_ids() -> set[str]:
    """The export__ and group__ DAGs of the shipped definitions."""
    exports = {f"export__{p.stem}" for p in (ROOT / "include" / "exports").glob("*.yaml")}
    return exports | {f"group__{p.stem}" for p in (ROOT / "include" / "groups").glob("*.yaml")}


@pytest.mark.parametrize("name", list(ONE_FILE_HID_EVERY_EXPORT), ids=lambda n: n[:20])
def test_one_bad_file_hides_no_other_dag(tmp_path, monkeypatch, name):
    include = copy_include(tmp_path)
    path = include / "exports" / f"{name}.yaml"
    content = ONE_FILE_HID_EVERY_EXPORT[name]
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    monkeypatch.setenv("FERRY_INCLUDE", str(include))
    dagbag = load_dagbag()
    assert shipped_dag_ids() <= set(dagbag.dags)
    assert {"ferry_refresh", "ferry_housekeeping"} <= set(dagbag.dags)
    broken = [dag_id for dag_id in dagbag.dags if dag_id.startswith("ferry_broken__")]
    assert len(broken) == 1 and len(broken[0]) <= 250
    [(file, message)] = dagbag.import_errors.items()
    assert file.endswith("ferry_definition_errors.py")
    assert f"include/exports/{name}.yaml" in message


def _add_after(path: Path, line: str, added: str) -> None:
    text = path.read_text()
    assert line in text
    path.write_text(text.replace(line, line + added, 1))


CATALOGUE_ENTRY_BROKEN = {  # one entry of tables.yaml or targets.yaml left 0 export__ DAGs
    "table": ("warehouse/tables.yaml", "      city: {type: VARCHAR}\n", "customer_profiles_csv"),
    "target": ("targets.yaml", "  mailchimp:\n", "mailchimp_high_value"),
}


@pytest.mark.parametrize("entry", list(CATALOGUE_ENTRY_BROKEN))
def test_one_broken_catalogue_entry_hides_only_what_uses_it(tmp_path, monkeypatch, entry):
    relative, line, user = CATALOGUE_ENTRY_BROKEN[entry]
    include = copy_include(tmp_path)
    _add_after(include / relative, line, line)  # a duplicate key
    monkeypatch.setenv("FERRY_INCLUDE", str(include))
    dagbag = load_dagbag()
    assert {"export__daily_lead_backup", "export__linkedin_enterprise_accounts"} <= set(dagbag.dags)
    assert {"ferry_refresh", "ferry_housekeeping"} <= set(dagbag.dags)
    assert f"export__{user}" not in dagbag.dags
    refused = dagbag.dags[f"ferry_broken__exports.{user}"]
    name = line.strip().split(":")[0] if entry == "target" else "customer_profile"
    assert f"{entry} '{name}' has errors of its own; fix it first" in refused.doc_md
    [(_, message)] = dagbag.import_errors.items()
    assert f"include/{relative}:" in message and "duplicate key" in message
