"""deploy/: the Helm values use only keys the official Airflow chart documents, with their
documented types, and give Ferry what a deployment needs; the Dockerfile builds the image
from this repository's pins. (Nothing here runs helm, kubectl or docker: see the README.)"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from ferry.staging import Remote, parse_root

ROOT = Path(__file__).resolve().parents[2]
VALUES = ROOT / "deploy" / "helm" / "values.yaml"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
# The keys this file uses and their types, as apache/airflow's chart/values.schema.json
# documents them (read at commit 002e5532d7d5; sections data, images, workers and dags
# allow no other keys). A key the chart does not know is silently ignored by helm.
CHART_KEYS: dict[str, type | tuple[type, ...]] = {
    "executor": str, "airflowVersion": str, "defaultAirflowRepository": str,
    "defaultAirflowTag": str, "images.airflow.repository": str, "images.airflow.tag": str,
    "images.airflow.pullPolicy": str, "workers.replicas": int, "postgresql.enabled": bool,
    "data.metadataSecretName": str, "data.brokerUrlSecretName": str,
    "fernetKeySecretName": str, "apiSecretKeySecretName": str, "jwtSecretName": str,
    "webserverSecretKeySecretName": str, "env": list, "secret": list, "extraEnv": str,
    "extraEnvFrom": str, "config": dict, "dags.persistence.enabled": bool,
    "dags.gitSync.enabled": bool,
}  # fmt: skip
EXECUTOR = re.compile(r"^(([a-zA-Z_][a-zA-Z0-9_]*.)*[A-Z][a-zA-Z0-9]+Executor)$")  # the schema's


def values() -> dict:
    return yaml.safe_load(VALUES.read_text())


def leaves(tree: dict, prefix: str = "") -> dict[str, object]:
    """Dotted paths to values; config and lists stay whole (the chart types them so)."""
    found = {}
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and path != "config":
            found |= leaves(value, path + ".")
        else:
            found[path] = value
    return found


def test_every_key_is_one_the_chart_documents_with_its_type():
    found = leaves(values())

    unknown = sorted(set(found) - set(CHART_KEYS))
    assert not unknown, f"keys the chart does not document: {unknown}"
    for path, value in found.items():
        assert isinstance(value, CHART_KEYS[path]), (path, value)
    assert EXECUTOR.match(found["executor"])
    for section in found["config"].values():  # airflow.cfg: scalars only
        assert all(isinstance(v, str | int | float | bool) for v in section.values())


def test_env_and_secret_entries_have_the_shapes_the_chart_accepts():
    tree = values()
    for item in tree["env"]:
        assert set(item) == {"name", "value"} and all(isinstance(v, str) for v in item.values())
    for item in tree["secret"]:
        assert {"envName", "secretName"} <= set(item) <= {"envName", "secretName", "secretKey"}
    assert isinstance(yaml.safe_load(tree["extraEnvFrom"]), list)


def test_ferry_gets_s3_staging_a_postgres_history_and_the_pii_key_from_a_secret():
    tree = values()
    env = {item["name"]: item["value"] for item in tree["env"]}

    assert isinstance(parse_root(env["FERRY_STAGING"]), Remote)
    assert env["FERRY_HISTORY_CONN"]
    assert "AIRFLOW_CONN_FERRY_PII" in {item["envName"] for item in tree["secret"]}
    # no credential in the values: every AIRFLOW_CONN_* comes from a Secret
    assert not [name for name in env if name.startswith("AIRFLOW_CONN_")]
    assert not re.search(r"://[^/@\s]*:[^/@\s]*@", yaml.safe_dump(tree))


def test_the_image_is_the_pinned_airflow_with_the_locked_requirements():
    pins = dict(
        line.split("==", 1)
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    )
    airflow = pins["apache-airflow"].split()[0]
    text = DOCKERFILE.read_text()

    assert re.search(rf"^FROM apache/airflow:{re.escape(airflow)}-python3\.11$", text, re.M)
    assert f'airflowVersion: "{airflow}"' in VALUES.read_text()
    assert "pip install --no-cache-dir -r /tmp/requirements.lock" in text
    for folder in ("dags", "plugins", "include"):
        assert f"COPY --chown=airflow:root {folder}/ /opt/airflow/{folder}/" in text
