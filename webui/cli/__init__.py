"""The ``safeguarding`` command line: set up, add users, record contacts, work tasks, run timers.

Every error is one clear line on stderr and a non-zero exit, never a traceback.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

from engine import EngineError, ValidationFailed

from . import bench, cases, diagrams, operations, returns, users
from .common import EXIT_FAILED, EXIT_REFUSED


def main(argv: Sequence[str] | None = None) -> int:
    """Run one ``safeguarding`` command and return its exit code (the console script's entry point)."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse has printed its one-line usage error
        return int(exc.code or 0)
    if not getattr(args, "handler", None):
        parser.print_help()
        return EXIT_REFUSED
    try:
        return args.handler(args) or 0
    except ValidationFailed as exc:
        print(f"error: {exc.args[0].split(':')[0] if exc.errors else exc}", file=sys.stderr)
        for error in exc.errors:
            print(f"  - {error.field or 'form'}: {error.message}", file=sys.stderr)
        return EXIT_REFUSED
    except EngineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a bug: say so in one line; SAFEGUARDING_DEBUG=1 shows the traceback
        if os.environ.get("SAFEGUARDING_DEBUG"):
            raise
        print(f"error: unexpected failure ({type(exc).__name__}: {exc})", file=sys.stderr)
        return EXIT_FAILED


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="safeguarding", description=__doc__.splitlines()[0])
    parser.add_argument("--database", help="database URL (default: $DATABASE_URL or SQLite under instance/)")
    sub = parser.add_subparsers(metavar="COMMAND")
    # --help lists the commands in the order they are added here, which is older than the modules:
    # keep it, so the help people have learnt (and scripts may read) does not change.
    operations.register_init(sub)
    users.register(sub)
    diagrams.register(sub)
    operations.register_demo(sub)
    cases.register(sub)
    operations.register(sub)
    returns.register(sub)
    cases.register_access(sub)
    bench.register(sub)
    return parser
