"""`python -m ferry_demo`: build the demo warehouse (see ferry_demo.cli)."""

from ferry_demo.cli import main

if __name__ == "__main__":  # run, not imported (plugins/.airflowignore keeps Airflow out)
    raise SystemExit(main())
