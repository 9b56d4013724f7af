"""Running it for real: ``safeguarding migrate``, ``backup FILE`` and ``restore FILE``."""
from __future__ import annotations

import sys

from engine import SystemClock


def register(sub) -> None:
    cmd = sub.add_parser("migrate", help="upgrade the database schema in place (keeps every row)")
    cmd.set_defaults(handler=cmd_migrate)
    cmd = sub.add_parser("backup", help="write a consistent backup of the whole database to FILE")
    cmd.add_argument("file")
    cmd.add_argument("--portable", action="store_true",
                     help="JSON lines (restorable into SQLite or PostgreSQL) even from SQLite")
    cmd.set_defaults(handler=cmd_backup)
    cmd = sub.add_parser("restore", help="replace the database's contents with a backup FILE")
    cmd.add_argument("file")
    cmd.add_argument("--force", action="store_true", help="overwrite a database that already holds data")
    cmd.set_defaults(handler=cmd_restore)


def _connect(args):
    """The database alone: these commands must not create or migrate the schema first."""
    from store.db import connect
    db = connect(args.database)
    db.connect(reuse_if_open=True)
    return db


def cmd_migrate(args) -> int:
    from store.migrations import migrate
    _connect(args)
    report = migrate(SystemClock().now())
    if not report.changed:
        print(f"already at schema version {report.to_version}; nothing to do")
        return 0
    start = "an empty database" if report.from_version is None else f"version {report.from_version}"
    print(f"migrated from {start} to schema version {report.to_version}")
    for label, items in (("added tables", report.added_tables), ("added columns", report.added_columns),
                         ("applied", report.applied)):
        if items:
            print(f"  {label}: {', '.join(items)}")
    return 0


def cmd_backup(args) -> int:
    from store.backup import backup
    _connect(args)
    kind = backup(args.file, portable=args.portable)
    print(f"backup written to {args.file} ({'SQLite database' if kind == 'sqlite' else 'JSON lines'})")
    return 0


def cmd_restore(args) -> int:
    from store.backup import restore
    _connect(args)
    report = restore(args.file, force=args.force)
    rows = sum(report.tables.values())
    print(f"restored {rows} rows in {len(report.tables)} tables from {args.file}; "
          f"audit chain verified ({report.audit_entries} entries)")
    if report.skipped:
        print(f"tables in the backup this version does not use, left out: {', '.join(report.skipped)}",
              file=sys.stderr)
    return 0
