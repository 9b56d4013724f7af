"""The chronology on SQLite and PostgreSQL: the day each thing happened beside when it was recorded,
read in the order things happened, and the day given to entries written before it was kept."""
from __future__ import annotations

from datetime import date, datetime, timezone

from store.demo import SCENARIOS, build_form, contact_payload
from store.models import Case, ChronologyEntry, Task
from store.views import case_summary, chronology

REFERRAL = date(2026, 12, 14)  # a Monday; the clock fixture starts on it at 09:00


def complete(app, users, case, bpmn_id, role, overrides, recorded: date, happened: date):
    """Complete ``bpmn_id`` on ``recorded`` (10:00) with a form saying it happened on ``happened``."""
    app.clock.set(datetime(recorded.year, recorded.month, recorded.day, 10, 0, tzinfo=timezone.utc))
    task = Task.get((Task.case == case.id) & (Task.bpmn_id == bpmn_id))
    form = build_form(task.form_name, overrides, happened, app.service.engine.calendar)
    return app.service.complete_task(task.id, users[role], form)


def record_case(app, users):
    scenario = next(s for s in SCENARIOS if s.name == "immediate_danger")
    payload = contact_payload(scenario, REFERRAL)
    payload["immediate_danger"] = False
    [case] = app.service.record_contact(payload, users["contact_officer"])
    return case


def a_late_strategy_discussion(app, users):
    """CADS decision on the 14th; feedback given on the 16th; the strategy discussion held on the
    15th but recorded on the 17th, after the feedback."""
    case = record_case(app, users)
    complete(app, users, case, "cads_decision", "cads_social_worker", {"decision": "strategy_discussion"},
             REFERRAL, REFERRAL)
    complete(app, users, case, "feedback_to_referrer", "cads_social_worker", {}, date(2026, 12, 16), date(2026, 12, 16))
    complete(app, users, case, "strategy_discussion", "social_worker", {"outcome": "section47_single"},
             recorded=date(2026, 12, 17), happened=date(2026, 12, 15))
    return Case.get_by_id(case.id)


def test_each_entry_keeps_when_it_happened_and_when_it_was_recorded(app, users):
    case = a_late_strategy_discussion(app, users)
    held = ChronologyEntry.get(ChronologyEntry.case == case.id, ChronologyEntry.kind == "task_completed",
                               ChronologyEntry.element == "strategy_discussion")
    assert held.happened_on == date(2026, 12, 15) and held.at == datetime(2026, 12, 17, 10, 0)
    icpc = ChronologyEntry.get(ChronologyEntry.case == case.id, ChronologyEntry.kind == "deadline_set",
                               ChronologyEntry.element == "icpc")
    assert icpc.summary == "Initial child protection conference due by 8 January 2027"
    assert icpc.happened_on == date(2026, 12, 15) and icpc.actor == "system"
    opened = ChronologyEntry.get(ChronologyEntry.case == case.id, ChronologyEntry.kind == "task_opened",
                                 ChronologyEntry.element == "section47_enquiry")
    assert opened.happened_on == date(2026, 12, 17) and opened.actor == "system"
    assert opened.summary == "Task opened: Section 47 enquiry for the social worker (after the strategy discussion)"
    started = ChronologyEntry.get(ChronologyEntry.case == case.id, ChronologyEntry.kind == "case_started")
    assert started.happened_on == REFERRAL and started.actor == users["contact_officer"]


def test_the_chronology_reads_in_the_order_things_happened(app, users, calendar):
    case = a_late_strategy_discussion(app, users)
    order = [(e.kind, e.element) for e in chronology(case)]
    assert order.index(("task_completed", "strategy_discussion")) < order.index(("task_completed",
                                                                                  "feedback_to_referrer"))
    assert order.index(("task_completed", "strategy_discussion")) < order.index(("deadline_set", "icpc"))
    days = [e.happened for e in chronology(case)]
    assert days == sorted(days)
    recorded = list(ChronologyEntry.select().where(ChronologyEntry.case == case.id).order_by(ChronologyEntry.id))
    same_day = [e.id for e in chronology(case) if e.happened == REFERRAL]
    assert same_day == [e.id for e in recorded if e.happened == REFERRAL], "one day's entries in recording order"

    summary = case_summary(case.id, REFERRAL, calendar)  # the API's and the command line's answer
    entry = next(e for e in summary["chronology"] if e["summary"].startswith("Strategy discussion:"))
    assert entry["happened_on"] == "2026-12-15" and entry["at"].startswith("2026-12-17T10:00")
    assert [e["happened_on"] for e in summary["chronology"]] == sorted(e["happened_on"] for e in summary["chronology"])


