"""A Postgres table as an import's target: ADBC's bulk ingest, then one INSERT, one commit.

The rows are COPYed (ADBC's adbc_ingest streams Arrow as binary COPY) into a temporary
table inside the load's transaction, then written by one statement: INSERT ... ON
CONFLICT (key) DO UPDATE for merge (the key needs a primary key or unique constraint),
INSERT for append, DELETE + INSERT for overwrite. Commit makes it visible at once;
any error rolls the whole transaction back. Each value is cast to the column's type as
Postgres spells the canonical tables.yaml type (ferry.sql.POSTGRES.type_name).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import pyarrow as pa

from ferry.imports.errors import ImportSetupError, TargetBusy, TargetRefused
from ferry.imports.writes import Write, Written
from ferry.sources.base import SourceUnavailable
from ferry.sources.postgres import classify
from ferry.sql import POSTGRES, quote

_NO_UNIQUE_KEY = "42P10"  # ON CONFLICT names columns no unique index covers


@dataclass(frozen=True)
class PostgresTarget:
    uri: str = field(repr=False)
    connection_id: str

    def write(self, rows: pa.RecordBatchReader, write: Write) -> Written:
        import adbc_driver_postgresql.dbapi as adbc

        try:
            conn = adbc.connect(self.uri)  # autocommit off: one transaction until commit
        except Exception as error:
            raise self._error(error) from None
        try:
            with conn.cursor() as cursor:
                cursor.execute("SET LOCAL TimeZone = 'UTC'")
                cursor.adbc_ingest(write.incoming, rows, mode="create", temporary=True)
                written = _write(cursor, write)
            conn.commit()
            return written
        except Exception as error:
            with contextlib.suppress(Exception):
                conn.rollback()
            if getattr(error, "sqlstate", None) == _NO_UNIQUE_KEY:
                raise ImportSetupError(
                    f"connection {self.connection_id} (postgres): table {write.table} has no "
                    f"primary key or unique constraint on {write.key}; merge needs one (ALTER "
                    "TABLE ... ADD PRIMARY KEY); the table is unchanged"
                ) from None
            raise self._error(error) from None
        finally:
            with contextlib.suppress(Exception):
                conn.close()

    def _error(self, error: Exception) -> Exception:
        if not type(error).__module__.startswith("adbc_driver_manager"):
            return error
        classified = classify(error, self.connection_id, self.uri)
        if isinstance(classified, SourceUnavailable):
            return TargetBusy(f"{classified}; nothing was loaded, the load is retried")
        return TargetRefused(f"{classified}; the table is unchanged")


def _write(cursor, write: Write) -> Written:
    names = write.names
    values = ", ".join(
        f"CAST({quote(c)} AS {POSTGRES.type_name(t)})" for c, t in write.columns.items()
    )
    insert = f"INSERT INTO {write.table} ({names}) SELECT {values} FROM pg_temp.{write.incoming}"
    deleted = 0
    if write.mode == "overwrite":
        cursor.execute(f"WITH gone AS (DELETE FROM {write.table} RETURNING 1) "
                       "SELECT count(*) FROM gone")  # fmt: skip
        deleted = cursor.fetchone()[0]
    if write.mode == "merge":
        upsert = (
            f"{insert} ON CONFLICT ({quote(write.key)}) DO UPDATE SET "
            f"{write.merge_set('EXCLUDED')} RETURNING (xmax = 0) AS inserted"
        )
        cursor.execute(
            f"WITH up AS ({upsert}) SELECT count(*) FILTER (WHERE inserted), "
            "count(*) FILTER (WHERE NOT inserted) FROM up"
        )
        inserted, updated = cursor.fetchone()
        return Written(inserted=inserted, updated=updated)
    cursor.execute(f"WITH added AS ({insert} RETURNING 1) SELECT count(*) FROM added")
    return Written(inserted=cursor.fetchone()[0], deleted=deleted)
