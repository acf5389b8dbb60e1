"""The `ferry` command line: `ferry --help` lists the commands.

Each module in this package adds its commands to the parser with register(subparsers);
a command is a function taking the parsed args and returning an exit code.
"""

from __future__ import annotations

import argparse
import logging
import sys

from ferry.cli import definitions, edit, listing, local, past_runs, remote

COMMAND_MODULES = [definitions, local, remote, listing, edit, past_runs]
WAREHOUSE_MOVED = (
    "ferry: `ferry warehouse` has moved with the demo out of the product: build the demo"
    " warehouse with `python -m ferry_demo` (same options, e.g. --size medium)"
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ferry", description="Ferry: customer-data exports as Airflow DAGs."
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["warehouse"]:  # moved out of the product with the demo
        print(WAREHOUSE_MOVED, file=sys.stderr)
        return 2
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        return 130
