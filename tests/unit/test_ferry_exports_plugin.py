"""The plugin as Airflow reads it: the app at /ferry, "Exports" in the navigation, and
nothing of Ferry imported when an Airflow component loads the plugin file."""

from __future__ import annotations

import subprocess
import sys


def test_airflow_accepts_the_app_and_the_navigation_entry():
    from airflow.api_fastapi.core_api.datamodels.plugins import ExternalViewResponse

    from ferry_exports_plugin import FerryExportsPlugin

    (app,) = FerryExportsPlugin.fastapi_apps
    assert (app["url_prefix"], app["name"]) == ("/ferry", "Ferry exports")
    (view,) = FerryExportsPlugin.external_views
    shown = ExternalViewResponse.model_validate(view)
    assert (shown.name, shown.href, shown.destination) == ("Exports", "/ferry/", "nav")


def test_loading_the_plugin_imports_nothing_heavy():
    code = (
        "import sys, ferry_exports_plugin; "
        "print(sorted(m for m in ('ferry', 'fastapi', 'pandas', 'duckdb', 'pyarrow') "
        "if m in sys.modules))"
    )
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "[]"
