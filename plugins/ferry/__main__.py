"""`python -m ferry`: the command line."""

from ferry.cli import main

raise SystemExit(main())
