"""What every command group shares: exit codes, the case id argument and the application context.

The groups import these from here rather than from the package, whose ``__init__`` imports them."""
from __future__ import annotations

import argparse

from engine import SystemClock
from store import app_context

EXIT_REFUSED = 2
EXIT_FAILED = 1


def _case_id(text: str) -> int:
    cleaned = text.strip().upper().lstrip("C")
    if not cleaned.isdigit():
        raise argparse.ArgumentTypeError(f"not a case id: {text!r} (e.g. 12 or C000012)")
    return int(cleaned)


def _app(args, clock=None):
    return app_context(args.database, clock or SystemClock())
