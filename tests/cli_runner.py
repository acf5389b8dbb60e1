"""Run `ferry ...` in this process and keep what it printed, as a user sees it."""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from pathlib import Path

from ferry.cli import main
from include_copy import copy_include

COMMENT = "# Reviewed by data-platform: ask #ferry before changing.\n"


@dataclass
class Result:
    code: int
    out: str
    err: str


def run_ferry(*args: str) -> Result:
    """The exit code, stdout and stderr of `ferry ARGS...`."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return Result(code, out.getvalue(), err.getvalue())


def commented_include(tmp_path: Path) -> Path:
    """A copy of include/ whose exports start with a comment, which edits must keep."""
    include = copy_include(tmp_path)
    for path in (include / "exports").glob("*.yaml"):
        path.write_text(COMMENT + path.read_text())
    return include
