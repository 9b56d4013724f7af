"""The chronology in people's words: plain summaries, the day each thing happened, and tasks opened
by a step credited to the system with the reason."""
from __future__ import annotations

from datetime import date, datetime, timezone

from engine.chronology import (HAPPENED_FIELDS, SYSTEM, completion_summary, day_words, happened_on, spoken)
from engine.rules import EVENT_DATE_FIELDS
from store.demo import build_form
from store.dryrun import WORKER, at, start


def complete(engine, diagrams, calendar, outcome, bpmn_id, overrides, recorded: date, happened: date | None = None,
             pick=None):
    """Complete the first open ``bpmn_id`` task (or ``pick(tasks)``), recorded on ``recorded``; its
    form's dates are ``happened`` (default: the day it is recorded)."""
    task = pick(outcome.tasks) if pick else next(t for t in outcome.tasks if t.bpmn_id == bpmn_id)
    form = build_form(task.form_name, overrides, happened or recorded, calendar, task.prefill)
    return engine.complete(diagrams, outcome.state, task.id, WORKER, form, at(recorded))


def events(outcome, kind):
    return [e for e in outcome.events if e.kind == kind]


def test_deadlines_read_as_people_write_them(engine, diagrams, calendar):
    outcome = start(engine, diagrams, referral=date(2026, 12, 14))
    [deadline] = events(outcome, "deadline_set")
    assert deadline.summary == "CADS decision due by 15 December 2026"
    assert deadline.actor == SYSTEM and deadline.happened_on == date(2026, 12, 14)
    outcome = complete(engine, diagrams, calendar, outcome, "cads_decision", {"decision": "strategy_discussion"},
                       date(2026, 12, 15))
    outcome = complete(engine, diagrams, calendar, outcome, "strategy_discussion", {"outcome": "section47_single"},
                       date(2026, 12, 18))
    [icpc] = events(outcome, "deadline_set")
    assert icpc.summary == "Initial child protection conference due by 13 January 2027"
    assert icpc.details == {"deadline": "icpc", "due": "2027-01-13"}  # the key and ISO date stay for programs

    missed = engine.fire_timers(diagrams, outcome.state, datetime(2027, 1, 14, 0, 30, tzinfo=timezone.utc))
    [entry] = events(missed, "deadline_missed")
    assert entry.summary == ("Statutory deadline missed: Initial child protection conference due by "
                             "13 January 2027 (escalated to the team manager)")
    assert entry.actor == SYSTEM and entry.happened_on == date(2027, 1, 13)  # missed at the end of its day


def test_completed_tasks_say_what_was_decided_in_words(engine, diagrams, calendar):
    outcome = start(engine, diagrams, referral=date(2026, 12, 14))
    outcome = complete(engine, diagrams, calendar, outcome, "cads_decision",
                       {"decision": "strategy_discussion", "rag": "amber"}, date(2026, 12, 15))
    [done] = events(outcome, "task_completed")
    assert done.summary == ("CADS decision: Strategy discussion (section 47, suspected significant harm); "
                            "Urgency (RAG rating): Amber: medium risk")
    assert done.actor == WORKER.username
    outcome = complete(engine, diagrams, calendar, outcome, "feedback_to_referrer", {}, date(2026, 12, 16))
    assert events(outcome, "task_completed")[0].summary == "Feedback to referrer recorded"


def test_a_form_entered_late_happened_on_its_own_date(engine, diagrams, calendar):
    """The strategy discussion held on the 16th and typed in on the 21st happened on the 16th, and so
    did the setting of the ICPC deadline that counts from it; the task it opened, on the 21st."""
    outcome = start(engine, diagrams, referral=date(2026, 12, 14))
    outcome = complete(engine, diagrams, calendar, outcome, "cads_decision", {"decision": "strategy_discussion"},
                       date(2026, 12, 15))
    outcome = complete(engine, diagrams, calendar, outcome, "strategy_discussion", {"outcome": "section47_joint"},
                       recorded=date(2026, 12, 21), happened=date(2026, 12, 16))
    [done] = events(outcome, "task_completed")
    assert done.happened_on == date(2026, 12, 16)
    assert done.summary == "Strategy discussion: Section 47 enquiry jointly with the police"
    assert events(outcome, "deadline_set")[0].happened_on == date(2026, 12, 16)
    assert events(outcome, "task_opened")[0].happened_on == date(2026, 12, 21)


