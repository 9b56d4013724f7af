"""Diagram versions: drafts, checked publishing, retiring, and moving running cases between versions.

A published version never changes; new cases start on the newest published one and running
cases stay on theirs until a process owner migrates them (each case in its own transaction,
recorded in its chronology, and reversible while the case has not moved on).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date
from typing import Mapping

from peewee import fn

from engine import (DEADLINES, CaseConflict, CaseEngine, CaseNotFound, ChronologyEvent, DiagramError, EngineError,
                    FieldError, NotPermitted, SystemClock, ValidationFailed, load_diagram_set, version_of)
from engine.checks import Problem, check_diagram_files
from engine.diagrams import parse_xml
from engine.migration import REPLAYED_KINDS, CannotMigrate, RecordedStep, can_migrate, migrate, restored_outcome

from . import audit
from .cases import Safeguarding, lock_case
from .db import database
from .dryrun import dry_run
from .models import Case, CaseMigration, CaseState, ChronologyEntry, DiagramVersion
from .timeutil import from_db, to_db
from .users import actor_for

OWNER_ROLE = "process_owner"
MAX_TOTAL_BYTES = 8 * 1024 * 1024
_FILE_NAME = re.compile(r"^(forms/)?[A-Za-z0-9_.-]+$")
_DRY_RUNS: dict[str, list[Problem]] = {}  # version -> dry-run problems (the engine is deterministic)


class PublishRefused(ValidationFailed):
    """The files have problems; ``problems`` names each one's file and element."""

    def __init__(self, problems: list[Problem], title: str = "The diagrams cannot be published") -> None:
        self.problems = problems
        super().__init__([FieldError(f"{p.file}#{p.element}", p.reason) for p in problems], title=title)


@dataclass(frozen=True)
class MigrationCheck:
    """Whether one running case can move to the new version, and why (not)."""

    case_id: int
    reference: str
    from_version: str
    movable: bool
    reason: str


@dataclass(frozen=True)
class MigrationResult:
    """What happened to one case in ``migrate_all``."""

    case_id: int
    reference: str
    from_version: str
    to_version: str
    migrated: bool
    reason: str


def _service(service: Safeguarding | None) -> Safeguarding:
    return service if service is not None else Safeguarding(SystemClock())


def _require_owner(username: str, action: str) -> None:
    _user, actor = actor_for(username)
    if OWNER_ROLE not in actor.roles:
        raise NotPermitted(f"{username} cannot {action}: only a process owner can")


def _row(version: DiagramVersion | str) -> DiagramVersion:
    if isinstance(version, DiagramVersion):
        return version
    row = DiagramVersion.get_or_none(DiagramVersion.version == str(version))
    if row is None:
        raise CaseNotFound(f"no diagram version {version}")
    return row


# -- queries ---------------------------------------------------------------------------
def list_versions() -> list[DiagramVersion]:
    """Every stored version, newest first (drafts, published and retired)."""
    return list(DiagramVersion.select().order_by(DiagramVersion.created_at.desc(), DiagramVersion.version))


def get_version(version: str) -> DiagramVersion:
    """One stored version or CaseNotFound (404)."""
    return _row(version)


def current_version() -> DiagramVersion | None:
    """The version new cases start on: the newest published."""
    return (DiagramVersion.select().where(DiagramVersion.status == "published")
            .order_by(fn.COALESCE(DiagramVersion.published_at, DiagramVersion.created_at).desc(),
                      DiagramVersion.created_at.desc()).first())


def open_cases(version: DiagramVersion | str) -> int:
    """How many open cases run on ``version``."""
    key = version.version if isinstance(version, DiagramVersion) else version
    return Case.select().where(Case.diagram_version == key, Case.status == "open").count()


def download(version: DiagramVersion | str) -> dict[str, str]:
    """The files of a version (name -> text), as stored."""
    return dict(_row(version).files)


