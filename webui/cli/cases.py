"""Case work from the command line: record contacts, work tasks, show a case, call a strategy discussion;
and access to a case: allocate it, restrict it and name people, lift it, subject access packs."""
from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

from engine import EngineError

from .common import _app, _case_id


def register(sub) -> None:
    """Add ``contact``, ``tasks``, ``complete``, ``case`` and ``strategy-discussion`` to ``safeguarding``."""
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
    from ..limits import json_problem
    problem = json_problem(data)  # what the web and API refuse, refused here too
    if problem:
        raise EngineError(f"{path}: {problem}")
    return data


def cmd_contact(args) -> int:
    """Record a contact from JSON and print the case started for each child."""
    app = _app(args)
    cases = app.service.record_contact(_read_json(args.file), args.user)
    for case in cases:
        extra = " (re-referral within 12 months)" if case.re_referral else ""
        print(f"case {case.reference} (id {case.id}) for {case.child.display_name}: {case.stage}{extra}")
    return 0


def cmd_tasks(args) -> int:
    """Print open tasks (a role's or a user's), overdue first, as lines or JSON."""
    from store.queues import list_tasks
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
    """Complete a task with form data from JSON and print the tasks it opened."""
    app = _app(args)
    result = app.service.complete_task(args.task, args.user, _read_json(args.data), token=args.token)
    print(f"completed {result.outcome.completed_task.name} on case {result.case.reference}; "
          f"stage now: {result.case.stage}")
    for view in result.outcome.tasks:
        print(f"  open: {view.id}  {view.name} ({view.role})" + (f" due {view.due.isoformat()}" if view.due else ""))
    return 0


def cmd_case(args) -> int:
    """Print a case's state, deadlines, open tasks and chronology, as text or JSON."""
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
    print(f"  {'happened':<10}  {'recorded (UTC)':<16}  {'who':<14} what")
    for entry in summary["chronology"]:
        print(f"  {entry['happened_on']}  {entry['at'][:16].replace('T', ' ')}  {entry['actor'] or '':<14} "
              f"{entry['summary']}")
    return 0


def cmd_strategy(args) -> int:
    """Call a strategy discussion on a case and print its new stage."""
    app = _app(args)
    result = app.service.request_strategy_discussion(args.case_id, args.user, args.reason)
    print(f"strategy discussion requested on case {result.case.reference}; stage now: {result.case.stage}")
    return 0


def register_access(sub) -> None:
    """Add ``allocate``, ``restrict``, ``unrestrict`` and ``sar`` to the ``safeguarding`` command."""
    cmd = sub.add_parser("restrict", help="restrict a case to named people (or name more people on it)")
    cmd.add_argument("case_id", type=_case_id)
    cmd.add_argument("--as", dest="user", required=True, help="a team manager or CADS manager, or an administrator")
    cmd.add_argument("--name", dest="names", action="append", default=[], help="a username who may see it (repeatable)")
    cmd.add_argument("--remove", action="append", default=[], help="a username who may no longer see it (repeatable)")
    cmd.add_argument("--reason", default="", help="why (required to restrict or name)")
    cmd.set_defaults(handler=cmd_restrict)
    cmd = sub.add_parser("unrestrict", help="lift a case's restriction")
    cmd.add_argument("case_id", type=_case_id)
    cmd.add_argument("--as", dest="user", required=True)
    cmd.add_argument("--reason", required=True)
    cmd.set_defaults(handler=cmd_unrestrict)
    cmd = sub.add_parser("allocate", help="allocate a case to a social worker (and so to their team)")
    cmd.add_argument("case_id", type=_case_id)
    cmd.add_argument("--to", dest="worker", required=True, help="the social worker's username")
    cmd.add_argument("--as", dest="user", required=True, help="a team manager (own team) or the CADS manager")
    cmd.set_defaults(handler=cmd_allocate)
    cmd = sub.add_parser("sar", help="subject access: everything held about a person, third parties redacted (JSON)")
    cmd.add_argument("person", nargs="?", help="the person id (or give --name and --born)")
    cmd.add_argument("--name", help="the person's name")
    cmd.add_argument("--born", help="their date of birth, YYYY-MM-DD")
    cmd.add_argument("--as", dest="user", required=True, help="the information governance officer producing it")
    cmd.add_argument("--out", help="write the JSON to this file instead of standard output")
    cmd.set_defaults(handler=cmd_sar)


def cmd_restrict(args) -> int:
    """Restrict (or name more people on / remove people from) a case."""
    from store.access import grant_access, is_restricted, restrict_case, restriction, revoke_access
    app = _app(args)
    now = app.clock.now()
    if not is_restricted(args.case_id):
        restrict_case(args.case_id, args.user, args.reason, args.names, now)
    else:
        for username in args.names:
            grant_access(args.case_id, username, args.user, args.reason, now)
    for username in args.remove:
        revoke_access(args.case_id, username, args.user, now)
    _row, named = restriction(args.case_id)
    print(f"case {args.case_id} is restricted; named: {', '.join(n.username for n in named)}")
    return 0


def cmd_unrestrict(args) -> int:
    """Lift a case's restriction."""
    from store.access import unrestrict_case
    app = _app(args)
    unrestrict_case(args.case_id, args.user, args.reason, app.clock.now())
    print(f"case {args.case_id} is no longer restricted")
    return 0


def cmd_allocate(args) -> int:
    """Allocate a case to a social worker (and so to their team)."""
    from store.allocation import allocate_case
    app = _app(args)
    case = allocate_case(args.case_id, args.worker, args.user, app.clock.now())
    print(f"case {case.reference} is allocated to {case.allocated_worker.username} ({case.team.name})")
    return 0


def cmd_sar(args) -> int:
    """Produce a subject access pack (audited) as JSON."""
    from store.sar import find_subject, subject_access_pack
    from store.users import actor_for
    app = _app(args)
    _user, actor = actor_for(args.user)
    if "information_governance" not in actor.roles:
        raise EngineError(f"{args.user} may not produce subject access packs (information governance only)")
    person = find_subject(args.person, args.name, args.born)
    text = json.dumps(subject_access_pack(person.id, args.user, app.clock.now()), indent=2, ensure_ascii=False)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
        print(f"subject access pack for person {person.id} ({person.display_name}) written to {args.out}",
              file=sys.stderr)
    else:
        print(text)
    return 0
