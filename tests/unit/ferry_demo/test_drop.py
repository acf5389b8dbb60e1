"""The demo's partner lead file: found by the demo import, the same bytes for the same day."""

from __future__ import annotations

import csv
import datetime as dt

from ferry.imports import files
from ferry.run_info import RunInfo
from ferry.spec.loader import load_project
from ferry_demo.cli import main
from include_copy import ROOT

DAY = dt.date(2026, 3, 4)


def test_the_dropped_file_is_what_the_demo_import_looks_for(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FERRY_DROP", str(tmp_path / "drop"))
    assert main(["--drop-leads", DAY.isoformat()]) == 0
    path = tmp_path / "drop" / "partner" / "leads_20260304.csv"
    assert f"dropped {path}" in capsys.readouterr().out
    spec = load_project(ROOT / "include").imports["partner_leads"]
    run = RunInfo("partner_leads", "r", logical_date=dt.datetime(2026, 3, 4, tzinfo=dt.UTC))
    assert [f.name for f in files.find(spec, run.template_vars())] == [path.name]
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 20 and set(rows[0]) == {field for field, _ in spec.column_pairs([])}
    first = path.read_bytes()
    assert main(["--drop-leads", DAY.isoformat()]) == 0
    assert path.read_bytes() == first  # same day, same bytes
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no .part left
