"""The ``safeguarding`` command line: set up, add users, record contacts, work tasks, run timers.

Every error is one clear line on stderr and a non-zero exit, never a traceback.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any, Sequence

from engine import EngineError, SystemClock, ValidationFailed, as_utc
from store import app_context

EXIT_REFUSED = 2
EXIT_FAILED = 1

# Further command groups live in their own modules, each with ``register(subparsers)``.
COMMAND_MODULES: tuple[str, ...] = ("webui.cli_incidents", "webui.cli_ops", "webui.cli_returns", "webui.cli_access",
                                     "webui.cli_bench")


def main(argv: Sequence[str] | None = None) -> int:
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

    cmd = sub.add_parser("init", help="create the schema and load the diagrams")
    cmd.set_defaults(handler=cmd_init)

    users = sub.add_parser("users", help="manage users").add_subparsers(metavar="ACTION")
    cmd = users.add_parser("add", help="add a user with roles")
    cmd.add_argument("username")
    cmd.add_argument("--name", default="", help="full name")
    cmd.add_argument("--role", action="append", default=[], required=True, help="a role (repeatable)")
    cmd.add_argument("--team")
    cmd.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    cmd.set_defaults(handler=cmd_users_add)
    cmd = users.add_parser("list", help="list users and roles")
    cmd.set_defaults(handler=cmd_users_list)
    cmd = users.add_parser("token", help="make an API bearer token for a user (printed once)")
    cmd.add_argument("username")
    cmd.set_defaults(handler=cmd_users_token)

    diagrams = sub.add_parser("diagrams", help="diagram sets").add_subparsers(metavar="ACTION")
    cmd = diagrams.add_parser("check", help="check diagram files (and forms beside them) as publishing would")
    cmd.add_argument("files", nargs="+", help=".bpmn files; forms are read from forms/ beside them")
    cmd.set_defaults(handler=cmd_diagrams_check)
    cmd = diagrams.add_parser("publish", help="check and publish the diagrams and forms of a directory")
    cmd.add_argument("directory", help="a directory of .bpmn files with their forms in forms/")
    cmd.add_argument("--as", dest="username", required=True, help="the acting process owner")
    cmd.add_argument("--note", default="", help="what changed in this version")
    cmd.set_defaults(handler=cmd_diagrams_publish)
    cmd = diagrams.add_parser("list", help="list diagram versions, newest first")
    cmd.set_defaults(handler=cmd_diagrams_list)
    cmd = diagrams.add_parser("migrate", help="move running cases to a published version")
    cmd.add_argument("version", help="the version (or at least 6 characters of it)")
    cmd.add_argument("--as", dest="username", required=True, help="the acting process owner")
    cmd.add_argument("--dry-run", action="store_true", help="only say which cases can move and why not")
    cmd.set_defaults(handler=cmd_diagrams_migrate)

    cmd = sub.add_parser("demo", help="create demo users and drive demo cases down every path")
    cmd.add_argument("--year", type=int, help="instead: cases across the collection year ending 31 March YEAR")
    cmd.set_defaults(handler=cmd_demo)

    cmd = sub.add_parser("contact", help="record a contact from a JSON file (starts one case per child)")
    cmd.add_argument("file", help="JSON file, or - for standard input")
    cmd.add_argument("--as", dest="user", required=True, help="the user recording it")
    cmd.set_defaults(handler=cmd_contact)

    cmd = sub.add_parser("tasks", help="list open tasks, overdue first")
    cmd.add_argument("--role")
    cmd.add_argument("--user")
    cmd.add_argument("--json", action="store_true")
    cmd.set_defaults(handler=cmd_tasks)

    cmd = sub.add_parser("complete", help="complete a task with form data from a JSON file")
    cmd.add_argument("task", help="task id (or a unique prefix of at least 6 characters)")
    cmd.add_argument("--as", dest="user", required=True)
    cmd.add_argument("--data", required=True, help="JSON file, or - for standard input")
    cmd.add_argument("--token", help="the token the task was offered with (refuses if it changed)")
    cmd.set_defaults(handler=cmd_complete)

    cmd = sub.add_parser("case", help="show a case: state, open tasks, deadlines, chronology")
    cmd.add_argument("case_id", type=_case_id)
    cmd.add_argument("--json", action="store_true")
    cmd.set_defaults(handler=cmd_case)

    cmd = sub.add_parser("strategy-discussion", help="call a strategy discussion during an assessment or plan")
    cmd.add_argument("case_id", type=_case_id)
    cmd.add_argument("--as", dest="user", required=True)
    cmd.add_argument("--reason", required=True)
    cmd.set_defaults(handler=cmd_strategy)

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

    import importlib
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def _case_id(text: str) -> int:
    cleaned = text.strip().upper().lstrip("C")
    if not cleaned.isdigit():
        raise argparse.ArgumentTypeError(f"not a case id: {text!r} (e.g. 12 or C000012)")
    return int(cleaned)


def _read_json(path: str) -> Any:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise EngineError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise EngineError(f"{path} is not UTF-8 text") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise EngineError(f"{path} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    except RecursionError:
        raise EngineError(f"{path} is nested too deeply") from None
    from .limits import json_problem
    problem = json_problem(data)  # what the web and API refuse, refused here too
    if problem:
        raise EngineError(f"{path}: {problem}")
    return data


def _app(args, clock=None):
    return app_context(args.database, clock or SystemClock())


def cmd_init(args) -> int:
    app = _app(args)
    diagrams = app.service.current_diagrams()
    print(f"database ready; diagram version {diagrams.version} "
          f"({sum(1 for n in diagrams.files if n.endswith('.bpmn'))} diagrams, {len(diagrams.forms)} forms)")
    return 0


def cmd_users_add(args) -> int:
    from store.users import add_user
    app = _app(args)
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else None
    user = add_user(args.username, args.name, args.role, app.clock.now(), password=password, team=args.team)
    print(f"added {user.username} with roles {', '.join(sorted(args.role))}")
    return 0


def cmd_users_list(args) -> int:
    from store.models import User
    from store.users import roles_of
    _app(args)
    for user in User.select().order_by(User.username):
        print(f"{user.username:<16} {user.full_name:<28} {', '.join(sorted(roles_of(user)))}")
    return 0


def cmd_users_token(args) -> int:
    """Print a new API token on standard output; only its hash is kept, so it cannot be shown again."""
    from store.tokens import issue_token
    app = _app(args)
    token = issue_token(args.username, app.clock.now())
    print(token)
    print(f"API token for {args.username}: send it as 'Authorization: Bearer <token>'. "
          "Keep it secret; it is shown only this once.", file=sys.stderr)
    return 0


def cmd_diagrams_check(args) -> int:
    """Print each problem as file: element: reason; exit 1 when there is one."""
    from engine.checks import check_diagram_files
    files: dict[str, str] = {}
    for name in args.files:
        path = Path(name)
        try:
            files[path.name] = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise EngineError(f"cannot read {name}: {exc.strerror}") from None
        for form in sorted(path.parent.glob("forms/*.json")):
            files.setdefault(f"forms/{form.name}", form.read_text(encoding="utf-8"))
    partial = not {"safeguarding_case.bpmn"} <= set(files)
    problems = check_diagram_files(files, require_contract=not partial, require_top=not partial)
    for problem in problems:
        print(problem)
    print(f"{len(problems)} problem(s) in {sum(1 for n in files if n.endswith('.bpmn'))} diagram(s)")
    return 1 if problems else 0


def cmd_diagrams_publish(args) -> int:
    """Publish a directory's diagrams; print each problem as ``diagrams check`` does and exit 1 if any."""
    from engine import read_diagram_files
    from store.versions import PublishRefused, publish
    app = _app(args)
    if not Path(args.directory).is_dir():
        raise EngineError(f"{args.directory} is not a directory")
    files = read_diagram_files(args.directory)
    try:
        if args.note:
            from store.versions import save_draft
            row = publish(save_draft(files, args.username, note=args.note, service=app.service),
                          args.username, service=app.service)
        else:
            row = publish(files, args.username, service=app.service)
    except PublishRefused as exc:
        for problem in exc.problems:
            print(problem)
        print(f"{len(exc.problems)} problem(s); nothing was published")
        return 1
    print(f"published diagram version {row.version}; new cases start on it")
    return 0


