"""The Exports page: a FastAPI app that Airflow's API server mounts at /ferry (see
plugins/ferry_exports_plugin.py). Only this package and ferry.render import Airflow."""