# -- drafts and publishing ---------------------------------------------------------------
def safety_problems(files: Mapping[str, str]) -> list[Problem]:
    """Problems that stop files being stored at all: names, sizes, unsafe or malformed XML/JSON."""
    problems = []
    if not isinstance(files, Mapping) or not files:
        return [Problem("-", "-", "no files given")]
    total = 0
    for name, text in files.items():
        if not isinstance(name, str) or not _FILE_NAME.match(name) or ".." in name or \
                not (name.endswith(".bpmn") and "/" not in name or name.startswith("forms/") and name.endswith(".json")):
            problems.append(Problem(str(name), "-", "file names must be NAME.bpmn or forms/NAME.json"))
            continue
        if not isinstance(text, str):
            problems.append(Problem(name, "-", "file content must be text"))
            continue
        total += len(text.encode("utf-8"))
        try:
            if name.endswith(".bpmn"):
                parse_xml(name, text)
            else:
                json.loads(text)
        except DiagramError as exc:
            problems.append(Problem(name, "-", exc.reason))
        except json.JSONDecodeError as exc:
            problems.append(Problem(name, "-", f"not valid JSON: {exc.msg} (line {exc.lineno})"))
    if total > MAX_TOTAL_BYTES:
        problems.append(Problem("-", "-", f"the files together are larger than {MAX_TOTAL_BYTES // (1024 * 1024)} MB"))
    if not any(n.endswith(".bpmn") for n in files):
        problems.append(Problem("-", "-", "no .bpmn file given"))
    return problems


def save_draft(files: dict[str, str], by: str, note: str = "", replaces: str | None = None,
               service: Safeguarding | None = None) -> DiagramVersion:
    """Store files as a draft (safety checks only); ``replaces`` names a draft this one supersedes.

    Files identical to a stored version return that version (a published one is never changed).
    """
    _require_owner(by, "save diagrams")
    problems = safety_problems(files)
    if problems:
        raise PublishRefused(problems, title="The files cannot be stored")
    files = dict(files)
    key = version_of(files)
    now = to_db(_service(service).clock.now())
    with database.atomic():
        existing = DiagramVersion.get_or_none(DiagramVersion.version == key)
        if replaces and replaces != key:
            DiagramVersion.delete().where(DiagramVersion.version == replaces, DiagramVersion.status == "draft").execute()
        if existing is not None:
            if existing.status == "draft" and note:
                DiagramVersion.update(note=note).where(DiagramVersion.version == key,
                                                       DiagramVersion.status == "draft").execute()
            return DiagramVersion.get_by_id(key)
        audit.record(by, "change", "diagram_version", key, now, {"action": "draft saved", "files": sorted(files)})
        return DiagramVersion.create(version=key, files=files, created_at=now, created_by=by, status="draft",
                                     note=note or None)


def check_version(files: Mapping[str, str], service: Safeguarding | None = None) -> list[Problem]:
    """Every problem publishing would find: safety, structure, contract, then a dry run of every path."""
    problems = safety_problems(files) or check_diagram_files(files)
    if problems:
        return problems
    key = version_of(files)
    if key not in _DRY_RUNS:
        engine = service.engine if service is not None else CaseEngine()
        try:
            diagrams = service.registry.load(files) if service is not None else load_diagram_set(files)
        except DiagramError as exc:
            return [Problem(exc.file or "-", exc.element, exc.reason)]
        _DRY_RUNS[key] = [Problem("-", stuck.scenario, stuck.reason) for stuck in dry_run(engine, diagrams)]
    return list(_DRY_RUNS[key])


