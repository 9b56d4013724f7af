"""Who sees which case, on SQLite and PostgreSQL: the rules as conditions, restricting and naming people."""
from __future__ import annotations

import pytest

from engine import EngineError, NotPermitted, ValidationFailed
from store import audit
from store.access import (CaseAccess, Viewer, can_open_task, can_see_case, grant_access, is_hidden,
                          refused_attempts, restrict_case, restriction, revoke_access, task_condition,
                          unrestrict_case, visible_among, visible_case_ids)
from store.audit import AuditEntry
from store.queues import list_tasks
from store.demo import SCENARIOS, Scenario, _defaults, contact_payload, drive_case
from store.models import Case, Task, User
from store.users import add_user

TO_S47 = {**{k: v for k, v in _defaults().items() if k != "feedback_to_referrer"},  # left open for CADS
          "cads_decision": [{"decision": "strategy_discussion"}], "strategy_discussion": [{"outcome": "section47_single"}]}


def viewer(username):
    return Viewer.of(User.get(User.username == username))


def visible(username):
    return {row.id for row in visible_case_ids(viewer(username))}


@pytest.fixture
def cases(app, users, clock):
    """A case at the front door and one allocated to sw.priya's team (Norwich locality)."""
    add_user("sw.bella", "Bella Stone", ["social_worker"], clock.now(), team="Great Yarmouth locality")
    scenario = Scenario("s47", TO_S47, stop_before="section47_enquiry")
    front, allocated = (app.service.record_contact(contact_payload(scenario, clock.now().date(), i), "contact.officer")[0]
                        for i in (0, 1))
    allocated = drive_case(app.service, clock, allocated.id, scenario, users)
    return front.id, allocated.id


def test_allocation_moves_a_case_from_the_front_door_to_its_team(app, cases):
    front, allocated = cases
    case = Case.get_by_id(allocated)
    assert case.allocated_worker.username == "sw.priya" and case.team_id == case.allocated_worker.team_id
    assert Case.get_by_id(front).team_id is None
    assert visible("contact.officer") == {front}  # the allocated case is no longer the front door's
    assert visible("sw.priya") == visible("sw.omar") == visible("tm.claire") == {allocated}
    assert visible("sw.bella") == visible("mash.police") == visible("admin") == set()
    assert visible("cads.sw") == {front, allocated}  # its feedback to the referrer is still CADS work
    assert can_see_case(viewer("sw.omar"), allocated) and not can_see_case(viewer("sw.bella"), allocated)


def test_task_opening_follows_the_case_and_the_role(app, cases):
    _front, allocated = cases
    s47 = Task.get(Task.case == allocated, Task.bpmn_id == "section47_enquiry")
    assert can_open_task(viewer("sw.priya"), s47) and can_open_task(viewer("tm.claire"), s47)
    assert not can_open_task(viewer("sw.bella"), s47) and not can_open_task(viewer("chair.helen"), s47)


def test_a_restricted_case_is_seen_only_by_the_named(app, cases, clock):
    _front, allocated = cases
    restrict_case(allocated, "tm.claire", "Child related to a member of staff", ["sw.omar"], clock.now())
    assert sorted(a.username for a in restriction(allocated)[1]) == ["sw.omar", "tm.claire"]
    assert allocated not in visible("sw.priya")  # even the allocated worker, when not named
    assert allocated not in visible("cads.sw") and is_hidden(viewer("sw.priya"), allocated)
    assert allocated in visible("sw.omar") and allocated in visible("tm.claire")
    s47 = Task.get(Task.case == allocated, Task.bpmn_id == "section47_enquiry")
    assert not can_open_task(viewer("sw.priya"), s47)
    grant_access(allocated, "sw.priya", "tm.claire", "Allocated worker, checked", clock.now())
    assert allocated in visible("sw.priya")
    revoke_access(allocated, "sw.priya", "tm.claire", clock.now())
    assert allocated not in visible("sw.priya")
    actions = [e.detail["action"] for e in AuditEntry.select().where(AuditEntry.record_type == "restriction")
               .order_by(AuditEntry.id)]
    assert actions == ["restricted", "named", "named", "named", "removed"]
    unrestrict_case(allocated, "tm.claire", "Staff member has left", clock.now())
    assert allocated in visible("sw.priya") and CaseAccess.select().count() == 0


