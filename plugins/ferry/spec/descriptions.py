"""Hover text of every definition field, put into the published JSON Schemas.

Kept apart from the models and read only when a schema is made (`ferry schema`): a field
docstring would cost an inspect of the source per model at every DAG parse, and the models'
modules stay short. tests/unit/spec/test_descriptions.py fails on a field without text here
and on text for a field that no longer exists.
"""

from __future__ import annotations

from typing import Any

_PLACEHOLDERS = (
    "placeholders: ds, ds_nodash, ts, ts_nodash, run_id, logical_date, data_interval_start, "
    "data_interval_end, export_id, export_name"
)
_PATH = f"Path template of each file; {_PLACEHOLDERS}, and part, file, ext."
_DESTINATION_NAME = "Name of this destination in task ids (deliver_<name>); default: its type."
_DATES = "placeholders: ds, ds_nodash, ts, ts_nodash, logical_date, data_interval_start/end"
_PATTERN = f"File name glob (* ? [abc]) the files match; {_DATES}."
_FILES = "one (the newest match) or all (default) of the matching files."
_DONE = "Folder (under path) the loaded files are moved to after success; default: left."
_RULE = "A condition ({field, op, value}) or a nested all / any / not."

IMPORTS: dict[str, dict[str, str]] = {
    "ImportSpec": {
        "id": "Import id: lower case letters, digits, _; the DAG is import__<id>.",
        "name": "Name shown in the Airflow UI and notifications.",
        "description": "What the import is for, shown in the Airflow UI.",
        "owner": "Owner of the DAG in Airflow (a team or person).",
        "source": "Where the files come from: sftp, s3 or folder, with a name pattern.",
        "format": "File type, compression, header, delimiter and encoding.",
        "table": "Table of include/warehouse/tables.yaml written, on its connection.",
        "mode": "merge (update rows by key, insert the rest), append or overwrite.",
        "key": "merge: the column rows are matched on (default: the table's key).",
        "columns": "all (every table column, by name) or a list; {field, to} renames.",
        "rejects": "Rows failing a type or rule: the share allowed, and fail or warn over it.",
        "expectations": "Checks of the loaded rows (Great Expectations), as for exports.",
        "wait": "How long to wait for the files (timeout) and how often to look.",
        "schedule": "off (default), refresh, once, hourly, daily, weekly, monthly or a cron.",
        "timezone": "IANA time zone of the schedule (default UTC).",
        "enabled": "false pauses the DAG and removes its schedule.",
        "notify": "Who hears of failures, successes and empty runs.",
        "tags": "Airflow DAG tags (at most 100 characters each).",
        "retries": "Task retries on transient failures (0..10).",
    },
    "SftpFiles": {
        "type": "sftp", "connection": "Airflow connection (sftp) to read with.",
        "path": "Folder on the server.", "pattern": _PATTERN, "files": _FILES,
        "done_folder": _DONE,
    },
    "S3Files": {
        "type": "s3", "connection": "Airflow connection (aws) to read with.",
        "bucket": "S3 bucket.", "path": "Key prefix (a folder) of the files.",
        "pattern": _PATTERN, "files": _FILES, "done_folder": _DONE,
    },
    "FolderFiles": {
        "type": "folder", "path": "Folder under the drop folder ($FERRY_DROP, $FERRY_HOME/drop).",
        "pattern": _PATTERN, "files": _FILES, "done_folder": _DONE,
    },
    "ImportFormat": {
        "type": "csv, tsv, json, jsonl or parquet.",
        "compression": "auto (by file extension), none, gzip or zip.",
        "header": "csv/tsv: the first line names the columns.",
        "delimiter": "csv/tsv: the separator (default , or tab).",
        "encoding": "utf-8, latin-1 or utf-16.",
    },
    "ColumnMap": {"field": "Column of the file.", "to": "Column of the table it loads into."},
    "Rejects": {
        "max_rate": "Share of rows (0..1) that may be rejected (default 0).",
        "on_exceed": "fail (default: nothing is loaded) or warn over max_rate.",
    },
    "FileWait": {
        "timeout": "Longest wait for the files (e.g. 6h); then the run fails.",
        "poke_interval": "Time between two looks (e.g. 5m).",
    },
}  # fmt: skip

