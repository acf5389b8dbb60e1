"""Ferry: export definitions in YAML rendered into Apache Airflow 3 DAGs."""

__version__ = "0.1.0"
