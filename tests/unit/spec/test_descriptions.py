"""The published schemas carry hover text for every field, and none for a field long gone."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ferry.cli.definitions import SCHEMA_KINDS, _schema_kinds
from ferry.spec import models
from ferry.spec.descriptions import DESCRIPTIONS


def _properties(schema: dict) -> Iterator[tuple[str, dict]]:
    """(model.field, its schema) for every object property, nested definitions included."""
    for name, model in {"": schema, **schema.get("$defs", {})}.items():
        for field, prop in model.get("properties", {}).items():
            yield f"{name or schema['title']}.{field}", prop


@pytest.mark.parametrize("kind", SCHEMA_KINDS)
def test_every_property_of_the_published_schema_has_a_description(kind: str):
    schema = _schema_kinds()[kind].model_json_schema(by_alias=True)

    fields = dict(_properties(schema))
    assert len(fields) > (60 if kind == "export" else 2)
    assert [name for name, prop in fields.items() if not prop.get("description")] == []


def test_every_description_names_a_field_that_exists():
    specs = {
        name: model
        for name, model in vars(models).items()
        if isinstance(model, type) and issubclass(model, models.Spec)
    }
    stale = [
        f"{model}.{field}"
        for model, texts in DESCRIPTIONS.items()
        for field in texts
        if model not in specs
        or field not in {info.alias or name for name, info in specs[model].model_fields.items()}
    ]
    assert stale == []
