"""What every definition model shares: the frozen, strict base and common field types."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

ID_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
Identifier = Annotated[str, Field(pattern=ID_PATTERN)]
ConnectionId = Annotated[str, Field(min_length=1, max_length=250)]
SegmentType = Literal["customer_profile", "contact", "account"]
_SIZE_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}
# Spelled without flags: the published JSON Schema carries it, and ECMA regexes have none.
SIZE_PATTERN = r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([KkMmGgTt]?[Bb])?\s*$"


def _publish(schema: dict[str, Any], model: type) -> None:
    """Hover text for editors, added only when a JSON Schema is made (never at DAG parse);
    a mapping keyed by identifiers (tables:, targets:) refuses other keys, as the loader does."""
    from ferry.spec.descriptions import describe

    describe(schema, model.__name__)
    for prop in schema.get("properties", {}).values():
        if "patternProperties" in prop:
            prop.setdefault("additionalProperties", False)


class Spec(BaseModel):
    """Base of every definition model: immutable, unknown keys rejected."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, json_schema_extra=_publish
    )


def parse_byte_size(value: Any) -> int:
    """Turn 5GB, '250 MB' or 1000 into a byte count."""
    if isinstance(value, int):
        return value
    match = re.match(SIZE_PATTERN, str(value))
    if not match:
        raise ValueError(f"{value!r} is not a size; write bytes or e.g. 500MB, 5GB")
    return int(float(match.group(1)) * _SIZE_UNITS[(match.group(2) or "").upper()])


MAX_BYTES = 10**15  # 1 PB: sizes stay exact in int64 (numpy) and JSON numbers
MAX_ROWS = 10**12
# The published schema says what the loader reads: a count of bytes, or a size in words.
_SIZE_SCHEMA = {
    "anyOf": [
        {"type": "integer", "minimum": 1, "maximum": MAX_BYTES},
        {"type": "string", "pattern": SIZE_PATTERN, "examples": ["500MB", "5GB"]},
    ]
}
ByteSize = Annotated[
    int,
    BeforeValidator(parse_byte_size),
    Field(gt=0, le=MAX_BYTES),
    WithJsonSchema(_SIZE_SCHEMA),
]
