"""What a template may hold, judged on its syntax tree before anything renders it.

The loader's errors for these rules (file:line -> field) are tested in test_templates.py;
here the rules themselves, as the loader and the renderer call them.
"""

from __future__ import annotations

import pytest
from jinja2.exceptions import SecurityError

from ferry.spec.template_rules import (
    PLACEHOLDERS,
    RUN_PLACEHOLDERS,
    is_folder,
    placeholders_of,
    replace_problems,
    sandbox,
    template_problems,
)


@pytest.mark.parametrize(
    "template",
    [
        "out/{{ ds }}/{{ export_id }}_{{ part }}.csv",
        "{{ logical_date.strftime('%Y/%m') }}/",
        "{{ macros.ds_add(ds, -1) }}/{{ export_name | lower | replace(' ', '_') }}/",
        "plain/text/",
    ],
)
def test_the_documented_forms_have_no_problem(template):
    assert template_problems(template) == ()


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("{{ run_id.__class__ }}", "not allowed"),
        ("{{ cycler.__init__.__globals__ }}", "attribute access '.__globals__'"),
        ("{% for x in y %}{% endfor %}", "'{% for %}' blocks are not allowed"),
        ("{{ ds", "template syntax error"),
    ],
)
def test_anything_else_is_named_as_a_problem(template, problem):
    assert any(problem in found for found in template_problems(template))


def test_a_placeholder_of_a_file_is_refused_where_only_run_values_are_allowed():
    assert template_problems("{{ part }}", PLACEHOLDERS) == ()
    assert any("part" in problem for problem in template_problems("{{ part }}", RUN_PLACEHOLDERS))


def test_per_file_placeholders_decide_whether_a_path_names_a_folder():
    assert placeholders_of("a/{{ ds }}_{{ part }}.csv") == {"ds", "part"}
    assert not is_folder("a/{{ ds }}_{{ part }}.csv")
    assert not is_folder("a/{{ file }}")
    assert is_folder("a/{{ ds }}")
    assert is_folder("a/{{ part }}/")


@pytest.mark.parametrize(("new", "refused"), [("_", False), ("/", True), (".", True), ("", False)])
def test_replace_may_not_insert_a_separator_or_a_dot(new, refused):
    assert bool(replace_problems(f"x/{{{{ export_name | replace(' ', '{new}') }}}}/")) is refused


def test_the_sandbox_refuses_what_the_rules_would_refuse_anyway():
    with pytest.raises(SecurityError):
        sandbox().from_string("{{ ''.__class__.__mro__ }}").render()