def cmd_diagrams_list(args) -> int:
    from store.versions import current_version, list_versions, open_cases
    _app(args)
    current = current_version()
    for row in list_versions():
        mark = "*" if current is not None and row.version == current.version else " "
        when = (row.published_at or row.created_at).strftime("%Y-%m-%d %H:%M")
        who = row.published_by or row.created_by or "-"
        print(f"{mark} {row.version}  {row.status:<9} {when}  {who:<14} {open_cases(row):>4} open case(s)  "
              f"{row.note.splitlines()[0] if row.note else ''}".rstrip())
    return 0


def _version_arg(text: str) -> str:
    from store.versions import list_versions
    text = text.strip().lower()
    matches = [v.version for v in list_versions() if v.version.startswith(text)] if len(text) >= 6 else []
    if len(matches) != 1:
        raise EngineError(f"no single diagram version {text!r}" + (" (ambiguous)" if matches else ""))
    return matches[0]


def cmd_diagrams_migrate(args) -> int:
    """Print each running case's result; exit 1 when a case did not move."""
    from store.users import actor_for
    from store.versions import migrate_all, migration_plan
    app = _app(args)
    version = _version_arg(args.version)
    if args.dry_run:
        actor_for(args.username)  # an unknown user is refused even for a dry run
        rows = [(c.reference, c.from_version, "can move" if c.movable else "cannot move", c.reason)
                for c in migration_plan(version, service=app.service)]
    else:
        rows = [(r.reference, r.from_version, "moved" if r.migrated else "not moved", r.reason)
                for r in migrate_all(version, args.username, service=app.service)]
    for reference, old, verdict, reason in rows:
        print(f"{reference} from {old}: {verdict}: {reason}")
    print(f"{len(rows)} running case(s) on other versions")
    return 1 if any(verdict in ("not moved", "cannot move") for _r, _o, verdict, _why in rows) else 0