def test_restricting_is_refused_clearly_and_changes_nothing(app, cases, clock):
    front, allocated = cases
    with pytest.raises(NotPermitted):
        restrict_case(allocated, "sw.priya", "reason", [], clock.now())  # not a manager
    with pytest.raises(NotPermitted):
        restrict_case(front, "tm.claire", "reason", [], clock.now())  # a team manager cannot see the front door's case
    with pytest.raises(ValidationFailed):
        restrict_case(allocated, "tm.claire", "  ", [], clock.now())
    with pytest.raises(ValidationFailed, match="Cannot name"):
        restrict_case(allocated, "tm.claire", "reason", ["nobody.here"], clock.now())
    with pytest.raises(ValidationFailed, match="Nobody is named"):
        restrict_case(allocated, "admin", "reason", [], clock.now())  # an administrator is not named by restricting
    with pytest.raises(EngineError, match="not restricted"):
        grant_access(allocated, "sw.omar", "tm.claire", "reason", clock.now())
    assert restriction(allocated) == (None, []) and restriction(front) == (None, [])
    restrict_case(allocated, "admin", "On the head of service's request", ["tm.claire"], clock.now())
    with pytest.raises(EngineError, match="last person"):
        revoke_access(allocated, "tm.claire", "tm.claire", clock.now())


def test_managers_see_refusals_on_their_cases_information_governance_all(app, cases, clock):
    front, allocated = cases
    for case_id in (front, allocated):
        audit.record("sw.bella", "refused", "case", case_id, clock.now(), {"path": f"/cases/{case_id}"}, case_id=case_id)
    assert [r["case_id"] for r in refused_attempts(viewer("tm.claire"))] == [allocated]
    assert [r["case_id"] for r in refused_attempts(viewer("cads.manager"))] == [allocated, front]
    assert {r["case_id"] for r in refused_attempts(viewer("ig.nadia"))} == {front, allocated}
    assert refused_attempts(viewer("tm.claire"))[0]["name"] == "Bella Stone"


def test_migration_3_gives_cases_allocated_before_teams_their_workers_team(app, cases):
    from store.access import backfill_case_teams
    from store.migrations import MIGRATIONS
    front, allocated = cases
    Case.update(team=None).where(Case.id == allocated).execute()  # as an older database holds it
    assert allocated not in visible("sw.omar")
    assert backfill_case_teams() == 1 and backfill_case_teams() == 0
    assert Case.get_by_id(allocated).team_id == User.get(User.username == "sw.priya").team_id
    assert Case.get_by_id(front).team_id is None and allocated in visible("sw.omar")
    assert (3, backfill_case_teams) == (MIGRATIONS[2][0], MIGRATIONS[2][2])


