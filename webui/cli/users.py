"""``safeguarding users add|list|token``: people, their roles and their API tokens."""
from __future__ import annotations

import sys

from .common import _app


def register(sub) -> None:
    """Add the ``users`` command group to the ``safeguarding`` command."""
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


def cmd_users_add(args) -> int:
    """Add a user with roles (and a password read from standard input, if asked)."""
    from store.users import add_user
    app = _app(args)
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else None
    user = add_user(args.username, args.name, args.role, app.clock.now(), password=password, team=args.team)
    print(f"added {user.username} with roles {', '.join(sorted(args.role))}")
    return 0


def cmd_users_list(args) -> int:
    """Print every user with their full name and roles."""
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
