"""render_imports: one DAG per import; one that Airflow refuses at render becomes its own
error DAG and takes no other import with it."""

from __future__ import annotations

from ferry.render import imports
from ferry.spec.loader import load_project
from include_copy import copy_include

SECOND = """\
id: second
name: Second
source: {type: folder, pattern: "x.csv"}
table: lead
mode: overwrite
"""


def test_each_import_renders_and_a_refused_one_gets_its_error_dag(tmp_path, monkeypatch):
    include = copy_include(tmp_path)
    (include / "imports" / "second.yaml").write_text(SECOND)
    project = load_project(include)
    built = imports.import_dag

    def refuse_second(spec, project):
        if spec.id == "second":
            raise ValueError("a value Airflow refuses")
        return built(spec, project)

    monkeypatch.setattr(imports, "import_dag", refuse_second)
    dags = imports.render_imports(project)
    assert "import__partner_leads" in dags and "import__second" not in dags
    broken = dags["ferry_broken__imports.second"]
    assert "Airflow refused it: ValueError: a value Airflow refuses" in broken.doc_md
    assert "include/imports/second.yaml" in broken.doc_md


def test_an_import_dag_documents_its_table_mode_and_definition(tmp_path):
    project = load_project(copy_include(tmp_path))
    dag = imports.import_dag(project.imports["partner_leads"], project)
    assert "Loads table `lead` by **merge**" in dag.doc_md
    assert dag.description.startswith("Partner leads: ")
    assert dag.max_active_runs == 1 and not dag.catchup
