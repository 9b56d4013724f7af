"""Units of work on cases: each command loads, runs the engine and writes in one transaction.

Workflow state, task projection, statutory dates, conferences and chronology are written
together; the case row's ``version`` is checked on write, so a concurrent change makes the
later writer fail with CaseConflict and change nothing.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from dateutil.relativedelta import relativedelta
from peewee import fn

from engine import (Actor, CaseConflict, CaseEngine, CaseNotFound, ChronologyEvent, Clock, DiagramRegistry, DiagramSet,
                    EngineError, FieldError, StepOutcome, TaskNotFound, TaskNotReady, TaskView,
                    ValidationFailed, case_seed, local_date, parse_date, read_diagram_files)
from engine.rules import contact_date_errors

from .db import database, is_postgres
from .prepared import Prepared, PreparedFamily
from .models import (Case, CaseState, ChronologyEntry, Contact, DiagramVersion, Person,
                     ReviewConference, Task, User)
from .timeutil import to_db
from .users import actor_for
from . import audit, history
from .queues import find_task
from .timerworker import run_due_timers
from . import booking
ALLOCATED_ROLE = "social_worker"  # statutory work stays with the case's allocated worker


@dataclass
class StepResult:
    """What a command did: the case after it and the tasks it opened."""

    case: Case
    outcome: StepOutcome


class Safeguarding:
    """The application's commands over the store and the engine; shared by CLI, web and worker."""

    def __init__(self, clock: Clock, engine: CaseEngine | None = None,
                 registry: DiagramRegistry | None = None, diagram_dir=None) -> None:
        self.clock = clock
        self.engine = engine or CaseEngine()
        self.registry = registry or DiagramRegistry()
        self.diagram_dir = diagram_dir

    # -- diagrams -----------------------------------------------------------------------
    def publish_diagrams(self, files: dict[str, str] | None = None, by: str | None = None) -> DiagramSet:
        """Load (checking everything) and record a diagram set; new cases start on the newest."""
        files = files if files is not None else read_diagram_files(*( [self.diagram_dir] if self.diagram_dir else []))
        diagrams = self.registry.load(files)
        now = to_db(self.clock.now())
        with database.atomic():
            DiagramVersion.get_or_create(version=diagrams.version, defaults={
                "files": files, "created_at": now, "created_by": by, "published_at": now, "published_by": by})
        return diagrams

    def current_diagrams(self) -> DiagramSet:
        """The newest published diagram set by publication (loading the shipped one on first use)."""
        version = _NEWEST_PUBLISHED.scalar()  # the version alone: its files are parsed once, on first use
        if version is None:
            return self.publish_diagrams()
        return self.diagrams_for(version)

    def diagrams_for(self, version: str) -> DiagramSet:
        cached = self.registry.get(version)
        if cached is not None:
            return cached
        row = DiagramVersion.get_or_none(DiagramVersion.version == version)
        if row is None:
            raise EngineError(f"diagram version {version} is not stored")
        return self.registry.load(row.files)

    # -- contacts -----------------------------------------------------------------------
    def record_contact(self, payload: dict[str, Any], username: str,
                       links: dict[int, int | None] | None = None,
                       acting: tuple[User, Actor] | None = None) -> list[Case]:
        """Record a contact and start one linked case per child named in it.

        ``links`` maps a child's index in ``payload["children"]`` to an existing child's Person id
        (chosen by the user as the same child), so a re-referral joins that child's history.
        ``acting``: the user and actor the caller has already looked up.
        """
        user, actor = acting if acting is not None and acting[1].username == username else actor_for(username)
        diagrams = self.current_diagrams()
        form = diagrams.forms.get("contact.json")
        if form is None:
            raise EngineError("the diagram set has no contact form (forms/contact.json)")
        now = self.clock.now()
        problems = form.errors(payload)
        problems += [p for p in contact_date_errors(payload, local_date(now), form.label)
                     if p.field not in {e.field for e in problems}]
        if problems:
            raise ValidationFailed(problems, title=f"{form.title}: the form has errors")
        referral_date = parse_date(payload["received_on"])
        children = _linked_children(payload["children"], links or {})
        with database.atomic(), audit.together():  # the cases' audit entries and the contact's, appended at once
            referrer_data = payload.get("referrer") or {}
            anonymous = bool(referrer_data.get("anonymous"))
            referrer = Person.create(kind="referrer", given_name=referrer_data.get("name"),
                                     details=referrer_data, created_at=to_db(now)) if referrer_data else None
            contact = Contact.create(received_on=referral_date, recorded_at=to_db(now), recorded_by=user.username,
                                     channel=payload.get("channel", "unknown"), referrer=referrer,
                                     referrer_anonymous=anonymous,
                                     immediate_danger=bool(payload.get("immediate_danger")),
                                     consent=payload.get("consent"), payload=payload)
            for member in payload.get("family_members") or []:
                Person.create(kind="family_member", given_name=member.get("name"), details=member,
                              created_at=to_db(now))
            cases = [self._start_case(diagrams, contact, child, referral_date, anonymous, actor, now)
                     for child in children]
            audit.record(user.username, "change", "contact", contact.id, now,
                         {"action": "contact recorded", "cases": [c.id for c in cases],
                          "fields": sorted(payload)})
        return cases

    def _start_case(self, diagrams: DiagramSet, contact: Contact, child_data: dict, referral_date: date,
                    anonymous: bool, actor: Actor, now: datetime) -> Case:
        child = find_child(child_data) or Person.create(
            kind="child", given_name=child_data.get("given_name"), family_name=child_data.get("family_name"),
            date_of_birth=child_data.get("date_of_birth"),
            expected_date_of_birth=child_data.get("expected_date_of_birth"), gender=child_data.get("gender"),
            ethnicity=child_data.get("ethnicity"), upn=child_data.get("upn"), details=child_data,
            created_at=to_db(now))
        previous = _PREVIOUS_CASE.first(child=child.id, referral_date=referral_date)
        re_referral = previous is not None and previous.referral_date > referral_date - relativedelta(months=12)
        case = Case.create(child=child, contact=contact, sibling_group=f"contact-{contact.id}", stage="Contact",
                           diagram_version=diagrams.version, created_at=to_db(now), updated_at=to_db(now),
                           referral_date=referral_date, re_referral=re_referral, previous_case=previous)
        child_record = {"id": child.id, "given_name": child.given_name, "family_name": child.family_name,
                        "date_of_birth": _iso(child.date_of_birth),
                        "expected_date_of_birth": _iso(child.expected_date_of_birth),
                        "unborn": bool(child_data.get("unborn"))}
        seed = case_seed(case.reference, child_record, referral_date, contact.immediate_danger, anonymous, re_referral)
        outcome = self.engine.start(diagrams, seed, now, actor)
        if re_referral:
            outcome.events.insert(0, ChronologyEvent("re_referral", f"Re-referral within 12 months of case {previous.reference}",
                                                     happened_on=referral_date))
        self._write(case, outcome, actor.username, now, expected_version=case.version, new=True)
        return _CASE_BY_ID.first(id=case.id)  # read back: the new rows hold the form's values as stored (dates, not text)

    # -- tasks --------------------------------------------------------------------------
    def complete_task(self, task_id: str | Task, username: str, form: Any, token: str | None = None,
                      acting: tuple[User, Actor] | None = None) -> StepResult:
        """Complete a task as ``username``; one unit of work, or an error and no change.

        ``task_id`` may be the task's row a caller has just read, and ``acting`` the user and
        actor it has already looked up (the web request has both): neither is read again.

        The engine runs on a consistent read of the case without holding the write lock (on
        SQLite that lock is the whole database's); the write then checks the case's version, and
        if another step moved the case meanwhile the task is worked again from the new state.
        """
        user, actor = acting if acting is not None and acting[1].username == username else actor_for(username)
        task_row = task_id if isinstance(task_id, Task) else find_task(task_id)
        now = self.clock.now()
        for attempt in range(ATTEMPTS):
            case, state = _case_and_state(task_row.case_id)
            current = task_row if attempt == 0 else _TASK_BY_ID.first(id=task_row.id)  # read just now, or again
            if current is None:
                raise CaseConflict(f"task {task_row.name} was already completed or cancelled")
            if current.assignee_id is not None and current.assignee_id != user.id:
                raise CaseConflict(f"task {current.name} is assigned to someone else")
            diagrams = self.diagrams_for(case.diagram_version_id)
            try:
                outcome = self.engine.complete(diagrams, state, task_row.id, actor, form, now, token,
                                               extra_check=lambda view, data: self._check_booking(case, view, data))
            except (TaskNotReady, TaskNotFound) as exc:  # open when listed, gone from the state read since
                if _TASK_BY_ID.first(id=task_row.id) is None:
                    raise CaseConflict(f"task {task_row.name} was already completed or cancelled") from None
                raise CaseConflict(str(exc)) from None
            if case.allocated_worker_id is None and outcome.completed_task.role == ALLOCATED_ROLE:
                case.allocated_worker = user
                case.team_id = case.team_id or user.team_id  # allocation moves the case to the worker's team
            with database.atomic():
                values = _case_values(case, outcome, now)
                if not _move_case(case, values, expected_version=case.version):
                    continue  # moved since it was read: nothing written, work again
                outcome.events += booking.record_task(case, outcome.completed_task, form, user, now,
                                                      self.engine.calendar)
                self._write(case, outcome, username, now, expected_version=case.version, moved=values)
            return StepResult(case, outcome)  # _write brought the row read above up to date
        raise CaseConflict(f"case {case.reference} kept changing while this task was completed; try again")

    def _check_booking(self, case: Case, view: TaskView, data: dict) -> None:
        """A chair's booking follows the booking rules, and a holding its booking (store/booking.py)."""
        booking.check_task(case, view, data, local_date(self.clock.now()), self.engine.calendar)

    def request_strategy_discussion(self, case_id: int, username: str, reason: str) -> StepResult:
        """Call a strategy discussion during an assessment or a plan."""
        _user, actor = actor_for(username)
        if not actor.roles & {"social_worker", "team_manager"}:
            raise EngineError(f"{username} cannot call a strategy discussion (social worker or team manager only)")
        now = self.clock.now()
        with database.atomic():
            case = lock_case(case_id)
            diagrams = self.diagrams_for(case.diagram_version_id)
            outcome = self.engine.request_strategy_discussion(diagrams, CaseState.get_by_id(case.id).state,
                                                              actor, reason, now)
            self._write(case, outcome, username, now, expected_version=case.version)
        return StepResult(Case.get_by_id(case.id), outcome)

    # -- timers -------------------------------------------------------------------------
    def fire_due_timers(self, now: datetime | None = None, batch: int = 100) -> int:
        """Fire the timers of every case due at ``now``; returns how many cases moved (store/timerworker.py)."""
        return run_due_timers(self, now or self.clock.now(), batch).fired

    # -- writing ------------------------------------------------------------------------
    def _write(self, case: Case, outcome: StepOutcome, actor: str, now: datetime, expected_version: int,
               moved: dict[str, Any] | None = None, new: bool = False) -> None:
        """Write one step's results; zero rows on the version check means someone else won.
        ``moved``: the case row's values, already written (``_move_case``) in this transaction;
        ``new``: the case's first step (the row was inserted in this transaction, with no state
        and no tasks yet).

        The columns written are set on ``case`` too, so it is the row as now stored."""
        values = moved if moved is not None else _case_values(case, outcome, now)
        if moved is None and not _move_case(case, values, expected_version):
            raise CaseConflict(f"case {case.reference} was changed by someone else; nothing was saved")
        (_INSERT_STATE if new else _UPDATE_STATE).later(case=case.id, state=outcome.state)
        history.archive(case.id, outcome.archive, now)
        self._project_tasks(case, outcome.tasks, now, existing={} if new else None)
        for held_on in outcome.reviews:
            ReviewConference.create(case=case, held_on=held_on)
        if outcome.events:  # one statement for the step's entries
            entries, today = {}, local_date(now)
            for index, event in enumerate(outcome.events):
                entries.update({f"case{index}": case.id, f"at{index}": to_db(now),
                                f"happened_on{index}": event.happened_on or today,
                                f"actor{index}": event.actor or actor, f"kind{index}": event.kind,
                                f"element{index}": event.element, f"summary{index}": event.summary,
                                f"details{index}": event.details,
                                f"task_id{index}": event.details.get("task_id") if event.kind == "task_completed"
                                else None})
            _INSERT_CHRONOLOGY[len(outcome.events)].later(**entries)
        audit.record(actor, "change", "case", case.id, now, _audit_detail(case, outcome, expected_version + 1),
                     case_id=case.id, address="worker" if actor == "system" else None)
        for name, value in values.items():
            setattr(case, name if name not in ("allocated_worker", "team") else f"{name}_id", value)
        case.version = expected_version + 1

    def _project_tasks(self, case: Case, tasks: list[TaskView], now: datetime,
                       existing: dict[str, Task] | None = None) -> None:
        """Bring the case's task rows to ``tasks``; ``existing``: its rows, if the caller knows them."""
        if existing is None:
            existing = {t.id: t for t in _TASKS_OF_CASE.rows(case=case.id)}
        keep = {view.id for view in tasks}
        stale = [tid for tid in existing if tid not in keep]
        if stale:
            _DELETE_TASKS[len(stale)].later(**{f"id{i}": tid for i, tid in enumerate(stale)})
        opened = {}
        for view in tasks:
            row = existing.get(view.id)
            if row is not None:
                if (row.due, row.token, row.role) != (view.due, view.token, view.role):
                    _UPDATE_TASK.later(id=view.id, due=view.due, token=view.token, role=view.role)
                continue
            index = len(opened) // len(_TASK_COLUMNS)
            opened.update({f"id{index}": view.id, f"case{index}": case.id, f"bpmn_id{index}": view.bpmn_id,
                           f"name{index}": view.name, f"role{index}": view.role,
                           f"assignee{index}": case.allocated_worker_id if view.role == ALLOCATED_ROLE else None,
                           f"due{index}": view.due, f"token{index}": view.token, f"form_name{index}": view.form_name,
                           f"created_at{index}": to_db(now)})
        if opened:
            _INSERT_TASKS[len(opened) // len(_TASK_COLUMNS)].later(**opened)


# -- the statements of a step, prepared (store/prepared.py): built once, not per completion ----
_ALWAYS_WRITTEN = ("updated_at", "stage")
_TASK_COLUMNS = ("id", "case", "bpmn_id", "name", "role", "assignee", "due", "token", "form_name", "created_at")
_CHRONOLOGY_COLUMNS = ("case", "at", "happened_on", "actor", "kind", "element", "summary", "details", "task_id")


def _case_values(case: Case, outcome: StepOutcome, now: datetime) -> dict[str, Any]:
    """The case row's columns a step changes (``case`` is the row as read, with the allocation
    this step made assigned to it). A column set to its own value still costs the write of every
    index holding it (the team is in six), so unchanged columns are left out: the version check
    makes the row as read the row as stored."""
    values: dict[str, Any] = {"updated_at": to_db(now), "stage": outcome.stage}
    if to_db(outcome.next_timer_at) != case.next_timer_at:
        values["next_timer_at"] = to_db(outcome.next_timer_at)
    for name in ("allocated_worker", "team"):
        if name in case._dirty:  # noqa: SLF001 - peewee's record of fields assigned since the read
            values[name] = getattr(case, f"{name}_id")
    # The statutory record's columns, the deadlines' due dates among them (engine/deadlines.py).
    values.update({name: value for name, value in outcome.statutory.items() if value != getattr(case, name)})
    if outcome.completed and case.status != "closed":
        values["status"] = "closed"
    return values


def _move_case(case: Case, values: dict[str, Any], expected_version: int) -> bool:
    """Update the case row to ``values`` if it is still at ``expected_version`` (the first write of a
    step: it takes the row's lock, and False means another step moved the case and nothing is written)."""
    columns = tuple(sorted(name for name in values if name not in _ALWAYS_WRITTEN))
    return _UPDATE_CASE[columns].execute(case=case.id, expected=expected_version, **values) == 1


def _case_update(columns: tuple[str, ...], place):
    names = _ALWAYS_WRITTEN + columns
    values = {Case.version: Case.version + 1, **{getattr(Case, n): place(n, getattr(Case, n)) for n in names}}
    return Case.update(values).where(Case.id == place("case"), Case.version == place("expected"))


def _rows_insert(model, columns: tuple[str, ...]):
    """An INSERT of ``count`` rows whose values are the slots ``<column><row>``."""
    def build(count: int, place):
        return model.insert_many([{c: place(f"{c}{i}", getattr(model, c)) for c in columns} for i in range(count)])
    return build


_UPDATE_CASE = PreparedFamily(_case_update)
_UPDATE_STATE = Prepared(lambda place: CaseState.update(state=place("state")).where(CaseState.case == place("case")))
_INSERT_STATE = Prepared(lambda place: CaseState.insert(case=place("case"), state=place("state")))
_TASK_BY_ID = Prepared(lambda place: Task.select().where(Task.id == place("id")))
_TASKS_OF_CASE = Prepared(lambda place: Task.select().where(Task.case == place("case")))
_DELETE_TASKS = PreparedFamily(lambda count, place: Task.delete().where(
    Task.id.in_([place(f"id{i}") for i in range(count)])))
_UPDATE_TASK = Prepared(lambda place: Task.update(due=place("due", Task.due), token=place("token"),
                                                  role=place("role")).where(Task.id == place("id")))
_INSERT_TASKS = PreparedFamily(_rows_insert(Task, _TASK_COLUMNS))
_INSERT_CHRONOLOGY = PreparedFamily(_rows_insert(ChronologyEntry, _CHRONOLOGY_COLUMNS))
# A contact's statements (store/prepared.py).
_SAME_CHILD = Prepared(lambda place: Person.select().where(
    Person.kind == "child", Person.family_name ** place("family_name"), Person.given_name ** place("given_name"),
    Person.date_of_birth == place("date_of_birth", Person.date_of_birth)).limit(1))
_PREVIOUS_CASE = Prepared(lambda place: Case.select().where(
    Case.child == place("child"), Case.referral_date <= place("referral_date", Case.referral_date))
    .order_by(Case.referral_date.desc(), Case.id.desc()).limit(1))
_NEWEST_PUBLISHED = Prepared(lambda place: DiagramVersion.select(DiagramVersion.version)
                             .where(DiagramVersion.status == "published")
                             .order_by(fn.COALESCE(DiagramVersion.published_at, DiagramVersion.created_at).desc(),
                                       DiagramVersion.created_at.desc()).limit(1))
_CASE_BY_ID = Prepared(lambda place: Case.select().where(Case.id == place("id")))
_CASE_AND_STATE = Prepared(lambda place: Case.select(Case, CaseState.state.alias("workflow_state")).join(CaseState)
                           .where(Case.id == place("case")).objects())


def _audit_detail(case: Case, outcome: StepOutcome, version: int) -> dict[str, Any]:
    """What one step changed, for the audit: the task and its form's field names, never the values."""
    detail: dict[str, Any] = {"case": case.reference, "version": version, "stage": outcome.stage,
                              "events": [e.kind for e in outcome.events],
                              "opened_tasks": sorted({t.bpmn_id for t in outcome.tasks}),
                              "statutory": sorted(outcome.statutory)}
    if outcome.completed_task is not None:
        form = next((e.details.get("form") for e in outcome.events if e.kind == "task_completed"), None) or {}
        detail["task"] = {"id": outcome.completed_task.id, "bpmn_id": outcome.completed_task.bpmn_id,
                          "name": outcome.completed_task.name, "fields": sorted(form)}
    if outcome.completed:
        detail["closed"] = True
    return detail


def _linked_children(children: list[dict], links: dict[int, int | None]) -> list[dict]:
    """The contact's children with the user's choices applied: an existing record's id as
    ``existing_person_id``, or None for "a different child" (never merged with a record)."""
    unknown = [FieldError(f"children.{index}", f"child {index + 1}: there is no existing child record {person_id}")
               for index, person_id in sorted(links.items())
               if not 0 <= index < len(children) or (person_id is not None and not Person.select().where(
                   Person.id == person_id, Person.kind == "child").exists())]
    if unknown:
        raise ValidationFailed(unknown, title="The chosen existing records are not valid")
    return [dict(child, existing_person_id=links[index]) if index in links else child
            for index, child in enumerate(children)]


ATTEMPTS = 3  # a completion whose case moved while it ran is worked again from the new state, this often


def _case_and_state(case_id: int) -> tuple[Case, str]:
    """The case row and its stored workflow, read in one statement (so they belong together)."""
    row = _CASE_AND_STATE.first(case=case_id)
    if row is None:
        raise CaseNotFound(f"no case {case_id}")
    return row, row.workflow_state


def lock_case(case_id: int) -> Case:
    """The case row for a unit of work (locked on PostgreSQL; SQLite's write lock is already held)."""
    query = Case.select().where(Case.id == case_id)
    if is_postgres():
        query = query.for_update()
    case = query.first()
    if case is None:
        raise CaseNotFound(f"no case {case_id}")
    return case


# -- queries ---------------------------------------------------------------------------
def find_child(child_data: dict) -> Person | None:
    """An existing child record with the same name and date of birth (a re-referral joins it);
    the record the user chose, or none when they said it is a different child."""
    if "existing_person_id" in child_data:
        chosen = child_data["existing_person_id"]
        return Person.get_or_none(Person.id == chosen, Person.kind == "child") if chosen else None
    if not child_data.get("date_of_birth") or not child_data.get("family_name"):
        return None
    return _SAME_CHILD.first(family_name=child_data["family_name"], given_name=child_data.get("given_name") or "",
                             date_of_birth=child_data["date_of_birth"])


def _iso(value) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else value.isoformat()