def test_a_manager_allocates_and_the_case_moves_to_the_workers_team(app, cases, clock):
    from store.allocation import allocatable_workers, allocate_case
    from store.models import ChronologyEntry
    front, allocated = cases
    assert [u.username for u in allocatable_workers(viewer("tm.claire"))] == ["sw.omar", "sw.priya"]
    assert [u.username for u in allocatable_workers(viewer("cads.manager"))] == ["sw.bella", "sw.omar", "sw.priya"]
    with pytest.raises(NotPermitted):
        allocate_case(front, "sw.omar", "tm.claire", clock.now())  # not a case a team manager can see yet
    with pytest.raises(NotPermitted):
        allocate_case(front, "sw.omar", "cads.sw", clock.now())  # not a manager
    with pytest.raises(ValidationFailed, match="Choose the social worker"):
        allocate_case(front, "tm.claire", "cads.manager", clock.now())  # not a social worker
    version = Case.get_by_id(front).version
    case = allocate_case(front, "sw.bella", "cads.manager", clock.now())  # the front door hands over
    assert case.allocated_worker.username == "sw.bella" and case.team.name == "Great Yarmouth locality"
    assert case.version == version + 1 and front in visible("sw.bella") and front not in visible("contact.officer")
    entry = ChronologyEntry.get(ChronologyEntry.case == front, ChronologyEntry.kind == "allocated")
    assert entry.summary == "Allocated to Bella Stone (Great Yarmouth locality)" and entry.actor == "cads.manager"
    with pytest.raises(ValidationFailed):
        allocate_case(allocated, "sw.bella", "tm.claire", clock.now())  # another team's worker
    case = allocate_case(allocated, "sw.omar", "tm.claire", clock.now())
    assert case.allocated_worker.username == "sw.omar"
    s47 = Task.get(Task.case == allocated, Task.bpmn_id == "section47_enquiry")
    assert s47.assignee.username == "sw.omar"  # the previous worker's statutory work moves with the case
    last = AuditEntry.select().where(AuditEntry.case_id == allocated).order_by(AuditEntry.id.desc()).first()
    assert last.detail == {"action": "allocated", "worker": "sw.omar", "team": "Norwich locality"}


def test_the_lado_sees_the_cases_sent_to_the_lado_after_their_own_tasks(app, users, clock):
    scenario = next(s for s in SCENARIOS if s.name == "lado")
    [case] = app.service.record_contact(contact_payload(scenario, clock.now().date(), 7), "contact.officer")
    assert case.id not in visible("lado.sam")
    closed = drive_case(app.service, clock, case.id, scenario, users)
    assert closed.cads_decision == "lado" and not Task.select().where(Task.case == case.id).exists()
    assert case.id in visible("lado.sam") and case.id not in visible("tm.claire")


def test_a_pages_worth_of_cases_is_checked_in_groups_as_the_list_rule_checks_them(app, cases, clock):
    front, allocated = cases
    others = [c.id for c in Case.select(Case.id)]
    # ids that are no case (sorting first: the real ones fall in the second group of 64) and repeated ones
    asked = others + [front, allocated, allocated] + list(range(-100, 0))
    for username in ("contact.officer", "sw.priya", "sw.bella", "cads.sw", "admin", "mash.police"):
        assert visible_among(viewer(username), asked) == visible(username), username
        assert visible_among(viewer(username), [allocated]) == visible(username) & {allocated}
    assert visible_among(viewer("sw.priya"), []) == set()
    restrict_case(allocated, "tm.claire", "Child related to a member of staff", ["sw.omar"], clock.now())
    assert visible_among(viewer("sw.priya"), asked) == set()  # a statement built before still reads today's rows
    assert visible_among(viewer("sw.omar"), asked) == {allocated}


def test_a_viewers_task_list_is_what_the_task_rule_lets_them_see(app, cases, clock):
    _front, allocated = cases
    restrict_case(allocated, "tm.claire", "Child related to a member of staff", ["sw.omar"], clock.now())
    for username in ("cads.sw", "sw.priya", "sw.omar", "sw.bella", "tm.claire", "contact.officer"):
        who = viewer(username)
        expected = {t.id for t in Task.select(Task.id).join(Case).where(task_condition(who))
                    .where((Task.assignee == who.user_id)
                           | (Task.assignee.is_null() & Task.role.in_(sorted(who.roles))))}
        for limit in (None, 1, 200):
            listed = [t.id for t in list_tasks(username=username, viewer=who, limit=limit)]
            assert len(listed) == len(set(listed)) and set(listed) <= expected, (username, limit)
            assert len(listed) == (len(expected) if limit is None else min(limit, len(expected))), (username, limit)
        assert {t.id for t in list_tasks(username=username, limit=None)} >= expected  # no viewer: no access rule


