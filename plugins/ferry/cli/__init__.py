"""The `ferry` command line: `ferry --help` lists the commands.

Each module in this package adds its commands to the parser with register(subparsers);
a command is a function taking the parsed args and returning an exit code.

Output is for people: log lines (Ferry's and Airflow's, which the commands that read a
connection import) go to ferry.paths.cli_log(), and to stderr as well with --verbose;
warnings and errors always reach stderr too (a large export, a failed expectation set to
warn, webhook rejects), one plain line each.
Airflow reads the project's home (ferry.paths.airflow_home()), never ~/airflow. An error
Ferry expects (a definition, an option, the network) is one line and exit code 2.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Iterator

from ferry import paths
from ferry.cli import (
    changes,
    definitions,
    edit,
    listing,
    local,
    past_runs,
    remote,
    remove,
    tables,
)
from ferry.exceptions import describe, kind_of

COMMAND_MODULES = [definitions, local, remote, listing, edit, remove, past_runs, tables, changes]
WAREHOUSE_MOVED = (
    "ferry: `ferry warehouse` has moved with the demo out of the product: build the demo"
    " warehouse with `python -m ferry_demo` (same options, e.g. --size medium)"
)
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
PLAIN_FORMAT = "%(levelname)s: %(message)s"
log = logging.getLogger("ferry.cli")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ferry", description="Ferry: customer-data exports as Airflow DAGs."
    )
    parser.add_argument("--verbose", action="store_true", help="log lines on stderr too")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(subparsers)
    for command in subparsers.choices.values():  # `ferry run x --verbose` works as well
        command.add_argument(
            "--verbose", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
        )
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["warehouse"]:  # moved out of the product with the demo
        print(WAREHOUSE_MOVED, file=sys.stderr)
        return 2
    args = build_parser().parse_args(argv)
    with cli_logging(verbose=args.verbose):
        try:
            return args.handler(args)
        except KeyboardInterrupt:
            return 130
        except Exception as error:
            if not expected(error):
                raise  # a bug: its traceback is the way to find the cause
            log.info("the command failed", exc_info=True)
            print(f"error: {describe(error)}", file=sys.stderr)
            return 2


def expected(error: BaseException) -> bool:
    """An error a person can act on from its message: Ferry's own, a file's, the network's."""
    return kind_of(error) != "unclassified" or isinstance(error, OSError)


@contextlib.contextmanager
def cli_logging(verbose: bool) -> Iterator[None]:
    """Log lines to the CLI log (and stderr with --verbose); Airflow at the project's home.

    Set before anything imports Airflow, which reads AIRFLOW_HOME and its log level once.
    The loggers are as they were afterwards (main also runs inside tests).
    """
    os.environ.setdefault("AIRFLOW_HOME", str(paths.airflow_home()))
    if not verbose:  # Airflow's own logging setup writes its INFO lines to stdout
        os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
    handlers: list[logging.Handler] = [_file_handler()]
    if verbose:
        handlers.append(logging.StreamHandler(sys.stderr))
    for handler in handlers:
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        handler.setLevel(logging.INFO)
    if not verbose:
        handlers.append(_warnings_handler())
    root, ferry = logging.getLogger(), logging.getLogger("ferry")
    before = [(logger, logger.level, logger.propagate) for logger in (root, ferry)]
    # Airflow's logging setup (on its import) replaces the root's handlers, not ferry's
    for logger in (root, ferry):
        logger.handlers.extend(handlers)
    root.setLevel(logging.INFO)
    ferry.setLevel(logging.DEBUG)  # the extract's progress records, for a progress bar
    ferry.propagate = False
    try:
        yield
    finally:
        for logger, level, propagate in before:
            for handler in handlers:
                with contextlib.suppress(ValueError):
                    logger.handlers.remove(handler)
            logger.setLevel(level)
            logger.propagate = propagate
        for handler in handlers:
            handler.close()


def _warnings_handler() -> logging.Handler:
    """What a person must see even without --verbose: warnings and errors, plainly."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(PLAIN_FORMAT))
    handler.setLevel(logging.WARNING)
    return handler


def _file_handler() -> logging.Handler:
    target = paths.cli_log()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        return logging.FileHandler(target, encoding="utf-8")
    except OSError:  # a read-only FERRY_HOME: the lines are lost, the command still runs
        return logging.NullHandler()
