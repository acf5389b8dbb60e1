"""A multi-process Ferry deployment on one machine: `scripts/start --celery`.

Postgres as Airflow's metadata database, Redis as Celery's broker, a local S3 API server
(moto) for staging and task logs, and Airflow's API server, scheduler, DAG processor,
triggerer and Celery workers, each with its own working folders, all on 127.0.0.1.
services.py runs the three servers; deployment.py the Airflow processes; __main__ the
command.
"""
