"""Driving the lifecycle scenarios through a diagram set on the engine alone (no database).

The lifecycle tests and the dry run before publishing share this driver, so a version that
is published has been walked down every path the tests prove.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from typing import Any, Callable

from engine import Actor, CaseEngine, DiagramSet, EngineError, StepOutcome, WorkingDayCalendar, case_seed

from .demo import FORM_EXAMPLES, SCENARIOS, Scenario, build_form

ROLES = frozenset({"cads_social_worker", "cads_manager", "mash_police", "mash_health", "mash_education",
                   "mash_probation", "social_worker", "team_manager", "conference_chair",
                   "family_help_practitioner", "lado", "contact_officer", "business_support"})
WORKER = Actor("dry-run", ROLES)
REFERRAL = date(2026, 12, 14)
MAX_STEPS = 80


def at(day: date, hour: int = 10) -> datetime:
    """10:00 UTC on ``day``."""
    return datetime.combine(day, time(hour, 0), tzinfo=timezone.utc)


def start(engine: CaseEngine, diagrams: DiagramSet, immediate: bool = False, referral: date = REFERRAL) -> StepOutcome:
    """Start one test child's case on ``diagrams``."""
    child = {"id": 1, "given_name": "Amy", "family_name": "Mills", "date_of_birth": "2018-04-09", "unborn": False}
    return engine.start(diagrams, case_seed("C000001", child, referral, immediate, False, False), at(referral))


def drive(engine: CaseEngine, diagrams: DiagramSet, calendar: WorkingDayCalendar, scenario: Scenario,
          referral: date = REFERRAL, request_strategy_after: str | None = None,
          diagrams_for_step: Callable[[], DiagramSet] | None = None,
          after_step: Callable[[DiagramSet, str, datetime], None] | None = None,
          fill_unknown: bool = False, progress: list[str] | None = None) -> tuple[StepOutcome, list[str]]:
    """Run a scenario to its end on the engine alone; returns (outcome, completed task ids).

    ``diagrams_for_step()`` may give each step its own parse of the diagrams (a fresh process);
    ``after_step(diagrams, state, now)`` sees every saved state; ``fill_unknown`` also completes
    tasks the scenario does not know (a new version's added tasks) with generated form data;
    ``progress`` (a list) receives each completed task id as it goes.
    """
    outcome = start(engine, diagrams, bool(scenario.contact.get("immediate_danger")), referral)
    today, used, done = referral, {}, progress if progress is not None else []
    if after_step:
        after_step(diagrams, outcome.state, at(today))
    for _ in range(MAX_STEPS):
        # Of the tasks the scenario wants, the kind done least so far: work that repeats until
        # something else happens (core group meetings until a review ends the plan) takes turns.
        wanted = [t for t in outcome.tasks if scenario.wants(t.bpmn_id)]
        task = min(wanted, key=lambda t: done.count(t.bpmn_id)) if wanted else None
        if task is None and fill_unknown:
            task = next((t for t in outcome.tasks if t.bpmn_id not in scenario.choices), None)
        if task is None:
            break
        today = calendar.add_working_days(today, 1)
        if task.form_name in FORM_EXAMPLES:
            form = build_form(task.form_name, scenario.overrides(task.bpmn_id, used), today, calendar, task.prefill)
        else:
            form = {**minimal_form(task.schema, today), **task.prefill}
        step_diagrams = diagrams_for_step() if diagrams_for_step else diagrams
        outcome = engine.complete(step_diagrams, outcome.state, task.id, WORKER, form, at(today), token=task.token)
        done.append(task.bpmn_id)
        if after_step:
            after_step(diagrams, outcome.state, at(today))
        if request_strategy_after == task.bpmn_id:
            request_strategy_after = None
            outcome = engine.request_strategy_discussion(diagrams, outcome.state, WORKER, "New injury", at(today))
            if after_step:
                after_step(diagrams, outcome.state, at(today))
    return outcome, done


def minimal_form(schema: dict[str, Any], today: date) -> dict[str, Any]:
    """The smallest data that fills a schema's required fields (for tasks no scenario knows)."""
    return {name: _minimal_value(schema.get("properties", {}).get(name, {}), today)
            for name in schema.get("required", [])}


def _minimal_value(prop: dict[str, Any], today: date) -> Any:
    if "enum" in prop:
        return prop["enum"][0]
    if "const" in prop:
        return prop["const"]
    kind = prop.get("type")
    if kind == "boolean":
        return False
    if kind in ("integer", "number"):
        return prop.get("minimum", 0)
    if kind == "array":
        item = prop.get("items", {})
        return [_minimal_value(item, today) for _ in range(prop.get("minItems", 0))]
    if kind == "object":
        return minimal_form(prop, today)
    if prop.get("format") == "date":
        return today.isoformat()
    return "x" * max(1, prop.get("minLength", 1)) if prop.get("minLength") else "Recorded in a dry run"


@dataclass(frozen=True)
class StuckPath:
    """A scenario that did not finish on a diagram set, and where it stopped."""

    scenario: str
    reason: str


def dry_run(engine: CaseEngine, diagrams: DiagramSet, calendar: WorkingDayCalendar | None = None,
            scenarios: list[Scenario] | None = None) -> list[StuckPath]:
    """Drive every lifecycle scenario through ``diagrams``; the paths that no longer finish."""
    calendar = calendar or engine.calendar
    stuck = []
    for scenario in scenarios if scenarios is not None else SCENARIOS:
        done: list[str] = []
        try:
            outcome, _done = drive(engine, diagrams, calendar, scenario, fill_unknown=True, progress=done)
        except EngineError as exc:
            stuck.append(StuckPath(scenario.name, f"failed after {_last(done)}: {exc}"))
            continue
        if not outcome.completed:
            waiting = ", ".join(t.bpmn_id for t in outcome.tasks) or "no open task (the case waits forever)"
            stuck.append(StuckPath(scenario.name, f"does not finish: stuck at {waiting} after {_last(done)}"))
    return stuck


def _last(done: list[str]) -> str:
    return " -> ".join(done[-3:]) if done else "the start"
