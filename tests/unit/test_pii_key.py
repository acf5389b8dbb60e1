"""ferry.pii_key: the PII key is connection ferry_pii's password, and only that."""

from __future__ import annotations

import json

import pytest

from ferry.pii_key import PII_CONNECTION, read_pii_key

VARIABLE = f"AIRFLOW_CONN_{PII_CONNECTION.upper()}"


@pytest.mark.parametrize(
    ("connection", "key"),
    [
        ({"conn_type": "generic", "password": "s3cr3t-ü"}, "s3cr3t-ü".encode()),
        ({"conn_type": "generic", "password": ""}, None),
        ({"conn_type": "generic", "login": "not-the-key"}, None),
        (None, None),
    ],
)
def test_the_key_is_the_connections_password(monkeypatch, connection, key):
    monkeypatch.delenv(VARIABLE, raising=False)
    if connection is not None:
        monkeypatch.setenv(VARIABLE, json.dumps(connection))

    assert read_pii_key() == key