def publish(version_or_files: DiagramVersion | str | Mapping[str, str], by: str,
            service: Safeguarding | None = None) -> DiagramVersion:
    """Check and publish a version (a stored draft, or files); new cases start on it.

    Raises PublishRefused (a ValidationFailed listing each problem) and stores nothing published.
    """
    _require_owner(by, "publish diagrams")
    service = _service(service)
    if isinstance(version_or_files, Mapping):
        files, note = dict(version_or_files), None
    else:
        row = _row(version_or_files)
        files, note = dict(row.files), row.note
    problems = check_version(files, service)
    if problems:
        raise PublishRefused(problems)
    key = version_of(files)
    now = to_db(service.clock.now())
    with database.atomic():
        row, _created = DiagramVersion.get_or_create(version=key, defaults={
            "files": files, "created_at": now, "created_by": by, "status": "draft", "note": note})
        DiagramVersion.update(status="published", published_at=now, published_by=by) \
            .where(DiagramVersion.version == key).execute()
        audit.record(by, "change", "diagram_version", key, now, {"action": "published"})
    service.registry.load(files)
    return DiagramVersion.get_by_id(key)


def retire(version: DiagramVersion | str, by: str) -> DiagramVersion:
    """Stop new cases starting on a published version (its running cases carry on)."""
    _require_owner(by, "retire diagrams")
    row = _row(version)
    if row.status != "published":
        raise CaseConflict(f"version {row.version} is {row.status}, not published")
    others = DiagramVersion.select().where(DiagramVersion.status == "published",
                                           DiagramVersion.version != row.version).count()
    if not others:
        raise CaseConflict(f"version {row.version} is the only published version; publish another first")
    with database.atomic():
        DiagramVersion.update(status="retired").where(DiagramVersion.version == row.version).execute()
        audit.record(by, "change", "diagram_version", row.version, None, {"action": "retired"})
    return DiagramVersion.get_by_id(row.version)


# -- migration ---------------------------------------------------------------------------
def _published(to_version: str) -> DiagramVersion:
    row = _row(to_version)
    if row.status != "published":
        raise CaseConflict(f"cases can only move to a published version; {row.version} is {row.status}")
    return row


def migration_plan(to_version: str, service: Safeguarding | None = None) -> list[MigrationCheck]:
    """Every open case on another version: can it move to ``to_version``, and why (not)."""
    service = _service(service)
    target = service.diagrams_for(_published(to_version).version)
    checks = []
    for case in Case.select().where(Case.status == "open", Case.diagram_version != target.version).order_by(Case.id):
        old = service.diagrams_for(case.diagram_version_id)
        movable, reason = can_migrate(service.engine, old, target, CaseState.get_by_id(case.id).state,
                                      service.clock.now(), recorded_steps(case.id))
        checks.append(MigrationCheck(case.id, case.reference, case.diagram_version_id, movable, reason))
    return checks


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def recorded_steps(case_id: int) -> list[RecordedStep]:
    """The case's history as the chronology recorded it, in the order it was recorded: what a move
    by replay runs again on the new version (engine/migration.py)."""
    entries = (ChronologyEntry.select().where(ChronologyEntry.case == case_id, ChronologyEntry.kind.in_(REPLAYED_KINDS))
               .order_by(ChronologyEntry.id))
    return [RecordedStep(from_db(e.at), e.kind, e.element,
                         dict((e.details or {}).get("form") or {}) if e.kind == "task_completed" else dict(e.details or {}),
                         e.actor or "system") for e in entries]


def migrate_all(to_version: str, by: str, service: Safeguarding | None = None) -> list[MigrationResult]:
    """Move every movable open case to ``to_version``, each in its own transaction; one result per case."""
    _require_owner(by, "migrate cases")
    service = _service(service)
    target = service.diagrams_for(_published(to_version).version)
    results = []
    for check in migration_plan(target.version, service):
        if not check.movable:
            results.append(MigrationResult(check.case_id, check.reference, check.from_version, target.version,
                                           False, check.reason))
            continue
        try:
            _migrate_case(service, check.case_id, target, by)
        except (CannotMigrate, CaseConflict, EngineError) as exc:
            results.append(MigrationResult(check.case_id, check.reference, check.from_version, target.version,
                                           False, str(exc)))
            continue
        results.append(MigrationResult(check.case_id, check.reference, check.from_version, target.version,
                                       True, check.reason))
    return results


