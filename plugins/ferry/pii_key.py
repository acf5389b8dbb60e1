"""The HMAC key for hashing and tokenizing PII: the password of Airflow connection ferry_pii.

The one place the key is read, for the tasks and for `ferry preview` / `ferry run --local`
alike. Airflow is imported inside the function: only a run that hashes or tokenizes pays
for it (ferry.engine.pii.needs_key says which do).
"""

from __future__ import annotations

PII_CONNECTION = "ferry_pii"


def read_pii_key() -> bytes | None:
    """The password of connection ferry_pii as bytes; None when it is missing or empty."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        password = BaseHook.get_connection(PII_CONNECTION).password
    except AirflowNotFoundException:
        return None
    return password.encode("utf-8") if password else None
