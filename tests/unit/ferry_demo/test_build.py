"""The demo warehouse generator: contract, determinism, nasty values, integrity, atomicity.

The command line's own tests are in test_cli.py."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
import yaml

from ferry_demo import build
from ferry_demo.build import build_warehouse, row_counts
from ferry_demo.cli import main

TABLES_YAML = Path(__file__).resolve().parents[3] / "include" / "warehouse" / "tables.yaml"
WINDOW = ("2026-01-01 00:00:00", "2026-11-23 23:59:59")

# Each kind of value that breaks naive writers, as a DuckDB predicate on column c.
NASTY_KINDS = {
    "comma": "contains(c, ',')",
    "double quote": "contains(c, '\"')",
    "newline": "contains(c, chr(10))",
    "crlf": "contains(c, chr(13) || chr(10))",
    "tab": "contains(c, chr(9))",
    "leading and trailing spaces": "c LIKE ' %' AND c LIKE '% '",
    "non-ascii": "regexp_matches(c, '[^[:ascii:]]')",
    "emoji": "regexp_matches(c, '[\\x{1F300}-\\x{1FAFF}]')",
    "empty": "c = ''",
    "null": "c IS NULL",
}
SPRINKLED_COLUMNS = [
    ("customer_profile", "notes"),
    ("customer_profile", "first_name"),
    ("customer_profile", "last_name"),
    ("account", "company_name"),
    ("contact", "first_name"),
    ("contact", "last_name"),
    ("lead", "comments"),
    ("lead", "first_name"),
    ("lead", "last_name"),
    ("lead_event", "reason"),
]


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the small warehouse, built once for this module."""
    path = tmp_path_factory.mktemp("warehouse") / "demo.duckdb"
    build_warehouse(path, size="small")
    con = duckdb.connect(str(path), read_only=True)
    yield con
    con.close()


def scalar(con: duckdb.DuckDBPyConnection, query: str) -> object:
    return con.execute(query).fetchone()[0]


def distinct(con: duckdb.DuckDBPyConnection, table: str, column: str) -> set[object]:
    return {row[0] for row in con.execute(f"SELECT DISTINCT {column} FROM {table}").fetchall()}


def table_digest(path: Path, table: str, key: str) -> str:
    """sha256 over every row of a table, in key order."""
    with duckdb.connect(str(path), read_only=True) as con:
        rows = f"string_agg(t::VARCHAR, chr(30) ORDER BY {key})"
        return scalar(con, f"SELECT sha256({rows}) FROM {table} AS t")


def test_small_size_row_counts(small: duckdb.DuckDBPyConnection) -> None:
    expected = {"customer_profile": 20_000, "account": 2_000, "contact": 10_000}
    expected |= {"lead": 20_000, "lead_event": 60_000}
    for table, rows in expected.items():
        assert scalar(small, f"SELECT count(*) FROM {table}") == rows


def test_schema_matches_tables_yaml(small: duckdb.DuckDBPyConnection) -> None:
    contract = yaml.safe_load(TABLES_YAML.read_text(encoding="utf-8"))["tables"]
    built = small.execute(
        "SELECT table_name, column_name, data_type FROM information_schema.columns"
        " WHERE table_schema = 'main' ORDER BY table_name, ordinal_position"
    ).fetchall()
    declared = [
        (table, column, spec["type"])
        for table in sorted(contract)
        for column, spec in contract[table]["columns"].items()
    ]
    assert built == declared


def test_same_seed_gives_identical_rows_and_another_seed_differs(tmp_path: Path) -> None:
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        build_warehouse(tmp_path / f"{name}.duckdb", rows=2_000, seed=seed)
    keys = {"customer_profile": "profile_id", "account": "account_id", "contact": "contact_id"}
    keys |= {"lead": "lead_id", "lead_event": "event_id"}
    for table, key in keys.items():
        first, again, other = (
            table_digest(tmp_path / f"{name}.duckdb", table, key) for name in "abc"
        )
        assert first == again, table
        assert first != other, table


def test_parallel_build_is_deterministic(tmp_path: Path) -> None:
    # More rows than one DuckDB row group (122,880), so several threads fill the table.
    for name in "ab":
        build_warehouse(tmp_path / f"{name}.duckdb", rows=130_000, tables=["customer_profile"])
    digests = {
        table_digest(tmp_path / f"{name}.duckdb", "customer_profile", "profile_id") for name in "ab"
    }
    assert len(digests) == 1


@pytest.mark.parametrize(("table", "column"), SPRINKLED_COLUMNS)
def test_every_nasty_kind_appears(
    small: duckdb.DuckDBPyConnection, table: str, column: str
) -> None:
    counts = ", ".join(f"count(*) FILTER (WHERE {sql})" for sql in NASTY_KINDS.values())
    found = small.execute(f"SELECT {counts} FROM (SELECT {column} AS c FROM {table})").fetchone()
    missing = [kind for kind, count in zip(NASTY_KINDS, found, strict=True) if count == 0]
    assert not missing, f"{table}.{column} lacks {missing}"