@dataclass(frozen=True)
class MovedCase:
    """A case migrated to a version and still on it: whether it can be moved back."""

    case_id: int
    reference: str
    from_version: str
    by: str
    can_roll_back: bool  # not once the case has moved on (a task done or a timer fired)


def moved_to(to_version: str) -> list[MovedCase]:
    """The cases migrated to ``to_version`` and not moved back, newest move first."""
    rows = (CaseMigration.select(CaseMigration, Case).join(Case)
            .where(CaseMigration.to_version == to_version, CaseMigration.rolled_back_at.is_null(),
                   Case.diagram_version == to_version)
            .order_by(CaseMigration.id.desc()))
    found: dict[int, MovedCase] = {}
    for row in rows:  # a case's last migration is the one a rollback undoes
        found.setdefault(row.case_id, MovedCase(row.case_id, row.case.reference, row.from_version, row.by,
                                                row.case.version == row.case_version))
    return list(found.values())


def _migrate_case(service: Safeguarding, case_id: int, target, by: str) -> None:
    now = service.clock.now()
    with database.atomic():
        case = lock_case(case_id)
        if case.status != "open":
            raise CaseConflict(f"case {case.reference} is closed")
        if case.diagram_version_id == target.version:
            raise CaseConflict(f"case {case.reference} is already on version {target.version}")
        old = service.diagrams_for(case.diagram_version_id)
        state = CaseState.get_by_id(case.id).state
        dates_before = {d.due_column: _iso(getattr(case, d.due_column)) for d in DEADLINES}
        outcome = migrate(service.engine, old, target, state, now, recorded_steps(case.id))
        for event in outcome.events:
            if event.kind == "migrated":
                event.details["by"] = by
        service._write(case, outcome, by, now, expected_version=case.version)
        Case.update(diagram_version=target.version).where(Case.id == case.id).execute()
        CaseMigration.create(case=case, from_version=old.version, to_version=target.version, previous_state=state,
                             case_version=case.version, at=to_db(now), by=by,  # _write moved case.version on
                             previous_dates=dates_before)


def rollback_case(case_id: int, by: str, service: Safeguarding | None = None) -> Case:
    """Move a case back to the version (and state) it had before its last migration.

    Refused once the case has moved on since (a task done or a timer fired), so no work is lost.
    """
    _require_owner(by, "roll back a migration")
    service = _service(service)
    now = service.clock.now()
    with database.atomic():
        case = lock_case(case_id)
        last = (CaseMigration.select().where(CaseMigration.case == case.id, CaseMigration.rolled_back_at.is_null())
                .order_by(CaseMigration.id.desc()).first())
        if last is None or last.to_version != case.diagram_version_id:
            raise CaseConflict(f"case {case.reference} has no migration to roll back")
        if case.version != last.case_version:
            raise CaseConflict(f"case {case.reference} has moved on since it was migrated; it cannot be rolled back")
        old = service.diagrams_for(last.from_version)
        outcome = restored_outcome(service.engine, old, last.previous_state, now)
        outcome.events.append(ChronologyEvent(
            "migration_rolled_back", f"Moved back from diagram version {last.to_version} to {last.from_version}",
            details={"from": last.to_version, "to": last.from_version, "by": by}))
        service._write(case, outcome, by, now, expected_version=case.version)
        # the due dates the case showed before the move (a replay may have worked them out afresh)
        dates = {name: date.fromisoformat(value) if value else None
                 for name, value in (last.previous_dates or {}).items() if name in Case._meta.fields}
        Case.update(diagram_version=last.from_version, **dates).where(Case.id == case.id).execute()
        CaseMigration.update(rolled_back_at=to_db(now)).where(CaseMigration.id == last.id).execute()
    return Case.get_by_id(case_id)
