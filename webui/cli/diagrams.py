"""``safeguarding diagrams check|publish|list|migrate``: diagram versions and moving cases onto them."""
from __future__ import annotations

from pathlib import Path

from engine import EngineError

from .common import _app


def register(sub) -> None:
    """Add the ``diagrams`` command group to the ``safeguarding`` command."""
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
    """Print every diagram version, newest first, marking the one new cases start on."""
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
