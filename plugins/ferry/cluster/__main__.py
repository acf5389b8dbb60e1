"""`scripts/start --celery`: the local Celery deployment (ferry.cluster.deployment) until
Ctrl-C, SIGTERM or SIGHUP, which stop every process it started."""

from __future__ import annotations

import argparse
import os
import signal
import time

from ferry import devserver, kickoff, paths
from ferry.cluster.deployment import Deployment


def main(argv: list[str] | None = None) -> int:
    """Start Postgres, Redis, S3 and Airflow with Celery workers; stop them all on a signal."""
    parser = argparse.ArgumentParser(prog="scripts/start --celery", description=main.__doc__)
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=2, help="tasks per worker at once")
    parser.add_argument("--trigger", action="append", default=[], metavar="DAG_ID")
    args = parser.parse_args(argv)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, devserver._stop_on)
    home = paths.project_airflow_home()
    deployment = Deployment(
        paths.ferry_home() / "celery", args.port, devserver._admin_password(home),
        workers=args.workers, concurrency=args.concurrency,
    )  # fmt: skip
    try:
        seconds = deployment.start()
        print(_banner(deployment, seconds), flush=True)
        start_dags = kickoff.dags_to_start(args.trigger, os.environ)
        if start_dags:
            devserver._start_in_background(args.port, deployment.password, start_dags)
        while all(c.running() for c in deployment.components.values()):
            time.sleep(1)
        stopped = [c.name for c in deployment.components.values() if not c.running()]
        print(f"ferry: {', '.join(stopped)} exited; stopping the deployment", flush=True)
        return 1
    except (KeyboardInterrupt, devserver.Stopped) as reason:
        print(f"\nferry: stopping the Celery deployment ({reason or 'Ctrl-C'})", flush=True)
        return 0
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # let the stop finish
            signal.signal(sig, signal.SIG_IGN)
        deployment.stop()


def _banner(deployment: Deployment, seconds: float) -> str:
    state = deployment.state
    return (
        f"ferry: Celery deployment up after {seconds:.0f} s at {deployment.url}\n"
        f"  log in as {devserver.ADMIN_USER} / {deployment.password}\n"
        f"  workers: {', '.join(deployment.worker_names)} (FERRY_HOME {state}/worker-N/ferry)\n"
        f"  metadata: {deployment.postgres.url('airflow')}; broker: {deployment.redis.url}; "
        f"S3: {deployment.s3.endpoint_url}\n"
        f"  logs: {state}/logs; `. {state}/env.sh` points airflow and ferry at it\n"
        "  Ctrl-C (or SIGTERM, SIGHUP) stops every process it started"
    )


if __name__ == "__main__":
    raise SystemExit(main())
