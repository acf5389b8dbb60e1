"""A segment's rules and an export's where filters: conditions, and all / any / not of them."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, model_validator

from ferry.spec.base import Spec
from ferry.spec.errors import FieldError
from ferry.spec.names import located_error
from ferry.spec.values import MAX_DAYS

FieldOp = Literal[
    "eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "between",
    "contains", "starts_with", "is_null", "not_null", "regex", "within_last_days",
]  # fmt: skip


class Condition(Spec):
    """One comparison of a field with a value: {field: state, op: in, value: [TX, CA]}."""

    field: str
    op: FieldOp
    value: Any = None

    @model_validator(mode="after")
    def _value_fits_op(self) -> Condition:
        if self.op in ("is_null", "not_null"):
            if self.value is not None:
                raise FieldError("value", f"op {self.op} takes no value; remove 'value'")
        elif self.op in ("in", "not_in"):
            if not isinstance(self.value, list) or not self.value:
                raise FieldError(
                    "value", f"op {self.op} needs a non-empty list as value, e.g. [TX, CA]"
                )
        elif self.op == "between":
            if not isinstance(self.value, list) or len(self.value) != 2:
                raise FieldError("value", "op between needs a two-item list as value: [low, high]")
        elif self.op == "within_last_days":
            days = self.value
            if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
                problem = f"op within_last_days needs a whole number of days from 1 to {MAX_DAYS}"
                raise located_error(("value",), problem, days)
        elif self.value is None or isinstance(self.value, (list, dict)):
            raise FieldError("value", f"op {self.op} needs a single value; for several use op: in")
        for index, item in enumerate(self.value if isinstance(self.value, list) else []):
            _refuse_non_scalar(self.op, index, item)
        return self


def _refuse_non_scalar(op: str, index: int, item: Any) -> None:
    """An item of in, not_in or between is compared with one column value: a list, a
    mapping or null there would match nothing, silently."""
    if item is None:
        problem = f"null in op {op} matches nothing; use op: is_null or not_null"
    elif isinstance(item, (list, dict)):
        kind = "list" if isinstance(item, list) else "mapping"
        problem = f"a {kind} is not a single value; op {op} takes text, numbers, dates or booleans"
    else:
        return
    raise located_error(("value", index), problem, item)


class AllOf(Spec):
    all: list[Rule] = Field(min_length=1)


class AnyOf(Spec):
    any: list[Rule] = Field(min_length=1)


class NotOf(Spec):
    not_: Rule = Field(alias="not")


def _rule_kind(value: Any) -> str:
    if isinstance(value, dict):
        return next((key for key in ("all", "any", "not") if key in value), "condition")
    return {AllOf: "all", AnyOf: "any", NotOf: "not"}.get(type(value), "condition")


Rule = Annotated[
    Annotated[Condition, Tag("condition")]
    | Annotated[AllOf, Tag("all")]
    | Annotated[AnyOf, Tag("any")]
    | Annotated[NotOf, Tag("not")],
    Discriminator(_rule_kind),
]


for _model in (AllOf, AnyOf, NotOf):
    _model.model_rebuild()
