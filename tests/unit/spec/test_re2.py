"""The load-time RE2 check agrees with DuckDB's regexp_matches, case by case."""

from __future__ import annotations

import duckdb
import pytest

from ferry.spec.re2 import UNICODE_CLASSES, re2_problem

CASES = [
    # accepted by RE2, several refused by Python's re
    r"^[A-Z][a-z]+$", r"\p{Greek}", r"\pL", r"\p{^Greek}", r"\P{Greek}", r"[\p{Greek}a]",
    r"[\p{Greek}-z]", r"\z", r"a\z", r"\x{e9}", r"\x41", r"(?i)a", r"(?s)a", r"(?m)^a",
    r"(?U)a+", r"a(?i)b", r"(?i:a)", r"(?s-i:a)", r"(?)", r"(?:)", r"()", r"(|a)",
    r"(?P<n>a)", r"\d+\.\d{2}", r"[[:alpha:]]", r"[[:^alpha:]]", r"\Qa.b\E", r"\Q(a",
    r"\C", r"a{1000}", r"a{0,1000}", r"a{1000,}", r"a{,1001}", r"(a{10}){10}",
    r"((a{10}){10}){10}", r"(a{2}){500}", r"(a{1000})*", r"\0", r"\07", r"\12", r"\123",
    r"\v", r"\a", r"\b", r"\_", r"\-", r"\ ", r"[a-]", r"[]a]", r"[^]a]", r"a*?", r"a+?",
    # refused by RE2, several accepted by Python's re
    r"(?P<x>a)(?P=x)", r"(a)\1", r"\8", r"a{1001}", r"a{2,1001}", r"x{1001,}",
    r"(a{100}){100}", r"((a{10}){10}){11}", r"(a{2}){501}", r"(?:a{1000}b{1000}){2}",
    r"(?=a)", r"(?!a)", r"(?<=a)b", r"(?<!a)b", r"(?>a)", r"a*+", r"a++", r"a?+",
    r"a{2}+", r"(a)(?(1)b|c)", r"(?#c)a", r"(?x)a b", r"(?u)a", r"(?a)a", r"(?L)a",
    r"(?i-)a", r"(?-)a", r"\Z", r"a\Z", r"\u00e9", r"\U0001F600", r"\N{DASH}", r"\e",
    r"\cA", r"\G", r"\é", r"[\b]", r"[\A]", r"[\z]", r"\p{Foo}", r"\p{greek}", r"\pX",
    r"[[:foo:]]", r"\x{110000}", r"{2}", r"(*)", r"a**", r"(?i)*", r"(?<n>a)", r"(?P>n)",
    r"[a-\d]", r"[\d-z]", r"[\d-\w]", r"[a-\pL]", r"[[:alpha:]-z]", r"[a-[:alpha:]]",
    r"(", r"a)", r"[a", "\\",
]  # fmt: skip


@pytest.fixture(scope="module")
def duckdb_accepts():
    con = duckdb.connect()

    def accepts(pattern: str) -> bool:
        try:
            con.execute("SELECT regexp_matches('abc', ?)", [pattern]).fetchall()
        except duckdb.Error:
            return False
        return True

    yield accepts
    con.close()


@pytest.mark.parametrize("pattern", CASES)
def test_the_check_accepts_exactly_what_duckdb_accepts(pattern, duckdb_accepts):
    problem = re2_problem(pattern)
    assert (problem is None) == duckdb_accepts(pattern), problem


def test_every_unicode_class_name_is_one_duckdb_knows(duckdb_accepts):
    refused = [name for name in UNICODE_CLASSES if not duckdb_accepts(rf"\p{{{name}}}")]
    assert refused == []
    assert re2_problem(r"[\p{Cyrillic}\p{Latin}]+") is None


@pytest.mark.parametrize(
    "pattern, says",
    [
        (r"(?P<x>a)(?P=x)", "backreferences are not supported"),
        (r"(a)\1", "backreferences (\\1) are not supported"),
        (r"a{1001}", "a repeat count over 1000 is not supported"),
        (r"(?<=a)b", "lookarounds are not supported"),
        (r"a++", "possessive repeats and atomic groups are not supported"),
        (r"a\Z", "use \\z for the end of the text"),
        (r"\p{Foo}", "unknown Unicode class \\p{Foo}"),
    ],
)
def test_a_refusal_says_what_re2_lacks(pattern, says):
    assert says in re2_problem(pattern)
