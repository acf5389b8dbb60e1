"""PII applied while reading: HMAC hashes, masks, tokens, exclusions and the missing key."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import re

import duckdb
import pytest

from ferry.engine import MissingPiiKeyError, extract, hmac_native, preview
from ferry.engine.pii import (
    TOKEN_PREFIX,
    hmac_sql,
    mask_sql,
    needs_key,
    require_key,
    token_key,
)
from ferry.engine.query import typed_select
from ferry.plan import OutputColumn
from ferry.spec import models

from .helpers import PII_KEY, data_paths, read_text_table, warehouse_rows

PII_COLUMNS = {"email", "first_name", "last_name", "phone", "birth_date"}


def exported(make_plan, warehouse, pii_key=PII_KEY, **overrides) -> list[dict]:
    """Rows of a CSV extract as dicts (a null reads as an empty string)."""
    fmt = {"type": "csv", "rows_per_file": 1000, "formula_guard": False}  # values as masked
    plan = make_plan(format=fmt, **overrides)
    manifest = extract(plan, source=warehouse, pii_key=pii_key)
    (path,) = data_paths(plan.staging_dir, manifest)
    header, rows = read_text_table(path, ",")
    return [dict(zip(header, row, strict=True)) for row in rows]


def source_values(make_plan, warehouse, column: str) -> list:
    plan = make_plan(fields=["profile_id", column], pii={column: "keep"})
    return [row[1] for row in warehouse_rows(warehouse, plan)]


def python_hmac(key: bytes, value) -> str:
    return hmac.new(key, str(value).encode("utf-8"), hashlib.sha256).hexdigest()


@pytest.mark.parametrize("column", ["email", "last_name", "birth_date"])
def test_hash_is_hmac_sha256_of_the_value_and_keeps_nulls(make_plan, warehouse, column):
    rows = exported(make_plan, warehouse, fields=["profile_id", column], pii={column: "hash"})
    values = source_values(make_plan, warehouse, column)
    assert None in values
    expected = ["" if value is None else python_hmac(PII_KEY, value) for value in values]
    assert [row[column] for row in rows] == expected


def test_hash_is_not_plain_sha256_and_depends_on_the_key(make_plan, warehouse):
    kwargs = {"fields": ["profile_id", "email"], "pii": {"email": "hash"}}
    first = [row["email"] for row in exported(make_plan, warehouse, **kwargs)]
    other = [row["email"] for row in exported(make_plan, warehouse, b"another key", **kwargs)]
    values = source_values(make_plan, warehouse, "email")
    plain = {hashlib.sha256(value.encode()).hexdigest() for value in values if value}
    assert not plain & set(first)
    assert all(a != b for a, b in zip(first, other, strict=True) if a)


def test_tokens_are_stable_keyed_and_distinct(make_plan, warehouse):
    kwargs = {"fields": ["profile_id", "email"], "pii": {"email": "tokenize"}}
    first = [row["email"] for row in exported(make_plan, warehouse, **kwargs)]
    again = [row["email"] for row in exported(make_plan, warehouse, **kwargs)]
    other = [row["email"] for row in exported(make_plan, warehouse, b"another key", **kwargs)]
    values = source_values(make_plan, warehouse, "email")
    assert first == again
    pattern = TOKEN_PREFIX + "[0-9a-f]{24}"
    assert all(re.fullmatch(pattern, t) for t, v in zip(first, values, strict=True) if v)
    assert [token == "" for token in first] == [value is None for value in values]
    assert len(set(first) - {""}) == len({value for value in values if value is not None})
    assert all(a != b for a, b in zip(first, other, strict=True) if a)
    hashes = {python_hmac(PII_KEY, value)[:24] for value in values if value}
    assert not hashes & {token.removeprefix(TOKEN_PREFIX) for token in first}


def test_mask_keeps_the_first_letter_and_domain_of_emails(make_plan, warehouse):
    rows = exported(make_plan, warehouse, fields=["profile_id", "email"], pii={"email": "mask"})
    values = source_values(make_plan, warehouse, "email")
    for row, value in zip(rows, values, strict=True):
        local, domain = (value or "@").split("@")
        kept = local[0] if len(local) > 2 else ""
        assert row["email"] == ("" if value is None else f"{kept}***@{domain}")


def test_mask_keeps_the_last_digits_and_the_shape_of_phones(make_plan, warehouse):
    rule = {"action": "mask", "keep_first": 0, "keep_last": 4}
    rows = exported(make_plan, warehouse, fields=["profile_id", "phone"], pii={"phone": rule})
    values = source_values(make_plan, warehouse, "phone")
    assert None in values
    for row, value in zip(rows, values, strict=True):
        expected = "" if value is None else re.sub(r"[0-9]", "*", value[:-4]) + value[-4:]
        assert row["phone"] == expected
    assert rows[7]["phone"].startswith("+* ***-***-")


def test_mask_of_short_or_odd_values_reveals_nothing(make_plan, warehouse):
    rule = {"action": "mask", "keep_first": 2, "keep_last": 2, "keep_domain": False}
    rows = exported(make_plan, warehouse, fields=["profile_id", "last_name"],
                    pii={"last_name": rule})  # fmt: skip
    values = source_values(make_plan, warehouse, "last_name")
    masked = dict(zip(values, (row["last_name"] for row in rows), strict=True))
    assert masked[","] == ","  # nothing to hide: no letter or digit
    assert masked["plain"] == "*****"  # short: kept characters would reveal most of it
    assert masked["tab\there"] == "***\t****"
    assert masked["emoji 🎉🚀"] == "***** 🎉🚀"
    assert masked["carriage\r\nreturn"] == "ca******\r\n****rn"
    assert masked["Café déjà vu \u2013 naïve Straße"] == "Ca** **** ** \u2013 ***** ****ße"


def test_missing_key_is_a_clear_error_before_any_file(make_plan, warehouse):
    plan = make_plan(fields=["profile_id", "email"], pii={"email": "hash"})
    with pytest.raises(MissingPiiKeyError, match="password of the Airflow connection ferry_pii"):
        extract(plan, source=warehouse, pii_key=None)
    assert not plan.staging_dir.exists()
    with pytest.raises(MissingPiiKeyError):
        preview(plan, source=warehouse, pii_key=None)


@pytest.mark.parametrize(
    "pii, keyed",
    [({"email": "hash"}, ["email"]), ({"email": {"action": "tokenize", "normalize": True}},
      ["email"]), ({"email": "mask", "phone": {"action": "hash"}}, ["phone"]),
     ({"email": "keep", "phone": {"action": "mask"}}, [])],
)  # fmt: skip
def test_the_key_is_needed_exactly_for_hashed_and_tokenized_columns(make_plan, pii, keyed):
    plan = make_plan(fields=["profile_id", "email", "phone"], pii=pii)
    assert needs_key(plan.columns) is bool(keyed)
    if not keyed:
        require_key(plan.columns, None)
        return
    with pytest.raises(MissingPiiKeyError) as error:
        require_key(plan.columns, None)
    assert str(error.value).startswith(f"columns {', '.join(keyed)} are hashed or tokenized")
    require_key(plan.columns, PII_KEY)


def test_masking_needs_no_key(make_plan, warehouse):
    rows = exported(make_plan, warehouse, None, fields=["profile_id", "email"],
                    pii={"email": "mask"})  # fmt: skip
    assert rows[0]["email"].endswith("***@example0.com")


def test_pii_columns_are_left_out_unless_the_export_decides(make_plan, warehouse):
    plan = make_plan(pii={"email": "hash"})
    manifest = extract(plan, source=warehouse, pii_key=PII_KEY)
    header, _ = read_text_table(data_paths(plan.staging_dir, manifest)[0], ",")
    assert PII_COLUMNS & set(header) == {"email"}
    assert {"city", "notes", "updated_at"} <= set(header)
    excluded = {m["source"] for m in manifest.field_mapping if m["pii"] == "exclude"}
    assert excluded == PII_COLUMNS - {"email"}


def test_the_key_never_reaches_the_sql_text(make_plan):
    plan = make_plan(fields=["profile_id", "email"], pii={"email": "hash"})
    query = typed_select(plan, PII_KEY)
    assert PII_KEY.decode() not in query.text and PII_KEY.hex() not in query.text
    assert any(isinstance(param, bytes) for param in query.params)


def sql_value(expression, value):
    with duckdb.connect() as con:
        hmac_native.register(con)
        sql = f"SELECT {expression.text} FROM (SELECT CAST(? AS VARCHAR) AS v)"
        return con.execute(sql, [*expression.params, value]).fetchone()[0]


@pytest.mark.parametrize(
    ("value", "rule", "expected"),
    [
        ("jane.doe@example.com", {}, "j***@example.com"),
        ("jo@example.com", {}, "***@example.com"),
        ("jane.doe@example.com", {"keep_first": 0}, "***@example.com"),
        ("jane.doe@example.com", {"keep_domain": False, "keep_first": 0}, "****.***@*******.***"),
        ("555-123-1234", {"keep_first": 0, "keep_last": 4}, "***-***-1234"),
        ("(555) 123 1234", {"keep_first": 0, "keep_last": 4}, "(***) *** 1234"),
        ("Zoë", {}, "Z**"),
        ("Al", {}, "**"),
        ("", {}, ""),
        (None, {}, None),
    ],
)
def test_mask_shapes(value, rule, expected):
    expression = mask_sql("v", models.PiiRule(action="mask", **rule))
    assert sql_value(expression, value) == expected


@pytest.mark.parametrize("native", ["on", "off"])
@pytest.mark.parametrize("key", [b"k", b"x" * 64, b"long key " * 20])
def test_hmac_sql_matches_python_for_any_key_length(key, native, monkeypatch):
    monkeypatch.setenv("FERRY_NATIVE_HMAC", native)
    value = 'Zoë 🎉, "quoted"\r\n'
    assert sql_value(hmac_sql("v", key), value) == python_hmac(key, value)


@dataclasses.dataclass(frozen=True)
class DerivedColumn(OutputColumn):
    """An output column with the derive attribute a plan can carry."""

    derive: str | None = None


def test_email_domain_is_derived_without_the_address(make_plan, warehouse):
    plan = make_plan(fields=["profile_id"])
    domain = DerivedColumn("email", "email_domain", "VARCHAR", None, "email_domain")
    plan = dataclasses.replace(plan, columns=(*plan.columns, domain))
    manifest = extract(plan, source=warehouse, pii_key=None)
    header, rows = read_text_table(data_paths(plan.staging_dir, manifest)[0], ",")
    values = source_values(make_plan, warehouse, "email")
    assert header == ["profile_id", "email_domain"]
    assert [row[1] for row in rows] == [v.split("@")[1].lower() if v else "" for v in values]
    assert manifest.schema[1] == {"name": "email_domain", "type": "VARCHAR"}


@pytest.mark.parametrize("action", ["hash", "tokenize"])
def test_normalize_hashes_the_trimmed_lower_cased_value(make_plan, warehouse, action):
    pii = {"last_name": {"action": action, "normalize": True}}
    rows = exported(make_plan, warehouse, fields=["profile_id", "last_name"], pii=pii)
    values = source_values(make_plan, warehouse, "last_name")
    assert any(value and value != value.strip(" ").lower() for value in values)
    key = PII_KEY if action == "hash" else token_key(PII_KEY)
    digests = ["" if v is None else python_hmac(key, v.strip(" ").lower()) for v in values]
    if action == "tokenize":
        digests = [d and TOKEN_PREFIX + d[:24] for d in digests]
    assert [row["last_name"] for row in rows] == digests


def test_normalize_with_mask_is_a_definition_error():
    with pytest.raises(ValueError, match="normalize applies to hash and tokenize, not mask"):
        models.PiiRule(action="mask", normalize=True)
