"""Statutory deadlines: computed in working days, enforced by boundary timers at a given "now"."""
from __future__ import annotations

from datetime import date, datetime, timezone

from store.demo import build_form
from tests.engine.test_lifecycle import WORKER, at, start


def complete(engine, diagrams, calendar, outcome, bpmn_id, overrides, day: date):
    task = next(t for t in outcome.tasks if t.bpmn_id == bpmn_id)
    form = build_form(task.form_name, overrides, day, calendar, task.prefill)
    return engine.complete(diagrams, outcome.state, task.id, WORKER, form, at(day))


def test_cads_decision_deadline_escalates_once_after_one_working_day(engine, diagrams):
    outcome = start(engine, diagrams, referral=date(2026, 12, 18))  # a Friday
    assert outcome.deadlines["cads_decision"] == date(2026, 12, 21)
    decision = next(t for t in outcome.tasks if t.bpmn_id == "cads_decision")
    assert decision.due == date(2026, 12, 21) and decision.role == "cads_social_worker"
    assert outcome.next_timer_at == datetime(2026, 12, 21, 23, 59, 59, tzinfo=timezone.utc)

    early = engine.fire_timers(diagrams, outcome.state, datetime(2026, 12, 21, 23, 0, tzinfo=timezone.utc))
    assert [t.bpmn_id for t in early.tasks] == ["cads_decision"]

    fired = engine.fire_timers(diagrams, outcome.state, datetime(2026, 12, 22, 0, 0, 5, tzinfo=timezone.utc))
    escalations = [t for t in fired.tasks if t.bpmn_id == "escalate_cads_decision"]
    assert len(escalations) == 1 and escalations[0].role == "cads_manager"
    assert any(t.bpmn_id == "cads_decision" for t in fired.tasks), "the decision stays open beside the escalation"
    assert any(e.kind == "deadline_missed" for e in fired.events)

    again = engine.fire_timers(diagrams, fired.state, datetime(2026, 12, 23, 9, 0, tzinfo=timezone.utc))
    assert [t.bpmn_id for t in again.tasks].count("escalate_cads_decision") == 1
    assert again.next_timer_at is None or again.next_timer_at > datetime(2026, 12, 23, tzinfo=timezone.utc)


def test_timers_do_not_fire_by_the_machine_clock(engine, diagrams):
    """A case referred long ago must not escalate until the worker's "now" passes the deadline."""
    outcome = start(engine, diagrams, referral=date(2024, 3, 1))
    assert [t.bpmn_id for t in outcome.tasks] == ["cads_decision"]
    still = engine.fire_timers(diagrams, outcome.state, datetime(2024, 3, 1, 12, tzinfo=timezone.utc))
    assert [t.bpmn_id for t in still.tasks] == ["cads_decision"]


def test_icpc_deadline_runs_from_the_initiating_strategy_discussion(engine, diagrams, calendar):
    outcome = start(engine, diagrams, referral=date(2026, 12, 14))
    outcome = complete(engine, diagrams, calendar, outcome, "cads_decision", {"decision": "strategy_discussion"},
                       date(2026, 12, 15))
    outcome = complete(engine, diagrams, calendar, outcome, "strategy_discussion",
                       {"outcome": "section47_single"}, date(2026, 12, 18))
    assert outcome.deadlines["icpc"] == date(2027, 1, 13)
    assert outcome.statutory["icpc_due"] == date(2027, 1, 13)
    enquiry = next(t for t in outcome.tasks if t.bpmn_id == "section47_enquiry")
    assert enquiry.due == date(2027, 1, 13)
    outcome = complete(engine, diagrams, calendar, outcome, "section47_enquiry", {"outcome": "icpc"}, date(2027, 1, 4))
    assert outcome.deadlines["icpc"] == date(2027, 1, 13), "a later step does not move the ICPC deadline"
    fired = engine.fire_timers(diagrams, outcome.state, datetime(2027, 1, 14, 0, 30, tzinfo=timezone.utc))
    assert any(t.bpmn_id == "escalate_icpc" and t.role == "team_manager" for t in fired.tasks)


def test_plan_deadlines_first_core_group_and_reviews(engine, diagrams, calendar):
    outcome = start(engine, diagrams, referral=date(2026, 12, 14))
    steps = [("cads_decision", {"decision": "strategy_discussion"}, date(2026, 12, 15)),
             ("feedback_to_referrer", {}, date(2026, 12, 15)),
             ("strategy_discussion", {"outcome": "section47_joint"}, date(2026, 12, 16)),
             ("section47_enquiry", {"outcome": "icpc"}, date(2027, 1, 4)),
             ("schedule_icpc", {}, date(2027, 1, 5)),
             ("icpc", {"outcome": "cp_plan", "categories": ["neglect"]}, date(2027, 1, 12))]
    for bpmn_id, overrides, day in steps:
        outcome = complete(engine, diagrams, calendar, outcome, bpmn_id, overrides, day)
    assert outcome.deadlines["first_core_group"] == date(2027, 1, 26)  # 10 working days after the ICPC
    assert outcome.statutory["cp_plan_started_on"] == date(2027, 1, 12)
    outcome = complete(engine, diagrams, calendar, outcome, "core_group", {}, date(2027, 1, 20))
    assert outcome.deadlines["next_review"] == date(2027, 4, 12)  # 3 months after the ICPC
    for bpmn_id, overrides, day in [("core_group_meeting", {"another_meeting_before_review": False}, date(2027, 2, 1)),
                                    ("schedule_review", {}, date(2027, 2, 2)),
                                    ("review_conference", {"outcome": "continue_plan", "categories": ["neglect"]},
                                     date(2027, 4, 9))]:
        outcome = complete(engine, diagrams, calendar, outcome, bpmn_id, overrides, day)
    assert outcome.deadlines["next_review"] == date(2027, 10, 9)  # then 6 months after the last review
    assert outcome.reviews == [date(2027, 4, 9)]


def test_a_back_dated_referral_records_its_passed_deadline(engine, diagrams):
    """A contact recorded after its decision deadline has passed still shows that deadline, missed."""
    from engine import case_seed
    seed = case_seed("C1", {"id": 1}, date(2026, 12, 1), False, False, False)
    outcome = engine.start(diagrams, seed, datetime(2026, 12, 14, 9, tzinfo=timezone.utc))
    assert outcome.statutory["cads_decision_due"] == date(2026, 12, 2)
    assert "cads_decision" not in outcome.deadlines  # already passed, not waiting
    assert [e.kind for e in outcome.events].count("deadline_missed") == 1
    assert any(t.bpmn_id == "escalate_cads_decision" for t in outcome.tasks)
