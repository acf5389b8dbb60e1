"""load on a DuckDB warehouse: modes row by row, the ledger, rejects, all or nothing."""

from __future__ import annotations

from tests.unit.imports.helpers import import_spec, run, table_rows, write_file

HEADER = "lead_id,email,score,signed_up\n"


def test_merge_updates_matching_keys_and_inserts_the_rest(warehouse, folder):
    file = write_file(folder, "leads.csv", HEADER + "2,new-b@x.org,9,2026-02-02\n3,c@x.org,3,\n")
    result = run(import_spec("merge"), [file], folder)
    assert (result.rows_read, result.inserted, result.updated, result.rejected) == (2, 1, 1, 0)
    assert table_rows(warehouse) == [
        (1, "a@x.org", 1.5, "2026-01-01"),
        (2, "new-b@x.org", 9.0, "2026-02-02"),
        (3, "c@x.org", 3.0, None),
    ]
