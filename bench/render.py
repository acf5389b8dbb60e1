"""How long Airflow takes to render N export definitions into DAGs (goal: <= 3 ms each).

    .venv/bin/python bench/render.py [--exports 1000] [--repeat 3]

Writes N varied export YAML files into a temporary include/ (copying the real tables,
targets and segments), then times, best of --repeat: load (YAML -> validated spec) and
render (spec -> DAG objects), and a full DagBag parse of dags/ as the DAG processor does it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins"))

TEMPLATES = [
    """id: {id}
name: Lead backup {n}
owner: data-platform
source: {{table: lead}}
filters:
  window: {{column: created_at}}
  where: [{{field: state, op: in, value: [TX, CA, NY]}}]
pii: {{email: hash, phone: mask}}
format: {{type: csv, compression: gzip}}
destinations:
  - {{type: s3, connection: aws, bucket: leads, path: "l/{{{{ ds }}}}/{{{{ part }}}}.csv.gz"}}
  - {{type: sftp, connection: acct, path: "/in/l_{{{{ ds }}}}_{{{{ part }}}}.csv.gz"}}
schedule: "{minute} 2 * * *"
""",
    """id: {id}
name: Mailchimp {n}
kind: segment
source: {{segment: high_value_customers}}
target: mailchimp
fields: [{{field: email, as: Email}}, loyalty_tier, lifetime_value]
pii: {{email: keep}}
destinations: [{{type: webhook, connection: mailchimp_api, endpoint: /lists/{n}/members}}]
schedule: refresh
""",
    """id: {id}
name: Events {n}
source: {{table: lead_event}}
format: {{type: parquet, compression: zstd}}
destinations: [{{type: download}}, {{type: email, to: [ops@example.com]}}]
schedule: "@weekly"
timezone: America/New_York
""",
]


def write_definitions(include: Path, count: int) -> None:
    shutil.copytree(
        ROOT / "include", include, ignore=shutil.ignore_patterns("*.duckdb*", "exports", "groups")
    )
    (include / "exports").mkdir()
    for n in range(count):
        text = TEMPLATES[n % len(TEMPLATES)].format(id=f"bench_{n:05d}", n=n, minute=n % 60)
        (include / "exports" / f"bench_{n:05d}.yaml").write_text(text)


def best_of(repeat: int, action) -> tuple[float, object]:
    timings, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = action()
        timings.append(time.perf_counter() - started)
    return min(timings), result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exports", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        include = Path(folder) / "include"
        write_definitions(include, args.exports)
        os.environ.update(FERRY_INCLUDE=str(include), AIRFLOW_HOME=str(Path(folder) / "airflow"))
        report(include, args)
    return 0


def report(include: Path, args: argparse.Namespace) -> None:
    from airflow.dag_processing.dagbag import DagBag

    from ferry.render.dags import render_project
    from ferry.spec.loader import load_project

    load_s, project = best_of(args.repeat, lambda: load_project(include))
    assert not project.errors, project.errors[:3]
    render_s, dags = best_of(args.repeat, lambda: render_project(project))
    parse_s, bag = best_of(args.repeat, lambda: DagBag(dag_folder=str(ROOT / "dags")))
    assert len(bag.dags) >= args.exports and not bag.import_errors
    tasks = statistics.mean(len(dag.tasks) for dag in dags.values())
    per = 1000 / args.exports
    print(f"{args.exports} exports, {tasks:.1f} tasks per DAG, best of {args.repeat}")
    print(f"  load   (YAML -> spec):    {load_s * per:6.2f} ms per export")
    print(f"  render (spec -> DAG):     {render_s * per:6.2f} ms per export")
    print(f"  DagBag parse of dags/:    {parse_s * per:6.2f} ms per export  ({parse_s:.2f} s)")


if __name__ == "__main__":
    raise SystemExit(main())
