"""The demo that ships with Ferry: a generated DuckDB warehouse and its hourly system refresh.

Apart from the product on purpose: nothing in the `ferry` package imports it. A team that
points Ferry at its own warehouse deletes plugins/ferry_demo/ and dags/ferry_demo_refresh.py.

- build, tables, blocks, pools: the deterministic generator (`python -m ferry_demo`)
- refresh: the system refresh run by dags/ferry_demo_refresh.py
"""
