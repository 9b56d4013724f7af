"""Command line for access: allocate a case, restrict it and name people, lift it, subject access packs."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from engine import EngineError


def register(sub) -> None:
    """Add ``allocate``, ``restrict``, ``unrestrict`` and ``sar`` to the ``safeguarding`` command."""
    from .cli import _case_id
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
    from .cli import _app
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
    from store.access import unrestrict_case
    from .cli import _app
    app = _app(args)
    unrestrict_case(args.case_id, args.user, args.reason, app.clock.now())
    print(f"case {args.case_id} is no longer restricted")
    return 0


def cmd_allocate(args) -> int:
    from store.allocation import allocate_case
    from .cli import _app
    app = _app(args)
    case = allocate_case(args.case_id, args.worker, args.user, app.clock.now())
    print(f"case {case.reference} is allocated to {case.allocated_worker.username} ({case.team.name})")
    return 0


def cmd_sar(args) -> int:
    """Produce a subject access pack (audited) as JSON."""
    from store.sar import find_subject, subject_access_pack
    from store.users import actor_for
    from .cli import _app
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