def test_tasks_opened_by_a_step_are_the_systems_with_the_reason(engine, diagrams, calendar):
    outcome = start(engine, diagrams, referral=date(2026, 12, 14))
    [opened] = events(outcome, "task_opened")
    assert (opened.actor, opened.summary) == (
        SYSTEM, "Task opened: CADS decision for a CADS social worker (after the contact was recorded)")
    outcome = complete(engine, diagrams, calendar, outcome, "cads_decision",
                       {"decision": "mash_checks", "mash_agencies": ["police", "health"]}, date(2026, 12, 15))
    assert sorted(e.summary for e in events(outcome, "task_opened")) == [
        "Task opened: MASH check for health (after the CADS decision)",
        "Task opened: MASH check for the police (after the CADS decision)"]
    outcome = complete(engine, diagrams, calendar, outcome, "mash_check", {"rag": "green"}, date(2026, 12, 15),
                       pick=lambda tasks: next(t for t in tasks if t.role == "mash_police"))
    assert events(outcome, "task_opened") == [], "one check back opens nothing"
    outcome = complete(engine, diagrams, calendar, outcome, "mash_check", {"rag": "amber"}, date(2026, 12, 15))
    [last_check] = events(outcome, "task_completed")
    assert last_check.actor == WORKER.username and last_check.summary == "MASH check (Health): Amber: medium risk"
    [opened] = events(outcome, "task_opened")
    assert opened.actor == SYSTEM, "not the partner who happened to send the last check"
    assert opened.summary == "Task opened: CADS decision for a CADS social worker (after the MASH checks came back)"
    assert opened.details["reason"] == "after the MASH checks came back" and opened.details["role"] == "cads_social_worker"


def test_an_escalation_opens_because_its_deadline_passed(engine, diagrams, calendar):
    outcome = start(engine, diagrams, referral=date(2026, 12, 18))
    fired = engine.fire_timers(diagrams, outcome.state, datetime(2026, 12, 22, 0, 0, 5, tzinfo=timezone.utc))
    [opened] = events(fired, "task_opened")
    assert opened.actor == SYSTEM
    assert opened.summary == ("Task opened: Escalate overdue CADS decision for the CADS manager "
                              "(after the CADS decision deadline passed)")
    [missed] = events(fired, "deadline_missed")
    assert missed.summary.endswith("(escalated to the CADS manager)")


def test_a_back_dated_record_that_passes_a_deadline_says_which_task_came_of_what(engine, diagrams, calendar):
    """One step opens the enquiry (after the strategy discussion) and the ICPC escalation (after its
    deadline): a strategy discussion held long ago, recorded today."""
    outcome = start(engine, diagrams, referral=date(2026, 11, 2))
    outcome = complete(engine, diagrams, calendar, outcome, "cads_decision", {"decision": "strategy_discussion"},
                       date(2026, 11, 2))
    outcome = complete(engine, diagrams, calendar, outcome, "strategy_discussion", {"outcome": "section47_single"},
                       recorded=date(2026, 12, 14), happened=date(2026, 11, 3))
    reasons = {e.element: e.summary for e in events(outcome, "task_opened")}
    assert reasons["section47_enquiry"].endswith("(after the strategy discussion)")
    assert reasons["escalate_icpc"].endswith("(after the initial child protection conference deadline passed)")
    [missed] = events(outcome, "deadline_missed")
    assert missed.summary.endswith("(escalated to the team manager)")


def test_a_called_strategy_discussion_opens_with_that_reason(engine, diagrams, calendar):
    outcome = start(engine, diagrams, referral=date(2026, 12, 14))
    outcome = complete(engine, diagrams, calendar, outcome, "cads_decision", {"decision": "assessment"},
                       date(2026, 12, 15))
    outcome = engine.request_strategy_discussion(diagrams, outcome.state, WORKER, "New injury", at(date(2026, 12, 16)))
    opened = next(e for e in events(outcome, "task_opened") if e.element == "strategy_discussion")
    assert opened.actor == SYSTEM and opened.summary.endswith("(after a strategy discussion was called)")


def test_words_and_days():
    assert day_words(date(2026, 12, 30)) == "30 December 2026" and day_words(date(2027, 1, 4)) == "4 January 2027"
    assert [spoken(n) for n in ("Strategy discussion", "CADS decision", "Family Help plan", "Section 47 enquiry")] == [
        "strategy discussion", "CADS decision", "Family Help plan", "section 47 enquiry"]
    assert set(HAPPENED_FIELDS) <= EVENT_DATE_FIELDS, "only dates of events, never bookings or targets"
    recorded = date(2027, 1, 20)
    assert happened_on("task_completed", {"form": {"started_on": "2027-01-04", "authorised_on": "2027-01-15"}},
                       recorded) == date(2027, 1, 15), "an assessment happened when it was authorised"
    assert happened_on("task_completed", {"form": {"scheduled_for": "2027-02-01"}}, recorded) == recorded
    assert happened_on("deadline_missed", {"due": "2027-01-13"}, recorded) == date(2027, 1, 13)
    assert happened_on("deadline_set", {"due": "2027-02-01"}, recorded, step_on=date(2027, 1, 2)) == date(2027, 1, 2)
    assert happened_on("case_started", {}, recorded, referral_date=date(2027, 1, 1)) == date(2027, 1, 1)
    assert happened_on("allocated", {}, recorded) == recorded
    assert happened_on("task_completed", {"form": {"held_on": "not a date"}}, recorded) == recorded


def test_free_text_never_reaches_a_summary():
    schema = {"properties": {"outcome": {"enum": ["other"], "x-enumLabels": {"other": "Other"}},
                             "reason": {"type": "string"}, "decision": {"type": "string"}}}
    summary = completion_summary("End child in need plan", schema,
                                 {"outcome": "other", "reason": "Moved in with Aunt Jo", "decision": "Jo Bloggs"})
    assert summary == "End child in need plan: Other"
