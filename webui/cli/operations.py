"""Running it for real: ``init``, ``demo``, ``serve``, ``worker``, ``audit``, ``incidents``, ``migrate``,
``backup FILE`` and ``restore FILE``."""
from __future__ import annotations

import json
import os
import sys
import time

from engine import NotPermitted, SystemClock, as_utc

from .common import EXIT_FAILED, _app, _case_id


def register_init(sub) -> None:
    """Add ``init`` to the ``safeguarding`` command."""
    cmd = sub.add_parser("init", help="create the schema and load the diagrams")
    cmd.set_defaults(handler=cmd_init)


def register_demo(sub) -> None:
    """Add ``demo`` to the ``safeguarding`` command."""
    cmd = sub.add_parser("demo", help="create demo users and drive demo cases down every path")
    cmd.add_argument("--year", type=int, help="instead: cases across the collection year ending 31 March YEAR")
    cmd.set_defaults(handler=cmd_demo)


def register(sub) -> None:
    """Add ``serve``, ``audit``, ``worker``, ``incidents``, ``migrate``, ``backup`` and ``restore``."""
    cmd = sub.add_parser("serve", help="run the web interface (gunicorn)")
    cmd.add_argument("--host", default="127.0.0.1")
    cmd.add_argument("--port", type=int, default=8000)
    cmd.add_argument("--workers", type=int, default=2)
    cmd.set_defaults(handler=cmd_serve)

    audit = sub.add_parser("audit", help="the record of access").add_subparsers(metavar="ACTION")
    cmd = audit.add_parser("verify", help="check the audit hash chain is unbroken (exit 1 if not)")
    cmd.set_defaults(handler=cmd_audit_verify)
    cmd = audit.add_parser("show", help="a case's audit entries (views, changes, refusals), newest first")
    cmd.add_argument("--case", dest="case_id", type=_case_id, required=True)
    cmd.add_argument("--json", action="store_true")
    cmd.set_defaults(handler=cmd_audit_show)

    cmd = sub.add_parser("worker", help="fire due timers (statutory deadline escalations)")
    cmd.add_argument("--once", action="store_true", help="one pass, then exit")
    cmd.add_argument("--now", help="ISO moment to treat as now (default: the real clock)")
    cmd.add_argument("--interval", type=float, default=30.0, help="seconds between passes")
    cmd.set_defaults(handler=cmd_worker)

    group = sub.add_parser("incidents", help="cases whose timers failed to fire").add_subparsers(metavar="ACTION")
    cmd = group.add_parser("list", help="open incidents and failures being retried (--all: resolved too)")
    cmd.add_argument("--all", action="store_true", help="include resolved incidents")
    cmd.add_argument("--json", action="store_true")
    cmd.set_defaults(handler=cmd_incidents_list)
    cmd = group.add_parser("retry", help="fire an incident's case's timers now, after fixing the cause")
    cmd.add_argument("incident_id", type=int)
    cmd.add_argument("--as", dest="username", required=True, help="the acting administrator")
    cmd.add_argument("--now", help="ISO moment to treat as now, as for the worker (default: the real clock)")
    cmd.set_defaults(handler=cmd_incidents_retry)

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


def cmd_init(args) -> int:
    """Create the schema, load the shipped diagrams and say which version is current."""
    app = _app(args)
    diagrams = app.service.current_diagrams()
    print(f"database ready; diagram version {diagrams.version} "
          f"({sum(1 for n in diagrams.files if n.endswith('.bpmn'))} diagrams, {len(diagrams.forms)} forms)")
    return 0


def cmd_demo(args) -> int:
    """Create demo users and cases down every path (or, with --year, across a collection year)."""
    if args.year is not None:  # a whole collection year with complete census data (webui/cli/returns.py)
        from .returns import cmd_demo_year
        return cmd_demo_year(args)
    from store.demo import run_demo
    app = _app(args)
    for line in run_demo(app):
        print(line)
    return 0


def cmd_audit_verify(args) -> int:
    """Recompute the audit chain; OK with the count, or each broken link and exit 1."""
    from store.audit import verify_chain
    _app(args)
    count, breaks = verify_chain()
    if not breaks:
        print(f"OK: audit chain intact ({count} entries)")
        return 0
    for item in breaks:
        print(f"BROKEN: entry {item.entry_id}: {item.reason}")
    print(f"{len(breaks)} broken link(s) in {count} entries", file=sys.stderr)
    return EXIT_FAILED


def cmd_audit_show(args) -> int:
    """Print a case's audit entries, newest first."""
    from store.audit import entries_for_case
    _app(args)
    rows = entries_for_case(args.case_id)
    if args.json:
        print(json.dumps([{"id": r.id, "at": r.at, "actor": r.actor, "action": r.action, "record_type": r.record_type,
                           "record_id": r.record_id, "address": r.address, "detail": r.detail} for r in rows],
                         indent=2, default=str))
        return 0
    for r in rows or []:
        print(f"{r.id:>6}  {str(r.at)[:19]}  {r.actor:<16} {r.action:<8} {r.record_type} {r.record_id}  from {r.address}"
              + (f"  {json.dumps(r.detail, default=str)}" if r.detail else ""))
    if not rows:
        print(f"no audit entries for case {args.case_id}")
    return 0