def cmd_demo(args) -> int:
    if args.year is not None:  # a whole collection year with complete census data (webui/cli_returns.py)
        from .cli_returns import cmd_demo_year
        return cmd_demo_year(args)
    from store.demo import run_demo
    app = _app(args)
    for line in run_demo(app):
        print(line)
    return 0


def cmd_contact(args) -> int:
    app = _app(args)
    cases = app.service.record_contact(_read_json(args.file), args.user)
    for case in cases:
        extra = " (re-referral within 12 months)" if case.re_referral else ""
        print(f"case {case.reference} (id {case.id}) for {case.child.display_name}: {case.stage}{extra}")
    return 0


def cmd_tasks(args) -> int:
    from store.cases import list_tasks
    app = _app(args)
    today = app.clock.now().date()
    rows = list_tasks(role=args.role, username=args.user)
    if args.json:
        print(json.dumps([_task_json(t, today) for t in rows], indent=2))
        return 0
    if not rows:
        print("no open tasks")
    for task in rows:
        print(f"{task.id}  {task.case.reference}  {task.case.child.display_name:<22} {task.name:<34} "
              f"{task.role:<22} {_due_words(task.due, today, app)}")
    return 0


def _task_json(task, today: date) -> dict:
    return {"id": task.id, "case": task.case.id, "reference": task.case.reference, "task": task.bpmn_id,
            "name": task.name, "role": task.role, "assignee": task.assignee.username if task.assignee else None,
            "due": task.due.isoformat() if task.due else None, "token": task.token, "form": task.form_name}


def _due_words(due, today, app) -> str:
    if due is None:
        return "no due date"
    left = app.service.engine.calendar.working_days_between(today, due)
    if left < 0:
        return f"due {due.isoformat()} OVERDUE by {-left} working day(s)"
    return f"due {due.isoformat()} ({left} working day(s) left)"


def cmd_complete(args) -> int:
    app = _app(args)
    result = app.service.complete_task(args.task, args.user, _read_json(args.data), token=args.token)
    print(f"completed {result.outcome.completed_task.name} on case {result.case.reference}; "
          f"stage now: {result.case.stage}")
    for view in result.outcome.tasks:
        print(f"  open: {view.id}  {view.name} ({view.role})" + (f" due {view.due.isoformat()}" if view.due else ""))
    return 0


def cmd_case(args) -> int:
    from store.views import case_summary
    app = _app(args)
    summary = case_summary(args.case_id, app.clock.now().date(), app.service.engine.calendar)
    if args.json:
        print(json.dumps(summary, indent=2, default=str))
        return 0
    print(f"Case {summary['reference']}: {summary['child']}  status {summary['status']}  stage {summary['stage']}")
    print(f"Referral {summary['referral_date']}" + ("  RE-REFERRAL" if summary["re_referral"] else "")
          + (f"  allocated to {summary['allocated_worker']}" if summary["allocated_worker"] else ""))
    if summary["siblings"]:
        print("Siblings: " + ", ".join(summary["siblings"]))
    print("Deadlines:")
    for d in summary["deadlines"]:
        print(f"  {d['key']:<18} due {d['due'] or '-':<10}  {d['status']}")
    print("Open tasks:")
    for t in summary["tasks"] or [{"id": "", "name": "(none)", "role": "", "due": None}]:
        print(f"  {t['id']}  {t['name']}  {t['role']}" + (f"  due {t['due']}" if t.get("due") else ""))
    print("Chronology:")
    for entry in summary["chronology"]:
        print(f"  {entry['at'][:16]}  {entry['actor'] or '':<14} {entry['summary']}")
    return 0


def cmd_strategy(args) -> int:
    app = _app(args)
    result = app.service.request_strategy_discussion(args.case_id, args.user, args.reason)
    print(f"strategy discussion requested on case {result.case.reference}; stage now: {result.case.stage}")
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


if __name__ == "__main__":
    sys.exit(main())
