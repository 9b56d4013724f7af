"""Statutory deadlines: computed in working days, enforced by boundary timers at a given "now"."""
from __future__ import annotations

from datetime import date, datetime, timezone

from store.demo import build_form
from tests.engine.test_lifecycle import WORKER, at, start


def complete(engine, diagrams, calendar, outcome, bpmn_id, overrides, day: date, without=()):
    task = next(t for t in outcome.tasks if t.bpmn_id == bpmn_id)
    form = build_form(task.form_name, overrides, day, calendar, task.prefill)
    for name in without:  # answers left blank
        form.pop(name, None)
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


def _plan_started(engine, diagrams, calendar, icpc_on: date, referral: date = date(2025, 12, 1)):
    """A case driven to a child protection plan agreed at an ICPC held on ``icpc_on``."""
    outcome = start(engine, diagrams, referral=referral)
    decided = calendar.add_working_days(referral, 1)
    steps = [("cads_decision", {"decision": "strategy_discussion"}, decided),
             ("feedback_to_referrer", {}, decided),
             ("strategy_discussion", {"outcome": "section47_joint"}, calendar.add_working_days(decided, 1)),
             ("section47_enquiry", {"outcome": "icpc"}, calendar.add_working_days(decided, 5)),
             ("schedule_icpc", {}, calendar.add_working_days(decided, 6)),
             ("icpc", {"outcome": "cp_plan", "categories": ["neglect"]}, icpc_on)]
    for bpmn_id, overrides, day in steps:
        outcome = complete(engine, diagrams, calendar, outcome, bpmn_id, overrides, day)
    return outcome


def _open(outcome) -> list[str]:
    return sorted(t.bpmn_id for t in outcome.tasks)


def test_plan_deadlines_first_core_group_and_reviews(engine, diagrams, calendar):
    outcome = _plan_started(engine, diagrams, calendar, date(2027, 1, 12), referral=date(2026, 12, 14))
    assert outcome.deadlines["first_core_group"] == date(2027, 1, 26)  # 10 working days after the ICPC
    assert outcome.statutory["cp_plan_started_on"] == date(2027, 1, 12)
    assert outcome.deadlines["next_review"] == date(2027, 4, 12)  # 3 months after the ICPC, from the start
    outcome = complete(engine, diagrams, calendar, outcome, "core_group", {}, date(2027, 1, 20))
    for bpmn_id, overrides, day in [("core_group_meeting", {}, date(2027, 2, 1)),
                                    ("schedule_review", {}, date(2027, 2, 2)),
                                    ("review_conference", {"outcome": "continue_plan", "categories": ["neglect"]},
                                     date(2027, 4, 9))]:
        outcome = complete(engine, diagrams, calendar, outcome, bpmn_id, overrides, day)
    assert outcome.deadlines["next_review"] == date(2027, 10, 9)  # then 6 months after the last review
    assert outcome.reviews == [date(2027, 4, 9)]


def test_the_first_review_is_due_from_the_moment_the_plan_starts(engine, diagrams, calendar):
    """ICPC on 13 January 2026: the first review is due by 13 April 2026 before any core group meets."""
    outcome = _plan_started(engine, diagrams, calendar, date(2026, 1, 13))
    assert outcome.deadlines["next_review"] == date(2026, 4, 13)
    assert outcome.statutory["next_review_due"] == date(2026, 4, 13)
    assert _open(outcome) == ["core_group", "schedule_review"]
    schedule = next(t for t in outcome.tasks if t.bpmn_id == "schedule_review")
    assert schedule.due == date(2026, 4, 13) and schedule.role == "conference_chair"


def test_a_review_continuing_the_plan_sets_the_next_whatever_the_core_group_is_doing(engine, diagrams, calendar):
    """The case seen in the issue: ICPC 13 Jan 2026, first core group 21 Jan, review 9 Apr continues the
    plan while a core group meeting is open: the next review is due 9 Oct 2026 and can be booked at once."""
    outcome = _plan_started(engine, diagrams, calendar, date(2026, 1, 13))
    outcome = complete(engine, diagrams, calendar, outcome, "core_group", {}, date(2026, 1, 21), without=["next_meeting_on"])
    meeting = next(t for t in outcome.tasks if t.bpmn_id == "core_group_meeting")
    assert meeting.due == calendar.add_working_days(date(2026, 1, 21), 20)  # the plan's cadence
    outcome = complete(engine, diagrams, calendar, outcome, "schedule_review", {}, date(2026, 2, 2))
    outcome = complete(engine, diagrams, calendar, outcome, "review_conference",
                       {"outcome": "continue_plan", "categories": ["neglect"]}, date(2026, 4, 9))
    assert outcome.deadlines["next_review"] == date(2026, 10, 9)
    assert outcome.statutory["next_review_due"] == date(2026, 10, 9)
    assert _open(outcome) == ["core_group_meeting", "schedule_review"]
    assert next(t for t in outcome.tasks if t.bpmn_id == "schedule_review").due == date(2026, 10, 9)
    fired = engine.fire_timers(diagrams, outcome.state, datetime(2026, 4, 14, 9, tzinfo=timezone.utc))
    assert "escalate_review" not in _open(fired), "the first review was held in time: nothing is overdue"