def cmd_serve(args) -> int:
    """Run the web interface under gunicorn until stopped."""
    from gunicorn.app.base import BaseApplication

    from store.demo import DEMO_PASSWORD, DEMO_USERS
    from store.models import User
    from webui.app import create_app
    from webui.serving import post_worker_init

    if args.database:
        os.environ["DATABASE_URL"] = args.database
    app = create_app()
    with app.app_context():
        app.extensions["safeguarding"].db.connect(reuse_if_open=True)
        demo = [u for u, *_ in DEMO_USERS if User.get_or_none(User.username == u) is not None]
        app.extensions["safeguarding"].db.close()

    class Server(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", f"{args.host}:{args.port}")
            self.cfg.set("workers", args.workers)
            self.cfg.set("accesslog", "-")
            self.cfg.set("post_worker_init", post_worker_init)  # webui/serving.py

        def load(self):
            return app

    print(f"Safeguarding Workflow is running at http://{args.host}:{args.port}/", flush=True)
    if demo:
        print(f"Demo users (password '{DEMO_PASSWORD}'): " + ", ".join(demo), flush=True)
    Server().run()
    return 0


def cmd_worker(args) -> int:
    """Fire due timers, once or every --interval seconds, riding out database restarts."""
    from engine import FixedClock
    clock = FixedClock(as_utc(args.now)) if args.now else SystemClock()
    app = _app(args, clock)
    from store.timerworker import DATABASE_DOWN, drop_connection, worker_pass
    from webui.serving import tune_worker
    tune_worker()  # a timer worker runs steps as a web worker does
    while True:
        try:
            print(worker_pass(app.service, clock.now()), flush=True)
        except DATABASE_DOWN as exc:
            if args.once:
                raise
            print(f"the database is unavailable ({str(exc).strip()}); trying again in {args.interval:g}s",
                  file=sys.stderr, flush=True)
            drop_connection(app.db)
        if args.once:
            return 0
        time.sleep(args.interval)


def _incident_row(incident) -> dict:
    return {"id": incident.id, "case": incident.case.reference, "case_id": incident.case_id,
            "status": incident.status, "attempts": incident.attempts, "error": incident.error,
            "first_failed_at": incident.first_failed_at, "last_failed_at": incident.last_failed_at,
            "next_attempt_at": incident.next_attempt_at, "resolved_at": incident.resolved_at,
            "resolved_by": incident.resolved_by}


def cmd_incidents_list(args) -> int:
    """Print open incidents and failures being retried (with --all, resolved ones too)."""
    from store.incidents import list_incidents
    _app(args)
    rows = [_incident_row(i) for i in list_incidents(include_resolved=args.all)]
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
        return 0
    if not rows:
        print("no incidents")
    for r in rows:
        when = (f"next attempt {r['next_attempt_at']:%Y-%m-%d %H:%M}" if r["status"] == "retrying" else
                f"resolved {r['resolved_at']:%Y-%m-%d %H:%M} by {r['resolved_by']}" if r["status"] == "resolved" else
                "needs an administrator")
        print(f"{r['id']:>5}  {r['case']}  {r['status']:<9} {r['attempts']} attempt(s), last "
              f"{r['last_failed_at']:%Y-%m-%d %H:%M}, {when}: {r['error']}")
    return 0


def cmd_incidents_retry(args) -> int:
    """Fire an incident's case's timers now (administrators only) and mark it resolved."""
    from engine import FixedClock
    from store.timerworker import retry_incident
    from store.users import actor_for
    app = _app(args, FixedClock(as_utc(args.now)) if args.now else SystemClock())
    _user, actor = actor_for(args.username)
    if "admin" not in actor.roles:
        raise NotPermitted(f"{args.username} is not an administrator")
    incident = retry_incident(app.service, args.incident_id, args.username, app.clock.now())
    print(f"incident {incident.id} on case {incident.case.reference} resolved")
    return 0


def _connect(args):
    """The database alone: these commands must not create or migrate the schema first."""
    from store.db import connect
    db = connect(args.database)
    db.connect(reuse_if_open=True)
    return db


def cmd_migrate(args) -> int:
    """Bring the database schema up to this version in place, keeping every row."""
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
    """Write a consistent backup of the whole database to FILE."""
    from store.backup import backup
    _connect(args)
    kind = backup(args.file, portable=args.portable)
    print(f"backup written to {args.file} ({'SQLite database' if kind == 'sqlite' else 'JSON lines'})")
    return 0


def cmd_restore(args) -> int:
    """Replace the database's contents with a backup FILE, verifying the audit chain."""
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
