"""Templates are data: only documented placeholders, refused at load otherwise, sandboxed."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import jinja2
import pytest
from jinja2.exceptions import SecurityError

from ferry.spec import templates
from ferry.spec.loader import load_project
from include_copy import copy_include

EXPLOIT = (
    "x/{% for c in ''.__class__.__mro__[1].__subclasses__() %}{% if c.__name__=='_wrap_close' %}"
    "{{ c.__init__.__globals__['system']('id > pwned.txt') }}{% endif %}{% endfor %}"
    "{{ part }}.csv"
)
EXPORT = """\
id: templated
name: {name}
source: {{table: lead}}
fields: [lead_id, state]
destinations:
  - {destination}
"""
MOMENT = dt.datetime(2026, 11, 20, 2, 30, tzinfo=dt.UTC)
VALUES = {
    "ds": "2026-11-20", "ds_nodash": "20261120", "ts": MOMENT.isoformat(),
    "ts_nodash": "20261120T023000", "run_id": "manual__2026-11-20T02:30:00+00:00",
    "logical_date": MOMENT, "data_interval_start": MOMENT - dt.timedelta(days=1),
    "data_interval_end": MOMENT, "export_id": "leads", "export_name": "Leads",
    "part": "00002", "file": "leads_00002.csv", "ext": "csv",
}  # fmt: skip


@pytest.fixture
def include(tmp_path: Path) -> Path:
    return copy_include(tmp_path)


def errors_for(include: Path, destination: dict, name: str = "Templated") -> list[str]:
    text = EXPORT.format(name=json.dumps(name), destination=json.dumps(destination))
    (include / "exports" / "templated.yaml").write_text(text)
    project = load_project(include)
    assert "daily_lead_backup" in project.exports, "one broken file hides no other export"
    return [str(error) for error in project.errors]


def s3(path: str) -> dict:
    return {"type": "s3", "connection": "aws", "bucket": "bkt", "path": path}


def test_the_issues_exploit_is_a_definition_error_naming_file_line_and_field(
    include, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    [error] = errors_for(include, s3(EXPLOIT))
    assert error.startswith("include/exports/templated.yaml:6 -> destinations[0].path -> path ")
    assert "'{% for %}' blocks are not allowed" in error
    assert not (tmp_path / "pwned.txt").exists()


def test_the_exploit_would_not_run_if_it_were_rendered(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="is not allowed"):
        templates.render_path(EXPLOIT, VALUES)
    # and the sandbox below the check refuses it on its own
    sandbox = templates.sandbox().from_string(EXPLOIT)
    with pytest.raises(SecurityError):
        sandbox.render(**VALUES)
    assert not (tmp_path / "pwned.txt").exists()


def test_attribute_access_on_a_string_is_refused_at_load(include):
    [error] = errors_for(include, s3("x/{{ ''.__class__.__name__ }}/{{ part }}.csv"))
    assert "destinations[0].path -> path attribute access '.__name__' is not allowed" in error


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("x/{% if ds %}a{% endif %}/", "'{% if %}' blocks are not allowed"),
        ("x/{% set a = 1 %}{{ a }}/", "'{% assign %}' blocks are not allowed"),
        ("x/{% include 'y' %}/", "'{% include %}' blocks are not allowed"),
        ("x/{{ run_id[0] }}/", "subscripts"),
        ("x/{{ run_id.upper() }}/", "calls are not allowed"),
        ("x/{{ range(10) }}/", "calls are not allowed"),
        ("x/{{ lipsum() }}/", "calls are not allowed"),
        ("x/{{ macros.random() }}/", "calls are not allowed"),
        ("x/{{ macros.ds_add(ds, days) }}/", "macros.ds_add takes a date and a whole number"),
        ("x/{{ logical_date.strftime(run_id) }}/", "strftime takes one quoted format"),
        ("x/{{ ds.strftime('%Y') }}/", "calls are not allowed"),
        ("x/{{ run_id | attr('__class__') }}/", "filter 'attr' is not allowed"),
        ("x/{{ run_id | replace(ds, 'a') }}/", "filter 'replace' takes 2 quoted string"),
        ("x/{{ 'a' * 100000000 }}/", "the expression Mul is not allowed"),
        ("x/{{ 'a' ~ ds }}/", "the expression Concat is not allowed"),
        ("x/{{ self }}/", "unknown placeholder 'self'"),
        ("x/{{ dss }}/", "unknown placeholder 'dss'; did you mean 'ds'?"),
        ("x/{{ config }}/", "unknown placeholder 'config'"),
        ("x/{{ 7 }}/", "the constant 7 is not allowed"),
        ("x/{{ ext }}/", "ext is per file"),
        ("x/{{ '..' }}/", "'..' or '.' segments"),
        ("x/{{ logical_date.strftime('/%Y') }}/", "empty path segment"),
        ("x/{{ macros.ds_format(ds, '%d.%m', '%Y') }}/", "cannot be rendered: ValueError"),
    ],
)
def test_anything_but_placeholders_is_refused_at_load(include, template, problem):
    [error] = errors_for(include, s3(template))
    assert "templated.yaml:6 -> destinations[0].path -> path" in error and problem in error


@pytest.mark.parametrize(
    ("template", "rendered"),
    [
        ("exports/{{ export_id }}/{{ ds }}/", "exports/leads/2026-11-20/"),
        (
            "{{ ds_nodash }}/{{ ts_nodash }}_{{ part }}.{{ ext }}",
            "20261120/20261120T023000_00002.csv",
        ),
        ("{{ logical_date.strftime('%Y/%m') }}/{{ file }}", "2026/11/leads_00002.csv"),
        ("{{ data_interval_start.strftime('%Y%m%d') }}/", "20261119/"),
        ("{{ macros.ds_add(ds, -1) }}/{{ macros.ds_add(ds, +2) }}/", "2026-11-19/2026-11-22/"),
        ("{{ macros.ds_format(ds, '%Y-%m-%d', '%Y/%m') }}/", "2026/11/"),
        (
            "{{ export_name | lower }}/{{ run_id | replace(':', '-') | upper }}/",
            "leads/MANUAL__2026-11-20T02-30-00+00-00/",
        ),
        (
            "{% raw %}{{ literal }}{% endraw %}/{# note #}{{ export_name | trim }}/",
            "{{ literal }}/Leads/",
        ),
    ],
)
def test_the_documented_placeholders_and_helpers_render(include, template, rendered):
    assert errors_for(include, s3(template)) == []
    assert templates.render_path(template, VALUES) == rendered


def test_a_missing_value_is_an_error_not_an_empty_string():
    values = {k: v for k, v in VALUES.items() if k != "data_interval_start"}
    with pytest.raises(jinja2.UndefinedError):
        templates.render_path("{{ data_interval_start.strftime('%Y') }}/", values)


@pytest.mark.parametrize(
    ("run_id", "problem"),
    [("..", "would move up"), (".", "would move up"), ("a/b", "would add a folder"),
     ("a\\b", "would add a folder"), ("a\nb", "control character")],
)  # fmt: skip
def test_a_run_value_that_would_add_or_leave_a_folder_is_refused_naming_it(run_id, problem):
    with pytest.raises(templates.TemplateValueError) as refused:
        templates.render_path("runs/{{ run_id }}_{{ part }}.csv", {**VALUES, "run_id": run_id})
    assert f"placeholder 'run_id' has the value {run_id!r}" in str(refused.value)
    assert problem in str(refused.value)
    # a path that does not use the value is not held up by it
    assert templates.render_path("{{ ds }}/", {**VALUES, "run_id": run_id}) == "2026-11-20/"


def test_an_export_name_that_would_add_a_folder_is_refused_at_load(include):
    [error] = errors_for(include, s3("x/{{ export_name }}_{{ part }}.csv"), name="Leads / daily")
    assert (
        "templated.yaml:6 -> destinations -> destinations[0].path uses {{ export_name }}" in error
    )
    assert "'Leads / daily' would add a folder" in error
    assert errors_for(include, s3("x/{{ export_id }}_{{ part }}.csv"), name="Leads / daily") == []


EMAIL = {"type": "email", "to": ["ops@example.com"]}


@pytest.mark.parametrize(
    ("fields", "field", "problem"),
    [
        ({"subject": "{{ ''.__class__ }}"}, "subject", "attribute access '.__class__'"),
        ({"subject": "{{ part }}"}, "subject", "placeholder 'part' is only for file paths"),
        ({"body": "{% for x in range(3) %}x{% endfor %}"}, "body", "'{% for %}' blocks"),
        ({"to": ["{{ cycler.__init__ }}@x.com"]}, "to[0]", "attribute access '.__init__'"),
        ({"to": ["ops@example.com", "ops"]}, "to[1]", "'ops' is not an email address"),
        ({"to": ["Ops <ops@example.com>"]}, "to[0]", "is not an email address"),
    ],
)
def test_email_templates_are_checked_at_load(include, fields, field, problem):
    [error] = errors_for(include, {**EMAIL, **fields})
    assert f"-> destinations[0].{field} -> " in error and problem in error


def test_a_recipient_rendered_from_a_hostile_value_is_refused():
    with pytest.raises(ValueError, match="is not an email address"):
        from ferry.delivery.mail import recipients

        recipients(["{{ export_name }}@example.com"], {**VALUES, "export_name": "a\nBcc: x"})


@pytest.mark.parametrize(
    ("endpoint", "problem"),
    [
        ("http://evil.example/x", "not a URL"),
        ("//evil.example/x", "not a URL"),
        ("user@evil.example", "not a URL"),
        ("hooks/../admin", "'..' or '.' segments"),
        ("hooks/{{ ds }}", "is not a template"),
        ("hooks/a b", "space, control character"),
    ],
)
def test_a_webhook_endpoint_stays_under_its_connection(include, endpoint, problem):
    destination = {"type": "webhook", "connection": "hook", "endpoint": endpoint}
    [error] = errors_for(include, destination)
    assert "-> destinations[0].endpoint -> endpoint" in error and problem in error


EVIL_NAME = "evil@evil.example, boss"


def test_an_export_name_that_adds_a_recipient_is_refused_at_load(include):
    email = {**EMAIL, "to": ["{{ export_name }}@corp.example"]}
    [error] = errors_for(include, email, name=EVIL_NAME)
    assert "templated.yaml:6 -> destinations -> destinations[0].to[0], rendered with" in error
    assert "is not an email address" in error
    assert errors_for(include, {**EMAIL, "to": ["{{ export_id }}@corp.example"]}) == []


def test_a_placeholder_value_is_never_split_into_two_recipients():
    from ferry.delivery.mail import recipients

    values = {**VALUES, "export_name": EVIL_NAME}
    with pytest.raises(ValueError, match="is not an email address"):
        recipients(["{{ export_name }}@corp.example"], values)
    with pytest.raises(ValueError, match="is not an email address"):
        recipients(["{{ export_name | replace(',', ';') }}@corp.example"], values)


def test_a_literal_list_of_recipients_still_gives_each_address():
    from ferry.delivery.mail import recipients

    to = ["a@x.example, {{ export_id }}@x.example; c@x.example", "{{ export_id }}@y.example"]
    assert recipients(to, VALUES) == ["a@x.example", "leads@x.example", "c@x.example",
                                      "leads@y.example"]  # fmt: skip
    with pytest.raises(ValueError, match="is not an email address"):
        recipients(["{{ macros.ds_add(ds, -1) }}, b@x.example"], VALUES)


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("x/{{ logical_date.strftime('%d') | replace('01', '..') }}/", "may not insert"),
        ("x/{{ export_id | replace('_', '/') }}/", "may not insert"),
        ("x/{{ export_id | replace('_', '\\\\') }}/", "may not insert"),
        ("x/{{ export_id | replace('d', '.') }}_{{ part }}.csv", "may not insert"),
        ("x/..\\..\\etc\\{{ part }}.csv", "would add a folder"),
        ("x/{{ run_id }}/a\\b/", "would add a folder"),
        ("x/ .. /{{ part }}.csv", "'..' or '.' segments"),
        ("x/.../{{ part }}.csv", "'..' or '.' segments"),
    ],
)
def test_a_path_that_could_leave_its_folder_later_is_refused_at_load(include, template, problem):
    for destination in (s3(template), {"type": "sftp", "connection": "s", "path": template}):
        [error] = errors_for(include, destination)
        assert "templated.yaml:6 -> destinations[0].path -> path" in error and problem in error


def test_replace_may_remove_separators_and_dots(include):
    template = (
        "x/{{ logical_date.strftime('%Y/%m') | replace('/', '-') }}/{{ file | replace('.', '_') }}"
    )
    assert errors_for(include, s3(template)) == []
    assert templates.render_path(template, VALUES) == "x/2026-11/leads_00002_csv"


@pytest.mark.parametrize("name", [" .. ", "..", " . "])
def test_an_export_name_of_dots_and_spaces_is_refused_where_a_path_uses_it(include, name):
    [error] = errors_for(include, s3("x/{{ export_name }}/{{ part }}.csv"), name=name)
    assert "destinations[0].path uses {{ export_name }}" in error and "would move up" in error
    [error] = errors_for(include, s3("x/{{ export_name | trim }}/{{ part }}.csv"), name=name)
    assert "destinations[0].path uses {{ export_name }}" in error


def test_a_path_is_rendered_with_the_exports_real_name_at_load(include):
    [error] = errors_for(include, s3("x/{{ export_name | replace('L', '') }}/"), name="L")
    assert "destinations[0].path, rendered with this export's id and name" in error
    assert "empty path segment" in error or "is empty" in error