def test_core_groups_meet_at_their_cadence_until_the_plan_ends(engine, diagrams, calendar):
    outcome = _plan_started(engine, diagrams, calendar, date(2026, 1, 13))
    outcome = complete(engine, diagrams, calendar, outcome, "core_group", {}, date(2026, 1, 21), without=["next_meeting_on"])
    held = date(2026, 1, 21)
    for _ in range(3):
        held = calendar.add_working_days(held, 15)
        outcome = complete(engine, diagrams, calendar, outcome, "core_group_meeting", {}, held, without=["next_meeting_on"])
        meeting = next(t for t in outcome.tasks if t.bpmn_id == "core_group_meeting")
        assert meeting.due == calendar.add_working_days(held, 20)
    held = calendar.add_working_days(held, 1)
    outcome = complete(engine, diagrams, calendar, outcome, "core_group_meeting", {}, held)  # sets the next date
    chosen = calendar.add_working_days(held, 10)  # the example form's next meeting, sooner than the cadence
    assert next(t for t in outcome.tasks if t.bpmn_id == "core_group_meeting").due == chosen
    assert outcome.deadlines["next_review"] == date(2026, 4, 13), "core group meetings do not move the review"


def test_a_review_ending_the_plan_closes_open_core_group_work(engine, diagrams, calendar):
    outcome = _plan_started(engine, diagrams, calendar, date(2026, 1, 13))
    # the first core group is late: its escalation is open beside it when the plan ends
    outcome = engine.fire_timers(diagrams, outcome.state, datetime(2026, 1, 28, 9, tzinfo=timezone.utc))
    assert "escalate_first_core_group" in _open(outcome)
    outcome = complete(engine, diagrams, calendar, outcome, "core_group", {}, date(2026, 1, 29))  # late
    assert {"core_group_meeting", "escalate_first_core_group"} <= set(_open(outcome))
    outcome = complete(engine, diagrams, calendar, outcome, "schedule_review", {}, date(2026, 1, 29))
    outcome = complete(engine, diagrams, calendar, outcome, "review_conference",
                       {"outcome": "end_plan", "step_down_to": "cin_plan"}, date(2026, 4, 9))
    assert not {"core_group", "core_group_meeting", "escalate_first_core_group", "schedule_review"} & set(_open(outcome))
    assert outcome.statutory["cp_plan_ended_on"] == date(2026, 4, 9)
    assert "next_review" not in outcome.deadlines and "first_core_group" not in outcome.deadlines
    # the meeting the ended plan was waiting for is not kept in the case's state, unreachable
    workflow = engine.serializer(diagrams).loads(outcome.state)
    tasks = set(workflow.tasks).union(*(sp.tasks for sp in workflow.subprocesses.values()))
    assert all(sp_id in tasks for sp_id in workflow.subprocesses)
    assert "core_group_meeting" not in outcome.state


def test_a_back_dated_referral_records_its_passed_deadline(engine, diagrams):
    """A contact recorded after its decision deadline has passed still shows that deadline, missed."""
    from engine import case_seed
    seed = case_seed("C1", {"id": 1}, date(2026, 12, 1), False, False, False)
    outcome = engine.start(diagrams, seed, datetime(2026, 12, 14, 9, tzinfo=timezone.utc))
    assert outcome.statutory["cads_decision_due"] == date(2026, 12, 2)
    assert "cads_decision" not in outcome.deadlines  # already passed, not waiting
    assert [e.kind for e in outcome.events].count("deadline_missed") == 1
    assert any(t.bpmn_id == "escalate_cads_decision" for t in outcome.tasks)


def test_a_task_completed_after_a_deadline_passed_escalates_in_the_same_step(engine, diagrams, calendar):
    """The worker has not yet fired the CADS deadline (end of 15 December) when a MASH check comes
    back on 17 December: the step itself records the miss and opens the escalation, instead of
    leaving the deadline neither waiting nor fired until some later step."""
    outcome = start(engine, diagrams, referral=date(2026, 12, 14))
    outcome = complete(engine, diagrams, calendar, outcome, "cads_decision",
                       {"decision": "mash_checks", "mash_agencies": ["police", "health"]}, date(2026, 12, 14))
    assert outcome.next_timer_at == datetime(2026, 12, 15, 23, 59, 59, tzinfo=timezone.utc)
    outcome = complete(engine, diagrams, calendar, outcome, "mash_check", {}, date(2026, 12, 17))
    assert sorted(t.bpmn_id for t in outcome.tasks) == ["escalate_cads_decision", "mash_check"]
    assert [e.kind for e in outcome.events].count("deadline_missed") == 1
    again = engine.fire_timers(diagrams, outcome.state, datetime(2026, 12, 18, 9, tzinfo=timezone.utc))
    assert [t.bpmn_id for t in again.tasks].count("escalate_cads_decision") == 1  # once, not again