def test_a_queues_tasks_hold_what_peewee_reads_for_them(app, cases):
    """The queue builds its rows itself (store/cases.py _queue_tasks): the same values, converted
    the same way, as peewee's own query of the task with its case, child and assignee."""
    from peewee import JOIN

    from store.queues import _QUEUE_COLUMNS
    from store.models import Person
    seen_assigned = False
    for username in ("cads.sw", "sw.priya"):
        for task in list_tasks(username=username, viewer=viewer(username), limit=None):
            read = (Task.select(Task, Case, Person, User).join(Case).join(Person).switch(Task)
                    .join(User, JOIN.LEFT_OUTER, on=(Task.assignee == User.id)).where(Task.id == task.id).get())
            built = {Task: task, Case: task.case, Person: task.case.child, User: task.assignee}
            expected = {Task: read, Case: read.case, Person: read.case.child, User: read.assignee}
            for model, fields in _QUEUE_COLUMNS:
                if expected[model] is None:
                    assert built[model] is None
                    continue
                names = [f.name for f in fields]  # a foreign key's value is the id read
                assert {n: built[model].__data__[n] for n in names} == {n: expected[model].__data__[n] for n in names}
                assert not built[model].is_dirty()
            assert ((task.case.reference, task.case.child.display_name)
                    == (read.case.reference, read.case.child.display_name))
            assert type(task.due) is type(read.due) and type(task.created_at) is type(read.created_at)
            seen_assigned |= task.assignee is not None
    assert seen_assigned  # both kinds of row were compared


def test_a_cases_open_tasks_are_given_to_those_who_may_see_it_in_one_statement(app, cases, clock):
    """The API's answer to a completion (store/views.py open_tasks_if_visible): the case's open
    tasks for a viewer the case rule lets see it, none for anyone else, also after a change of rule."""
    from store.views import open_tasks, open_tasks_if_visible
    front, allocated = cases
    names = ("contact.officer", "cads.sw", "sw.priya", "sw.omar", "sw.bella", "tm.claire", "admin", "mash.police")

    def check():
        for username in names:
            for case_id in (front, allocated):
                shown = open_tasks_if_visible(viewer(username), case_id)
                assert shown == (open_tasks(case_id) if can_see_case(viewer(username), case_id) else []), username
    check()
    assert open_tasks_if_visible(viewer("sw.priya"), allocated) and not open_tasks_if_visible(viewer("sw.bella"), allocated)
    restrict_case(allocated, "tm.claire", "Child related to a member of staff", ["sw.omar"], clock.now())
    check()
    assert not open_tasks_if_visible(viewer("sw.priya"), allocated) and open_tasks_if_visible(viewer("sw.omar"), allocated)


def test_a_task_and_whether_its_viewer_may_open_it_come_in_one_statement(app, users, cases, clock):
    """The route guard's read (store/access.py open_task_for) answers as can_open_task does, for
    every viewer and open task, also once the case is restricted; an unknown task is None."""
    from store.access import open_task_for
    front, allocated = cases
    mash = Scenario("mash", {**_defaults(), "cads_decision": [{"decision": "mash_checks", "mash_agencies": ["police"]}]},
                    stop_before="mash_check")
    [checked] = app.service.record_contact(contact_payload(mash, clock.now().date(), 2), "contact.officer")
    drive_case(app.service, clock, checked.id, mash, users)
    names = ("contact.officer", "cads.sw", "cads.manager", "sw.priya", "sw.omar", "sw.bella", "tm.claire", "admin",
             "mash.police", "chair.helen")

    def check() -> int:
        opened = 0
        for task in Task.select().where(Task.case.in_([front, allocated, checked.id])):
            for username in names:
                found, may_open = open_task_for(viewer(username), task.id)
                assert found == task and may_open == can_open_task(viewer(username), task), (username, task.bpmn_id)
                opened += may_open
        return opened
    assert Task.select().where(Task.case == checked.id, Task.bpmn_id == "mash_check").exists()
    assert check() > 0
    restrict_case(allocated, "tm.claire", "Child related to a member of staff", ["sw.omar"], clock.now())
    restrict_case(checked.id, "cads.manager", "Child related to a member of staff", ["cads.sw"], clock.now())
    check()
    assert open_task_for(viewer("sw.priya"), "no-such-task") == (None, False)
