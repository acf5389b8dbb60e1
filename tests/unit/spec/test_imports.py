"""One import definition's shape: sources, durations, modes and column maps."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ferry.spec.imports import ImportSpec, parse_seconds

BASE = {
    "id": "partner_leads",
    "name": "Partner leads",
    "source": {"type": "sftp", "connection": "partner", "pattern": "leads_{{ ds_nodash }}.csv"},
    "table": "lead",
    "mode": "merge",
}


def test_an_import_names_its_dag_and_maps_columns_in_file_terms():
    spec = ImportSpec.model_validate(
        {**BASE, "columns": ["lead_id", {"field": "E-mail", "to": "email"}]}
    )
    assert spec.dag_id == "import__partner_leads"
    assert spec.column_pairs(["ignored"]) == [("lead_id", "lead_id"), ("E-mail", "email")]
    assert ImportSpec.model_validate(BASE).column_pairs(["a", "b"]) == [("a", "a"), ("b", "b")]


@pytest.mark.parametrize(
    ("text", "seconds"), [(90, 90), ("90s", 90), ("30m", 1800), ("6h", 21600), ("2d", 172800)]
)
def test_durations_read_in_words(text, seconds):
    assert parse_seconds(text) == seconds


def test_a_bad_duration_says_how_to_write_one():
    with pytest.raises(ValidationError, match=r"write e\.g\. 90s, 30m, 6h or 2d"):
        ImportSpec.model_validate({**BASE, "wait": {"timeout": "soon"}})


def test_key_is_refused_outside_merge():
    with pytest.raises(ValidationError, match="key applies to mode merge"):
        ImportSpec.model_validate({**BASE, "mode": "append", "key": "lead_id"})


@pytest.mark.parametrize("pattern", ["../x.csv", "a/b.csv", ""])
def test_a_pattern_is_one_file_name(pattern):
    with pytest.raises(ValidationError):
        ImportSpec.model_validate({**BASE, "source": {**BASE["source"], "pattern": pattern}})


def test_an_unknown_source_type_names_the_choices():
    with pytest.raises(ValidationError, match="sftp, s3 or folder"):
        ImportSpec.model_validate({**BASE, "source": {"type": "ftp", "pattern": "x"}})


@pytest.mark.parametrize("source", ["0 0 29 2 *", 7, ["sftp"]])
def test_a_source_that_is_not_a_mapping_is_a_clean_error(source):
    with pytest.raises(ValidationError, match="source needs type: sftp, s3 or folder"):
        ImportSpec.model_validate({**BASE, "source": source})
