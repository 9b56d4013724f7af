"""The chronology in people's words: what each entry says, the day its event happened, and why a
task opened.

An entry has two moments: the day the thing happened (the date the form records, which may be
days before anyone typed it in) and the moment it was recorded. The chronology is read in the
order things happened, so the day is worked out here once, for new entries and for the entries
written before it was kept (``happened_on``, used by the store's backfill).
"""
from __future__ import annotations

from datetime import date
from typing import Any, Mapping

from .calendar import parse_date
from .deadlines import DEADLINES_BY_KEY
from .types import ChronologyEvent, TaskView

SYSTEM = "system"  # the chronology's "who" for what the process did by itself (and the timer worker)

# The form fields saying when the recorded thing happened, in order of choice: a task records the
# whole of a piece of work, so its conclusion (held, decided, completed, authorised) comes before
# its start. Bookings and targets (scheduled_for, review_by) are not events: engine/rules.py.
HAPPENED_FIELDS = ("held_on", "decided_on", "given_on", "checked_on", "concluded_on", "completed_on",
                   "authorised_on", "reviewed_on", "referred_on", "plan_agreed_on", "ended_on", "closed_on",
                   "started_on", "received_on")
# Coded answers a completion is summed up by; free text never goes into a summary (everyone who
# sees the case reads it, and a subject access pack releases it unredacted).
OUTCOME_FIELDS = ("decision", "outcome", "reason", "rag")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December")

AFTER_CONTACT = "after the contact was recorded"
AFTER_STRATEGY_REQUEST = "after a strategy discussion was called"
AFTER_TIMER = "after a timer in the process fired"
AFTER_STEP = "as the process moved on"
# Tasks whose names do not read well after "after the" (contract ids: docs/process.md).
_AFTER_TASK = {
    "mash_check": "after the MASH checks came back",
    "feedback_to_referrer": "after feedback was given to the referrer",
    "schedule_icpc": "after the initial child protection conference was booked",
    "schedule_review": "after the review conference was booked",
    "schedule_contextual_conference": "after the contextual safeguarding conference was booked",
    "cin_plan": "after the child in need plan started",
    "end_cin_plan": "after the child in need plan ended",
    "family_help_plan": "after the Family Help plan was agreed",
    "early_help_referral": "after the referral to early help",
    "lado_initial_consideration": "after the LADO's initial consideration",
    "lado_outcome": "after the outcome of the allegation was recorded",
}
_ROLE_WORDS = {
    "contact_officer": "a contact officer", "cads_social_worker": "a CADS social worker",
    "cads_manager": "the CADS manager", "team_manager": "the team manager",
    "social_worker": "the social worker", "conference_chair": "the conference chair",
    "family_help_practitioner": "a family help practitioner", "lado": "the LADO",
    "business_support": "business support", "mash_police": "the police", "mash_health": "health",
    "mash_education": "education", "mash_probation": "probation",
}


def day_words(day: date) -> str:
    """A date as people write it: 30 December 2026."""
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def role_words(role: str) -> str:
    """A role as a sentence names it: 'the team manager'."""
    return _ROLE_WORDS.get(role) or f"the {role.replace('_', ' ')}"


def spoken(name: str) -> str:
    """A name as it reads mid-sentence: 'Strategy discussion' -> 'strategy discussion'; names with
    an acronym or a proper noun in them ('CADS decision', 'Family Help plan') are left alone."""
    if len(name) > 1 and name[0].isupper() and not any(c.isupper() for c in name[1:]):
        return name[0].lower() + name[1:]
    return name


def form_date(form: Any) -> date | None:
    """The day a completed form says its event happened (HAPPENED_FIELDS), if it says."""
    if not isinstance(form, Mapping):
        return None
    for key in HAPPENED_FIELDS:
        value = form.get(key)
        if isinstance(value, str) and value:
            try:
                return parse_date(value)
            except ValueError:
                continue
    return None


def happened_on(kind: str, details: Mapping[str, Any], recorded_on: date, step_on: date | None = None,
                referral_date: date | None = None) -> date:
    """The day an entry's event happened, from what the entry holds. ``recorded_on``: the day it was
    recorded (in England); ``step_on``: the day the event of the same step happened (a deadline is
    set on the day of the event it counts from); ``referral_date``: the case's."""
    try:
        if kind == "task_completed":
            return form_date(details.get("form")) or recorded_on
        if kind == "deadline_missed" and details.get("due"):
            return parse_date(details["due"])  # missed at the end of its day, whenever the worker noticed
        if kind == "strategy_discussion_requested" and details.get("requested_on"):
            return parse_date(details["requested_on"])
    except ValueError:
        return recorded_on
    if kind in ("case_started", "re_referral") and referral_date is not None:
        return referral_date
    if kind in ("deadline_set", "case_completed") and step_on is not None:
        return step_on
    return recorded_on