def test_a_step_writes_its_entries_in_the_one_insert(app, users, db_url):
    """The completion path is benchmarked: the day it happened goes in the insert already made."""
    case = record_case(app, users)
    sent: list[str] = []
    if db_url.startswith("sqlite"):
        app.db.connection().set_trace_callback(sent.append)
    complete(app, users, case, "cads_decision", "cads_social_worker", {"decision": "strategy_discussion"},
             REFERRAL, REFERRAL)
    if db_url.startswith("sqlite"):
        app.db.connection().set_trace_callback(None)
        writes = [s for s in sent if "chronology_entry" in s]
        assert len(writes) == 1 and writes[0].startswith("INSERT") and "happened_on" in writes[0]
    assert ChronologyEntry.select().where(ChronologyEntry.case == case.id,
                                          ChronologyEntry.happened_on.is_null()).count() == 0


def test_the_backfill_gives_old_entries_the_days_new_ones_get(app, users):
    """Entries written before the day was kept get, from what they hold, the day a new one gets;
    their words stay as written."""
    from store.chronology import backfill_happened_on
    case = a_late_strategy_discussion(app, users)
    from store.allocation import allocate_case
    app.service.fire_due_timers(datetime(2027, 1, 9, 1, 0, tzinfo=timezone.utc))  # the ICPC deadline passes
    allocate_case(case.id, "sw.omar", "tm.claire", datetime(2027, 1, 11, 9, 0, tzinfo=timezone.utc))
    written = {e.id: e.happened_on for e in ChronologyEntry.select().where(ChronologyEntry.case == case.id)}
    kinds = {e.kind for e in ChronologyEntry.select().where(ChronologyEntry.case == case.id)}
    assert {"case_started", "task_completed", "deadline_set", "deadline_missed", "task_opened", "allocated"} <= kinds
    words = {e.id: e.summary for e in ChronologyEntry.select()}
    ChronologyEntry.update(happened_on=None).execute()

    backfill_happened_on()

    assert {e.id: e.happened_on for e in ChronologyEntry.select().where(ChronologyEntry.case == case.id)} == written
    assert {e.id: e.summary for e in ChronologyEntry.select()} == words


def test_migration_7_dates_the_entries_of_an_older_database_and_keeps_their_words(app, users):
    """Rows as the code before this one wrote them (its wording, no day): migrating gives each its day."""
    from store.migrations import SchemaVersion, migrate, schema_version
    case = record_case(app, users)
    steps = [
        (datetime(2026, 12, 17, 10, 0), "cads.sw", "task_completed", "strategy_discussion",
         "Strategy discussion; Outcome: Section 47 enquiry by children's social care; held on 2026-12-15",
         {"task": "Strategy discussion", "form": {"held_on": "2026-12-15", "outcome": "section47_single"}}),
        (datetime(2026, 12, 17, 10, 0), "cads.sw", "deadline_set", "icpc", "Deadline for icpc: 2027-01-07",
         {"deadline": "icpc", "due": "2027-01-07"}),
        (datetime(2026, 12, 17, 10, 0), "cads.sw", "task_opened", "section47_enquiry",
         "Section 47 enquiry for social worker", {"role": "social_worker", "due": "2027-01-07"}),
        (datetime(2027, 1, 8, 1, 0), "system", "deadline_missed", "icpc",
         "Statutory deadline missed: icpc (escalated)", {"deadline": "icpc", "due": "2027-01-07"}),
        (datetime(2027, 4, 30, 23, 30), "tm.claire", "allocated", None, "Allocated to Priya Shah", {}),
    ]
    old = [ChronologyEntry.create(case=case, at=at, actor=actor, kind=kind, element=element, summary=summary,
                                  details=details).id for at, actor, kind, element, summary, details in steps]
    ChronologyEntry.update(happened_on=None).where(ChronologyEntry.case == case.id,
                                                   ChronologyEntry.kind == "case_started").execute()
    SchemaVersion.delete().where(SchemaVersion.version > 5).execute()
    SchemaVersion.insert(version=5, description="as before", applied_at=None).on_conflict_ignore().execute()
    assert schema_version() == 5

    report = migrate(app.clock.now())

    assert any(step.startswith("7:") for step in report.applied)
    days = {e.id: e.happened_on for e in ChronologyEntry.select().where(ChronologyEntry.id.in_(old))}
    assert [days[i] for i in old] == [date(2026, 12, 15), date(2026, 12, 15), date(2026, 12, 17), date(2027, 1, 7),
                                      date(2027, 5, 1)]  # 23:30 UTC on 30 April is 00:30 on 1 May in England
    assert ChronologyEntry.get(ChronologyEntry.case == case.id, ChronologyEntry.kind == "case_started").happened_on \
        == REFERRAL
    assert [ChronologyEntry.get_by_id(i).summary for i in old] == [s[4] for s in steps]
    assert not migrate(app.clock.now()).changed
