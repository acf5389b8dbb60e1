"""PII handling as SQL expressions, so DuckDB applies it while it reads (in parallel, in C++).

hash:     HMAC-SHA256(pii_key, value) as 64 hex characters, what Python's hmac computes;
          a plain SHA-256 would fall to a dictionary. Computed by the C function of
          hmac_native when it is built, else from DuckDB's sha256() over BLOB
          concatenation: H((K ^ opad) || H((K ^ ipad) || m)) (RFC 2104).
tokenize: "tok_" + the first 24 hex characters of an HMAC keyed with a key derived from
          pii_key, so tokens are stable across runs and differ from the hash of the value.
mask:     emails keep keep_first characters of the local part, then "***", then the
          domain (j***@example.com); other values keep keep_first and keep_last
          characters and replace every other letter or digit with "*", keeping
          separators (***-***-1234). Characters are kept only from a value more than twice
          as long as what it keeps, so a short value is masked whole (j***, not jo + ***).
normalize (hash, tokenize): the value is trimmed and lower-cased first.
Derived safe fields replace a PII value with a harmless part of it; email_domain gives
the lower-cased domain (example.com), null when there is none. A column asks for one with
a `derive` attribute (see DERIVATIONS).
Non-text values are hashed, tokenized or masked through their DuckDB text form
(e.g. 1990-01-31 for a date). Nulls stay null.
"""

from __future__ import annotations

import hashlib
import hmac

from ferry.engine import hmac_native
from ferry.exceptions import Terminal
from ferry.spec.columns import OutputColumn
from ferry.spec.models import PiiRule
from ferry.sql import Sql, quote

TOKEN_PREFIX = "tok_"
TOKEN_HEX_CHARS = 24
_TOKEN_KEY_LABEL = b"ferry:tokenize:v1"
DERIVATIONS = {
    "email_domain": "nullif(lower(regexp_extract({text}, '@([^@]*)$', 1)), '')",
}


class MissingPiiKeyError(ValueError, Terminal):
    """A column must be hashed or tokenized but no key was given (terminal: set it, rerun)."""


def needs_key(columns: tuple[OutputColumn, ...]) -> bool:
    """Whether any column is hashed or tokenized: the one test for "ask for ferry_pii"."""
    return any(column.keyed for column in columns)


def require_key(columns: tuple[OutputColumn, ...], pii_key: bytes | None) -> None:
    """Fail early, with the fix, when a keyed PII action has no key."""
    if pii_key or not needs_key(columns):
        return
    names = [column.name for column in columns if column.keyed]
    raise MissingPiiKeyError(
        f"columns {', '.join(names)} are hashed or tokenized but no PII key is set: "
        "set the password of the Airflow connection ferry_pii (a long random secret)"
    )


def token_key(pii_key: bytes) -> bytes:
    """The tokenize key: derived, so a token never equals a prefix of the value's hash."""
    return hmac.new(pii_key, _TOKEN_KEY_LABEL, hashlib.sha256).digest()


def hmac_sql(text: str, key: bytes) -> Sql:
    """HMAC-SHA256 hex of a VARCHAR expression; the key is only ever a bound parameter."""
    if hmac_native.available():
        return Sql(f"{hmac_native.FUNCTION_NAME}({text}, CAST(? AS BLOB))", (key,))
    inner, outer = hmac_native.hmac_pads(key)
    return Sql(
        f"sha256(CAST(? AS BLOB) || unhex(sha256(CAST(? AS BLOB) || encode({text}))))",
        (outer, inner),
    )


def mask_sql(text: str, rule: PiiRule) -> Sql:
    """Mask a VARCHAR expression; see the module docstring for the shapes."""
    generic = _mask_keeping_shape(text, rule.keep_first, rule.keep_last)
    if not rule.keep_domain:
        return Sql(generic)
    at = f"strpos({text}, '@')"
    local = f"left({text}, {at} - 1)"
    email = (
        f"CASE WHEN length({local}) <= {2 * rule.keep_first} THEN '***' "
        f"ELSE left({local}, {rule.keep_first}) || '***' END || substr({text}, {at})"
    )
    return Sql(f"CASE WHEN {at} > 1 THEN {email} ELSE {generic} END")


def _mask_keeping_shape(text: str, keep_first: int, keep_last: int) -> str:
    letters_and_digits = r"'[\pL\pN]'"
    everything = f"regexp_replace({text}, {letters_and_digits}, '*', 'g')"
    middle = f"substring({text}, {keep_first + 1}, length({text}) - {keep_first + keep_last})"
    kept = (
        f"left({text}, {keep_first}) || regexp_replace({middle}, {letters_and_digits}, '*', 'g')"
        f" || right({text}, {keep_last})"
    )
    if keep_first + keep_last == 0:
        return everything
    short = 2 * (keep_first + keep_last)
    return f"CASE WHEN length({text}) <= {short} THEN {everything} ELSE {kept} END"


def pii_sql(column: OutputColumn, pii_key: bytes | None) -> Sql:
    """The SQL expression of one output column, PII applied; nulls stay null."""
    source, rule = quote(column.source), column.pii
    text = f"CAST({source} AS VARCHAR)"
    if derived_from(column):
        return Sql(DERIVATIONS[derived_from(column)].format(text=text))
    if rule is None:
        return Sql(source)
    if rule.action == "mask":
        return mask_sql(text, rule)
    if rule.normalize:
        text = f"lower(trim({text}))"
    if rule.action == "hash":
        return hmac_sql(text, _key(pii_key))
    if rule.action == "tokenize":
        digest = hmac_sql(text, token_key(_key(pii_key)))
        return Sql(f"'{TOKEN_PREFIX}' || left({digest.text}, {TOKEN_HEX_CHARS})", digest.params)
    raise ValueError(f"PII action {rule.action} has no SQL form")


def _key(pii_key: bytes | None) -> bytes:
    if not pii_key:
        raise MissingPiiKeyError("no PII key: set the password of the Airflow connection ferry_pii")
    return pii_key


def derived_from(column: OutputColumn) -> str | None:
    """The derivation a column asks for, if any (a plan may not carry the attribute)."""
    derive = getattr(column, "derive", None)
    if derive is not None and derive not in DERIVATIONS:
        raise ValueError(f"unknown derived field {derive}; choose from {', '.join(DERIVATIONS)}")
    return derive


def output_type(column: OutputColumn) -> str:
    """The column's type as written: PII-transformed and derived columns become text."""
    return column.type if column.pii is None and not derived_from(column) else "VARCHAR"