# -- the entries the engine writes --------------------------------------------------------
def deadline_words(key: str, due: date) -> str:
    """'Initial child protection conference due by 30 December 2026' (engine/deadlines.py's label)."""
    deadline = DEADLINES_BY_KEY.get(key)
    return f"{deadline.label if deadline else key.replace('_', ' ').capitalize()} due by {day_words(due)}"


def deadline_set(key: str, due: date, step_on: date) -> ChronologyEvent:
    """A statutory deadline the step's event started (happened that day: the timescale counts from it)."""
    return ChronologyEvent("deadline_set", deadline_words(key, due), element=key, actor=SYSTEM,
                           details={"deadline": key, "due": due.isoformat()}, happened_on=step_on)


def deadline_missed(key: str, due: date, escalated_to: str | None) -> ChronologyEvent:
    """A statutory deadline passed unmet; ``escalated_to``: the role of the task its timer opened."""
    summary = f"Statutory deadline missed: {deadline_words(key, due)}"
    if escalated_to:
        summary += f" (escalated to {role_words(escalated_to)})"
    details = {"deadline": key, "due": due.isoformat(), "escalated_to": escalated_to}
    return ChronologyEvent("deadline_missed", summary, element=key, actor=SYSTEM, details=details,
                           happened_on=due)


def task_completed(view: TaskView, schema: Mapping[str, Any], form: Mapping[str, Any], actor: str,
                   recorded_on: date) -> ChronologyEvent:
    """A person completed a task: what they recorded, on the day the form says it happened."""
    details = {"task": view.name, "task_id": view.id, "form": dict(form)}
    return ChronologyEvent("task_completed", completion_summary(view.name, schema, form), element=view.bpmn_id,
                           actor=actor, details=details, happened_on=form_date(form) or recorded_on)


def task_opened(view: TaskView, reason: str, recorded_on: date) -> ChronologyEvent:
    """The process opened a task: credited to the system, with whose it is and the reason."""
    return ChronologyEvent("task_opened", f"Task opened: {view.name} for {role_words(view.role)} ({reason})",
                           element=view.bpmn_id,
                           actor=SYSTEM, happened_on=recorded_on,
                           details={"task": view.name, "role": view.role, "reason": reason,
                                    "due": view.due.isoformat() if view.due else None})


def case_closed(step_on: date) -> ChronologyEvent:
    """The process reached its end."""
    return ChronologyEvent("case_completed", "Case closed: the process has ended", actor=SYSTEM, happened_on=step_on)


def after_task(view: TaskView) -> str:
    """Why tasks opened when ``view`` was completed: 'after the strategy discussion'."""
    if view.bpmn_id in _AFTER_TASK:
        return _AFTER_TASK[view.bpmn_id]
    if view.bpmn_id.startswith("escalate_"):
        return "after a manager reviewed the missed deadline"
    return f"after the {spoken(view.name)}"


def after_deadline(key: str) -> str:
    """Why an escalation opened: 'after the CADS decision deadline passed'."""
    deadline = DEADLINES_BY_KEY.get(key)
    return f"after the {spoken(deadline.label) if deadline else key.replace('_', ' ')} deadline passed"


def fired_timer_above(task, fired: Mapping[str, str]) -> str | None:
    """Which of the deadline timers ``fired`` in a step (task id -> key) a task it opened follows
    from: the nearest ancestor that is one (a subprocess's root continues at its calling activity).
    An escalation opens because its deadline passed, whatever else the step did."""
    current = task
    while current is not None:
        if str(current.id) in fired:
            return str(current.id)
        parent = current.parent
        if parent is None:
            parent_id = current.workflow.parent_task_id
            parent = current.workflow.top_workflow.get_task_from_id(parent_id) if parent_id else None
        current = parent
    return None


def after_migration(version: str) -> str:
    """Why tasks opened when a case moved to another version of the diagrams."""
    return f"after the case moved to diagram version {version}"


def completion_summary(name: str, schema: Mapping[str, Any], form: Mapping[str, Any]) -> str:
    """One line for a completed task: its name and its coded answers in words ('Strategy discussion:
    Section 47 enquiry jointly with the police'), a booking's date, or '<name> recorded'."""
    properties = schema.get("properties", {})
    agency = _choice(properties, form, "agency")
    if agency:
        name = f"{name} ({agency})"
    said: list[str] = []
    for key in OUTCOME_FIELDS:
        words = _choice(properties, form, key)
        if words:  # the first answer is what the task decided; later ones are named
            said.append(words if not said else f"{properties[key].get('title', key)}: {words}")
    if not said and isinstance(form.get("scheduled_for"), str):
        try:
            said.append(f"booked for {day_words(parse_date(form['scheduled_for']))}")
        except ValueError:
            pass
    return f"{name}: {'; '.join(said)}" if said else f"{name} recorded"


def _choice(properties: Mapping[str, Any], form: Mapping[str, Any], key: str) -> str | None:
    """A coded answer's label; None unless the field is a list of codes and the answer one of them."""
    node = properties.get(key) or {}
    value = form.get(key)
    if not isinstance(value, str) or value not in (node.get("enum") or ()):
        return None
    return (node.get("x-enumLabels") or {}).get(value, value)
