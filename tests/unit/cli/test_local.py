"""`ferry preview` and `ferry run --local` in this process: expected errors are one line."""

from __future__ import annotations

from ferry.cli import main as ferry


def test_preview_without_a_warehouse_says_how_to_build_one(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FERRY_WAREHOUSE", str(tmp_path / "none.duckdb"))

    assert ferry(["preview", "daily_lead_backup"]) == 2
    assert capsys.readouterr().err.endswith(
        f"error: warehouse {tmp_path / 'none.duckdb'} does not exist: build it (`ferry "
        "warehouse`) or set FERRY_WAREHOUSE\n"
    )