def test_nasty_values_are_a_few_percent(small: duckdb.DuckDBPyConnection) -> None:
    odd = "notes LIKE '%' || chr(10) || '%' OR notes LIKE '%\"%' OR notes LIKE '%,%'"
    share = scalar(small, f"SELECT avg(({odd})::INTEGER) FROM customer_profile")
    assert 0.005 < share < 0.05


@pytest.mark.parametrize(
    ("table", "column"),
    [
        ("customer_profile", "phone"),
        ("customer_profile", "state"),
        ("customer_profile", "birth_date"),
        ("customer_profile", "lifetime_value"),
        ("contact", "phone"),
        ("lead", "delivered_at"),
    ],
)
def test_some_but_not_all_values_are_null(
    small: duckdb.DuckDBPyConnection, table: str, column: str
) -> None:
    nulls, total = small.execute(
        f"SELECT count(*) FILTER (WHERE {column} IS NULL), count(*) FROM {table}"
    ).fetchone()
    assert 0 < nulls < total


def test_contacts_belong_to_existing_accounts(small: duckdb.DuckDBPyConnection) -> None:
    orphans = (
        "SELECT count(*) FROM contact WHERE account_id NOT IN (SELECT account_id FROM account)"
    )
    assert scalar(small, orphans) == 0


def test_every_event_belongs_to_a_lead_and_every_lead_has_events(
    small: duckdb.DuckDBPyConnection,
) -> None:
    orphans = "SELECT count(*) FROM lead_event WHERE lead_id NOT IN (SELECT lead_id FROM lead)"
    silent = "SELECT count(*) FROM lead WHERE lead_id NOT IN (SELECT lead_id FROM lead_event)"
    assert scalar(small, orphans) == 0
    assert scalar(small, silent) == 0


@pytest.mark.parametrize("table", ["customer_profile", "account", "contact"])
def test_updated_at_is_never_before_created_at(
    small: duckdb.DuckDBPyConnection, table: str
) -> None:
    earlier = f"SELECT count(*) FROM {table} WHERE updated_at < created_at"
    assert scalar(small, earlier) == 0
    assert scalar(small, f"SELECT count(*) FROM {table} WHERE updated_at > created_at") > 0


@pytest.mark.parametrize(
    ("table", "column"),
    [
        ("customer_profile", "created_at"),
        ("customer_profile", "updated_at"),
        ("account", "updated_at"),
        ("contact", "updated_at"),
        ("lead", "created_at"),
        ("lead", "delivered_at"),
        ("lead_event", "created_at"),
    ],
)
def test_timestamps_are_whole_seconds_in_the_window(
    small: duckdb.DuckDBPyConnection, table: str, column: str
) -> None:
    low, high, fractional = small.execute(
        f"SELECT min({column}), max({column}),"
        f" count(*) FILTER (WHERE epoch_us({column}) % 1000000 <> 0) FROM {table}"
    ).fetchone()
    assert str(low) >= WINDOW[0]
    assert str(high) <= WINDOW[1]
    assert fractional == 0


def test_only_successful_leads_are_delivered_after_creation(
    small: duckdb.DuckDBPyConnection,
) -> None:
    wrong = """SELECT count(*) FROM lead WHERE (outcome = 'success') <> (delivered_at IS NOT NULL)
               OR delivered_at < created_at"""
    assert scalar(small, wrong) == 0


def test_lead_events_follow_their_lead(small: duckdb.DuckDBPyConnection) -> None:
    before = """SELECT count(*) FROM lead_event e JOIN lead l USING (lead_id)
                WHERE e.created_at < l.created_at"""
    mismatched = """SELECT count(*) FROM lead_event e JOIN lead l USING (lead_id)
                    WHERE e.event_type = 'recipient.delivered' AND e.created_at <> l.delivered_at"""
    assert scalar(small, before) == 0
    assert scalar(small, mismatched) == 0


def test_values_look_real(small: duckdb.DuckDBPyConnection) -> None:
    countries = dict(
        small.execute("SELECT country, count(*) FROM customer_profile GROUP BY 1").fetchall()
    )
    assert set(countries) == {"US", "CA", "GB", "DE", "FR", "MX", "BR", "JP", "AU", "IN"}
    assert countries["US"] > sum(countries.values()) / 2
    assert distinct(small, "customer_profile", "loyalty_tier") == {
        "bronze",
        "silver",
        "gold",
        "platinum",
    }
    assert distinct(small, "lead", "outcome") == {"success", "failure", "error"}
    names = distinct(small, "customer_profile", "first_name")
    names |= distinct(small, "customer_profile", "last_name")
    assert {"José", "Zoë", "Łukasz", "李", "Müller", "O'Brien"} <= names