DESCRIPTIONS: dict[str, dict[str, str]] = {
    "ExportSpec": {
        "id": "Export id: lower case letters, digits, _; the DAG is export__<id>.",
        "name": "Name shown in the Airflow UI, emails and file templates.",
        "description": "What the export is for, shown in the Airflow UI.",
        "owner": "Owner of the DAG in Airflow (a team or person).",
        "kind": "data_out (rows of a table), segment (to a target) or report (aggregates).",
        "source": "What to read: {table: <table>}, {segment: <id>} or {report: <table>, ...}.",
        "target": "Target (targets.yaml) a segment export goes to; it sets rules and limits.",
        "contacts_of_accounts": "For an account segment: send its accounts' contacts instead.",
        "fields": "all (PII columns need a pii rule) or a list of fields, renamed with as:.",
        "filters": "Which rows: the run's interval, dates, hours and where conditions.",
        "pii": "Per PII field: keep, exclude, hash, mask, tokenize, or {action: ...}.",
        "format": "File type, compression and file size limits.",
        "destinations": "Where the files go: s3, sftp, email, webhook or download.",
        "schedule": "refresh (default), once, off, hourly, daily, weekly, monthly or a cron.",
        "timezone": "IANA time zone of the schedule (default UTC).",
        "depends_on": "Tables and segments whose refresh starts it (default: what it reads).",
        "limits": "Row and byte sizes to warn over or to refuse the run over.",
        "expectations": "Checks of the files before delivery (Great Expectations).",
        "changes": "true: send only rows added, changed or removed since the last delivery.",
        "retention_days": "Days a run's files stay in the download area (1..36500).",
        "expires": "Last day a run is scheduled (YYYY-MM-DD); none after it.",
        "enabled": "false pauses the DAG and removes its schedule.",
        "notify": "Who hears of failures, successes and empty runs.",
        "tags": "Airflow DAG tags (at most 100 characters each); detached deactivates.",
        "retries": "Task retries on transient failures (0..10).",
    },
    "SegmentSpec": {
        "id": "Segment id: lower case letters, digits, _.",
        "name": "Name of the segment.",
        "description": "Who the segment holds, in words.",
        "type": "customer_profile, contact or account: the table the rules read.",
        "rules": _RULE,
    },
    "GroupSpec": {
        "id": "Group id; the DAG is group__<id>.",
        "name": "Name shown in the Airflow UI.",
        "description": "What the group is for, shown in the Airflow UI.",
        "owner": "Owner of the DAG in Airflow.",
        "members": "Exports and imports run in this order, each as a task group.",
        "schedule": "off (default), refresh, once, hourly, daily, weekly, monthly or a cron.",
        "timezone": "IANA time zone of the schedule (default UTC).",
        "notify": "Who hears of failures, successes and empty runs.",
        "tags": "Airflow DAG tags.",
    },
    "GroupMember": {
        "export": "Id of the export to run (or import: <id>, not both).",
        "import": "Id of the import to run (or export: <id>, not both).",
        "continue_on_failure": "Run the next member even if this one fails.",
    },
    "FieldChoice": {
        "field": "Column of the source table.",
        "as": "Name of the column in the files (default: the field's name).",
        "derive": "Send a safe part of the value instead: email_domain.",
    },
    "PiiRule": {
        "action": "keep, exclude, hash, mask or tokenize.",
        "keep_first": "mask: characters kept at the start.",
        "keep_last": "mask: characters kept at the end.",
        "keep_domain": "mask: keep an email's domain.",
        "normalize": "hash, tokenize: trim and lower-case first.",
    },
    "Filters": {
        "window": "Rows whose column falls in the run's data interval.",
        "date_column": "Column that dates, date_range and hours test.",
        "dates": "Only these days (YYYY-MM-DD).",
        "date_range": "Only days from start to end, both included.",
        "hours": "Only these hours of the day (UTC): {start: 9, end: 17}.",
        "where": "Conditions every row must meet: {field, op, value}.",
    },
    "Window": {
        "column": "DATE or TIMESTAMP column tested against the interval.",
        "range": "data_interval: the run's interval.",
    },
    "DateRange": {"start": "First day (YYYY-MM-DD).", "end": "Last day (YYYY-MM-DD)."},
    "HourRange": {"start": "First hour, 0..23 (included).", "end": "End hour, 1..24 (excluded)."},
    "TableSource": {"table": "Table of include/warehouse/tables.yaml."},
    "SegmentSource": {"segment": "Segment id of include/segments/."},
    "ReportSource": {
        "report": "Table of include/warehouse/tables.yaml the report groups.",
        "group_by": "Columns, or {column, bucket: hour|day|week|month, as}, to group by.",
        "metrics": "Named aggregates: {name, count|count_distinct|sum|avg|min|max: <column>}.",
    },
    "GroupBucket": {
        "column": "DATE or TIMESTAMP column cut into buckets (UTC).",
        "bucket": "hour, day, week (from Monday) or month.",
        "as": "Output column name (default <column>_<bucket>).",
    },
    "Metric": {
        "name": "Output column name.",
        "count": 'Rows ("*") or non-null values of a column.',
        "count_distinct": "Distinct non-null values of a column.",
        "sum": "Sum of a number column.",
        "avg": "Average of a number column (DOUBLE).",
        "min": "Smallest value of a column.",
        "max": "Largest value of a column.",
    },
    "Format": {
        "type": "csv, tsv, json, jsonl or parquet.",
        "compression": "none, gzip, zip (text formats) or zstd (parquet).",
        "rows_per_file": "Rows per file before the next part starts.",
        "bytes_per_file": "Bytes per file before the next part starts (e.g. 500MB).",
        "pretty": "json: indented.",
        "name": "File name stem (default: the export id).",
        "formula_guard": "csv/tsv: prefix cells starting = + - @ with '; default on for email "
        "and download.",
        "chunk_by": "One file set per hour, day, week or month of a column: {column, every}.",
    },
    "ChunkBy": {
        "column": "DATE or TIMESTAMP column whose period (UTC) picks the file set.",
        "every": "hour, day, week (from Monday) or month.",
    },
    "Changes": {
        "output": "column (a last _change column) or files (added_, changed_, removed_ sets).",
        "key": "Column identifying a row (default: the table's key).",
    },
    "Limits": {
        "max_rows": "Skip the run, delivering nothing, over this many rows.",
        "max_bytes": "Skip the run, delivering nothing, over this size (e.g. 5GB).",
        "warn_rows": "Warn over this many rows.",
        "warn_bytes": "Warn over this size (e.g. 500MB).",
    },
    "Notify": {
        "on_failure": "Emails or webhook:<connection id> told when a run fails.",
        "on_success": "Emails or webhook:<connection id> told when a run delivers.",
        "on_empty": "Emails or webhook:<connection id> told when a run has no rows.",
    },
    "Expectation": {
        "expect": "not_null, unique, regex, value_set or row_count_between.",
        "field": "Output column checked (all but row_count_between).",
        "pattern": "regex: the pattern every value matches.",
        "values": "value_set: the allowed values.",
        "min": "row_count_between: fewest rows.",
        "max": "row_count_between: most rows.",
        "on_failure": "fail (default: nothing is delivered) or warn.",
    },
    "S3Destination": {
        "name": _DESTINATION_NAME,
        "type": "s3",
        "connection": "Airflow connection (aws) to write with.",
        "bucket": "S3 bucket.",
        "path": _PATH,
        "encryption": "AES256 or aws:kms.",
        "kms_key_id": "KMS key with aws:kms (default: the bucket's key).",
    },
    "SftpDestination": {
        "name": _DESTINATION_NAME,
        "type": "sftp",
        "connection": "Airflow connection (sftp) to write with.",
        "path": _PATH,
    },
    "EmailDestination": {
        "name": _DESTINATION_NAME,
        "type": "email",
        "connection": "Airflow SMTP connection (default smtp_default).",
        "to": f"Recipients; {_PLACEHOLDERS}.",
        "subject": f"Subject template; {_PLACEHOLDERS}.",
        "body": f"Body template; {_PLACEHOLDERS}.",
        "max_attachment_bytes": "Most bytes attached (e.g. 10MB); above, a link instead.",
    },
    "WebhookDestination": {
        "name": _DESTINATION_NAME,
        "type": "webhook",
        "connection": "Airflow HTTP connection: the host to post to.",
        "endpoint": "Path posted to, after the connection's host.",
        "mode": "records (the rows, in batches) or manifest (the file list).",
        "batch_size": "Records per request (1..100000).",
        "signing_connection": "Connection whose password signs each body (HMAC).",
        "max_reject_rate": "Share of records the target may reject (0..1).",
        "on_rejects_over": "fail or warn when more are rejected.",
    },
    "DownloadDestination": {"name": _DESTINATION_NAME, "type": "download: from the Ferry UI."},
    "Condition": {
        "field": "Column compared.",
        "op": "Comparison: eq, in, between, regex, within_last_days...",
        "value": "Value compared with; a list for in, not_in and between.",
    },
    "AllOf": {"all": "Every rule holds."},
    "AnyOf": {"any": "At least one rule holds."},
    "NotOf": {"not": "The rule does not hold."},
    "TargetsFile": {"targets": "Targets by id."},
    "TargetSpec": {
        "name": "Name of the target system.",
        "segment_types": "Segment types the target accepts.",
        "required_fields": "Fields every export to it must send.",
        "max_rows": "Refuse runs over this many rows.",
        "warn_rows": "Warn over this many rows.",
        "max_bytes": "Refuse runs over this size (e.g. 5GB).",
        "warn_bytes": "Warn over this size.",
    },
    "TablesFile": {"tables": "Warehouse tables by name."},
    "TableSpec": {
        "description": "What the table holds.",
        "connection": "Airflow connection the table lives on (duckdb, postgres or fs).",
        "name": "The table's name in its source: schema.table, or a file glob for fs.",
        "key": "Column that identifies a row.",
        "segment_type": "Segment type whose rules read this table.",
        "timestamp": "DATE or TIMESTAMP column of a row's time.",
        "columns": "Columns by name: {type, pii}.",
    },
    **IMPORTS,
    "ColumnSpec": {
        "type": "Column type, e.g. VARCHAR, BIGINT, DECIMAL(18,2), TIMESTAMP.",
        "pii": "Personal data: left out unless an export's pii says what to do.",
    },
}


def describe(schema: dict[str, Any], model: str) -> None:
    """Give each property of a model's schema its description (by alias or by name)."""
    texts = DESCRIPTIONS.get(model, {})
    for name, prop in schema.get("properties", {}).items():
        text = texts.get(name) or texts.get(name.rstrip("_"))
        if text:
            prop["description"] = text
