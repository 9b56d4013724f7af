"""``safeguarding incidents list|retry ID``: cases whose timers keep failing to fire (store/incidents.py)."""
from __future__ import annotations

import json

from engine import NotPermitted


def register(sub) -> None:
    """Add the ``incidents`` command group to the ``safeguarding`` command."""
    group = sub.add_parser("incidents", help="cases whose timers failed to fire").add_subparsers(metavar="ACTION")
    cmd = group.add_parser("list", help="open incidents and failures being retried (--all: resolved too)")
    cmd.add_argument("--all", action="store_true", help="include resolved incidents")
    cmd.add_argument("--json", action="store_true")
    cmd.set_defaults(handler=cmd_list)
    cmd = group.add_parser("retry", help="fire an incident's case's timers now, after fixing the cause")
    cmd.add_argument("incident_id", type=int)
    cmd.add_argument("--as", dest="username", required=True, help="the acting administrator")
    cmd.add_argument("--now", help="ISO moment to treat as now, as for the worker (default: the real clock)")
    cmd.set_defaults(handler=cmd_retry)


def _row(incident) -> dict:
    return {"id": incident.id, "case": incident.case.reference, "case_id": incident.case_id,
            "status": incident.status, "attempts": incident.attempts, "error": incident.error,
            "first_failed_at": incident.first_failed_at, "last_failed_at": incident.last_failed_at,
            "next_attempt_at": incident.next_attempt_at, "resolved_at": incident.resolved_at,
            "resolved_by": incident.resolved_by}


def cmd_list(args) -> int:
    from store.incidents import list_incidents
    from webui.cli import _app
    _app(args)
    rows = [_row(i) for i in list_incidents(include_resolved=args.all)]
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


def cmd_retry(args) -> int:
    from engine import FixedClock, SystemClock, as_utc
    from store.timerworker import retry_incident
    from store.users import actor_for
    from webui.cli import _app
    app = _app(args, FixedClock(as_utc(args.now)) if args.now else SystemClock())
    _user, actor = actor_for(args.username)
    if "admin" not in actor.roles:
        raise NotPermitted(f"{args.username} is not an administrator")
    incident = retry_incident(app.service, args.incident_id, args.username, app.clock.now())
    print(f"incident {incident.id} on case {incident.case.reference} resolved")
    return 0