def test_emails_postal_codes_and_phones_vary(small: duckdb.DuckDBPyConnection) -> None:
    checks = {
        "plus-addressed email": "email LIKE '%+%@%'",
        "upper-case email": "email = upper(email)",
        "ZIP with a leading zero": "country = 'US' AND postal_code LIKE '0%'",
        "ZIP+4": "regexp_matches(postal_code, '^[0-9]{5}-[0-9]{4}$')",
        "E.164 phone": "regexp_matches(phone, '^\\+[0-9]{11,13}$')",
        "formatted phone": "regexp_matches(phone, '^\\([0-9]{3}\\) [0-9]{3}-[0-9]{4}$')",
    }
    for name, condition in checks.items():
        assert scalar(small, f"SELECT count(*) FROM customer_profile WHERE {condition}") > 0, name


def test_failed_build_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_select = build.table_select

    def broken_lead(name: str, counts: dict[str, int]) -> str:
        return "SELECT no_such_column" if name == "lead" else real_select(name, counts)

    monkeypatch.setattr(build, "table_select", broken_lead)
    with pytest.raises(duckdb.Error):
        build_warehouse(tmp_path / "demo.duckdb", rows=200)
    assert list(tmp_path.iterdir()) == []


def test_failed_build_keeps_the_previous_warehouse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "demo.duckdb"
    build_warehouse(path, rows=200, tables=["account"])
    before = path.read_bytes()
    monkeypatch.setattr(build, "table_select", lambda name, counts: "SELECT 1 / 0 AS x")
    with pytest.raises(duckdb.Error):
        build_warehouse(path, rows=200)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["demo.duckdb"]


def test_tables_limits_what_is_built(tmp_path: Path) -> None:
    path = tmp_path / "demo.duckdb"
    counts = build_warehouse(path, rows=500, tables=["lead_event", "customer_profile"])
    assert counts == {"customer_profile": 500, "lead_event": 1_500}
    with duckdb.connect(str(path), read_only=True) as con:
        tables = {
            row[0]
            for row in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
        }
    assert tables == {"customer_profile", "lead_event"}


def test_row_counts_scale_with_size_and_rows() -> None:
    assert row_counts("large")["customer_profile"] == 10_000_000
    assert row_counts("medium")["contact"] == 10 * row_counts("small")["contact"]
    assert row_counts(rows=1_000) == {
        "customer_profile": 1_000,
        "account": 100,
        "contact": 500,
        "lead": 1_000,
        "lead_event": 3_000,
    }
    with pytest.raises(ValueError, match="size"):
        row_counts("huge")
    with pytest.raises(ValueError, match="rows"):
        row_counts(rows=0)
    with pytest.raises(ValueError, match="no tables"):
        build_warehouse(Path("unused.duckdb"), tables=[])


def test_a_duplicate_key_in_tables_yaml_stops_the_build_naming_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """yaml.safe_load kept the last type, silently: the warehouse reads as the loader does."""
    include = tmp_path / "include"
    (include / "warehouse").mkdir(parents=True)
    text = TABLES_YAML.read_text(encoding="utf-8")
    line = "      profile_id: {type: BIGINT}\n"
    assert line in text
    (include / "warehouse" / "tables.yaml").write_text(
        text.replace(line, "      profile_id: {type: BIGINT, type: VARCHAR}\n"), encoding="utf-8"
    )
    monkeypatch.setenv("FERRY_INCLUDE", str(include))
    assert main(["--path", str(tmp_path / "w.duckdb"), "--tables", "account"]) == 2
    error = capsys.readouterr().err
    number = text.splitlines(keepends=True).index(line) + 1
    assert f"include/warehouse/tables.yaml:{number} -> tables.customer_profile.columns" in error
    assert "duplicate key 'type'" in error
    assert not (tmp_path / "w.duckdb").exists()


def test_built_with_today_every_windowed_demo_export_finds_rows_in_its_latest_interval(tmp_path):
    """scripts/start builds with today (python -m ferry_demo): a newcomer's first scheduled
    run of each export with a data_interval window delivers rows, not an empty file."""
    import datetime as dt

    from croniter import croniter

    from ferry.spec.loader import load_project
    from ferry.spec.schedule import cron_of

    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    path = tmp_path / "recent.duckdb"
    build_warehouse(path, rows=2_000, until=now.date())
    project = load_project(TABLES_YAML.parents[1])
    windowed = {
        export_id: export
        for export_id, export in project.exports.items()
        if export.filters and export.filters.window and cron_of(export.schedule)
    }
    assert "daily_lead_backup" in windowed
    with duckdb.connect(str(path), read_only=True) as con:
        for export_id, export in windowed.items():
            fires = croniter(cron_of(export.schedule), now)
            end = fires.get_prev(dt.datetime)
            start = fires.get_prev(dt.datetime)
            table, column = export.source.table, export.filters.window.column
            [(rows,)] = con.execute(
                f'SELECT count(*) FROM "{table}" WHERE "{column}" >= ? AND "{column}" < ?',
                [start, end],
            ).fetchall()
            assert rows > 0, (export_id, start, end)
