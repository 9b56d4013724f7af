"""Diagram versions on SQLite and PostgreSQL: checked publishing, immutability, migration, rollback."""
from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from engine import CaseConflict, NotPermitted, version_of
from store.demo import SCENARIOS, build_form, contact_payload, drive_case
from store.models import Case, CaseMigration, CaseState, ChronologyEntry, DiagramVersion, Task
from store.versions import (MovedCase, PublishRefused, check_version, download, list_versions, migrate_all,
                            migration_plan, moved_to, open_cases, publish, retire, rollback_case, save_draft)
from tests.engine.migration_helpers import with_home_visit

REFERRAL = date(2026, 12, 14)


@pytest.fixture
def owner(users):
    return users["process_owner"]


@pytest.fixture
def shipped(app):
    """The shipped set, published as the first version (as on a new install)."""
    return app.service.current_diagrams()


def later(app, hours=1):
    app.clock.set(app.clock.now() + timedelta(hours=hours))


def new_case(app, users, name="nfa"):
    scenario = next(s for s in SCENARIOS if s.name == name)
    [case] = app.service.record_contact(contact_payload(scenario, REFERRAL), users["contact_officer"])
    return case


def do(app, users, case, bpmn_id, **overrides):
    task = Task.get((Task.case == case.id) & (Task.bpmn_id == bpmn_id))
    form = {"visited_on": app.clock.now().date().isoformat()} if bpmn_id == "home_visit" else \
        build_form(task.form_name, overrides, app.clock.now().date(), app.service.engine.calendar)
    return app.service.complete_task(task.id, users[task.role], form, token=task.token).case


def published_versions():
    return sorted(v.version for v in DiagramVersion.select().where(DiagramVersion.status == "published"))


def broken_sets(files):
    unknown_lane = dict(files, **{"assessment.bpmn": files["assessment.bpmn"].replace(
        'name="social_worker"', 'name="wizard"')})
    imports_os = dict(files, **{"assessment.bpmn": files["assessment.bpmn"].replace(
        'value="add_working_days(referral_date, 45)"', "value=\"__import__('os').system('id')\"")})
    cycle = dict(files, **{"assessment.bpmn": files["assessment.bpmn"].replace(
        "  </bpmn:process>", '    <bpmn:sequenceFlow id="back" sourceRef="assessment" targetRef="assessment" />\n'
        "  </bpmn:process>")})
    schema = json.loads(files["forms/assessment.json"])
    schema["required"] = schema.get("required", []) + ["impossible"]
    schema["properties"]["impossible"] = {"type": "string", "maxLength": 0, "minLength": 1}
    never_finishes = dict(files, **{"forms/assessment.json": json.dumps(schema)})
    return {"unknown lane": (unknown_lane, "wizard"), "imports os": (imports_os, "refused"),
            "gateway cycle": (cycle, "cycle"), "path no longer finishes": (never_finishes, "assessment_cin_plan")}


@pytest.mark.parametrize("kind", ["unknown lane", "imports os", "gateway cycle", "path no longer finishes"])
def test_publish_refuses_a_broken_set_and_stores_nothing(app, owner, shipped, diagram_files, kind):
    files, expected = broken_sets(diagram_files)[kind]
    before = published_versions()
    with pytest.raises(PublishRefused) as raised:
        publish(files, owner, service=app.service)
    problems = raised.value.problems
    assert problems and any(expected in f"{p.element} {p.reason}" for p in problems), problems
    assert all(p.file and p.element for p in problems)
    assert published_versions() == before
    assert DiagramVersion.get_or_none(DiagramVersion.version == version_of(files)) is None
    assert check_version(files, app.service) == problems


def test_unsafe_files_are_not_even_stored_as_drafts(app, owner, diagram_files):
    xxe = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>'
    for files in ({"a.bpmn": xxe}, {"../evil.bpmn": diagram_files["assessment.bpmn"]},
                  {"a.bpmn": "not xml"}, {"a.bpmn": "x" * (3 * 1024 * 1024)}):
        with pytest.raises(PublishRefused):
            save_draft(files, owner, service=app.service)
    assert DiagramVersion.select().count() == 0


def test_drafts_change_but_a_published_version_never_does(app, owner, shipped, diagram_files):
    draft = save_draft(with_home_visit(diagram_files), owner, note="Home visit before assessment", service=app.service)
    assert draft.status == "draft" and draft.label == "Home visit before assessment"
    edited = dict(with_home_visit(diagram_files), **{"forms/home_visit.json": json.dumps(
        {"title": "Home visit (edited)", "type": "object", "required": ["visited_on"],
         "properties": {"visited_on": {"type": "string", "format": "date"}}})})
    later(app)
    second = save_draft(edited, owner, note="edited", replaces=draft.version, service=app.service)
    assert DiagramVersion.get_or_none(DiagramVersion.version == draft.version) is None  # the draft was replaced
    later(app)
    published = publish(second.version, owner, service=app.service)
    assert published.status == "published" and published.published_by == owner and published.note == "edited"
    # saving over a published version makes a new draft; the published files stay as they were
    later(app)
    third = save_draft(with_home_visit(diagram_files), owner, replaces=published.version, service=app.service)
    assert third.version != published.version and third.status == "draft"
    row = DiagramVersion.get_by_id(published.version)
    assert row.status == "published" and download(row) == edited and version_of(row.files) == row.version
    assert [v.version for v in list_versions()][:2] == [third.version, published.version]


def test_new_cases_start_on_the_newest_published_version(app, users, owner, shipped, diagram_files):
    old_case = new_case(app, users)
    assert old_case.diagram_version_id == shipped.version
    later(app)
    new = publish(with_home_visit(diagram_files), owner, service=app.service)
    assert app.service.current_diagrams().version == new.version
    young_case = new_case(app, users, "assessment_cin_plan")
    assert young_case.diagram_version_id == new.version
    assert Case.get_by_id(old_case.id).diagram_version_id == shipped.version
    assert open_cases(shipped.version) == 1 and open_cases(new) == 1
    young_case = do(app, users, young_case, "cads_decision", decision="assessment")
    young_case = do(app, users, young_case, "feedback_to_referrer")
    assert [t.bpmn_id for t in Task.select().where(Task.case == young_case.id)] == ["home_visit"]
    later(app)
    retire(new, owner)
    assert app.service.current_diagrams().version == shipped.version
    with pytest.raises(CaseConflict):
        retire(shipped.version, owner)  # the only published version left


def test_a_waiting_case_migrates_and_reaches_the_new_task(app, users, owner, shipped, diagram_files):
    case = new_case(app, users, "assessment_cin_plan")
    start = app.clock.now()
    closed = drive_case(app.service, app.clock, new_case(app, users, "nfa").id, SCENARIOS[0], users)
    assert closed.status == "closed"  # closed cases are never moved
    app.clock.set(start)
    [decision] = Task.select().where(Task.case == case.id)
    later(app)
    new = publish(with_home_visit(diagram_files), owner, service=app.service)
    plan = migration_plan(new.version, service=app.service)
    assert [(c.case_id, c.movable, c.from_version) for c in plan] == [(case.id, True, shipped.version)]
    results = migrate_all(new.version, owner, service=app.service)
    assert [(r.case_id, r.migrated) for r in results] == [(case.id, True)]
    moved = Case.get_by_id(case.id)
    assert moved.diagram_version_id == new.version and moved.version == case.version + 1
    [task] = Task.select().where(Task.case == case.id)
    assert task.id == decision.id and task.due == decision.due  # the same task, same deadline
    entry = ChronologyEntry.get((ChronologyEntry.case == case.id) & (ChronologyEntry.kind == "migrated"))
    assert entry.actor == owner and entry.details["from"] == shipped.version and entry.details["to"] == new.version
    assert migration_plan(new.version, service=app.service) == []
    moved = do(app, users, moved, "cads_decision", decision="assessment")
    moved = do(app, users, moved, "feedback_to_referrer")
    assert [t.bpmn_id for t in Task.select().where(Task.case == case.id)] == ["home_visit"]
    moved = do(app, users, moved, "home_visit")
    assert [t.bpmn_id for t in Task.select().where(Task.case == case.id)] == ["assessment"]


def test_a_case_whose_active_task_was_removed_is_not_movable(app, users, owner, shipped, diagram_files):
    later(app)
    new = publish(with_home_visit(diagram_files), owner, service=app.service)
    case = new_case(app, users, "assessment_cin_plan")
    case = do(app, users, case, "cads_decision", decision="assessment")
    case = do(app, users, case, "feedback_to_referrer")
    state = CaseState.get_by_id(case.id).state
    # moving back to the shipped version would lose the task it waits at
    [check] = migration_plan(shipped.version, service=app.service)
    assert check.case_id == case.id and not check.movable
    assert "home_visit" in check.reason and "removed" in check.reason
    [result] = migrate_all(shipped.version, owner, service=app.service)
    assert not result.migrated and "home_visit" in result.reason
    assert Case.get_by_id(case.id).diagram_version_id == new.version
    assert CaseState.get_by_id(case.id).state == state


def test_rollback_restores_the_old_version_and_state(app, users, owner, shipped, diagram_files):
    case = new_case(app, users, "assessment_cin_plan")
    state = CaseState.get_by_id(case.id).state
    tasks = sorted(t.id for t in Task.select().where(Task.case == case.id))
    later(app)
    new = publish(with_home_visit(diagram_files), owner, service=app.service)
    migrate_all(new.version, owner, service=app.service)
    assert CaseMigration.select().where(CaseMigration.case == case.id).count() == 1
    back = rollback_case(case.id, owner, service=app.service)
    assert back.diagram_version_id == shipped.version
    assert CaseState.get_by_id(case.id).state == state
    assert sorted(t.id for t in Task.select().where(Task.case == case.id)) == tasks
    kinds = [e.kind for e in ChronologyEntry.select().where(ChronologyEntry.case == case.id)]
    assert kinds[-2:] == ["migrated", "migration_rolled_back"]
    with pytest.raises(CaseConflict):  # nothing left to roll back
        rollback_case(case.id, owner, service=app.service)
    # once a case moves on after a migration, rolling it back would lose work: refused
    migrate_all(new.version, owner, service=app.service)
    do(app, users, Case.get_by_id(case.id), "cads_decision", decision="assessment")
    with pytest.raises(CaseConflict):
        rollback_case(case.id, owner, service=app.service)
    assert Case.get_by_id(case.id).diagram_version_id == new.version


def test_the_cases_moved_to_a_version_are_listed_with_whether_they_can_move_back(app, users, owner, shipped,
                                                                                  diagram_files):
    """The migration page lists these after 'Migrate all' (answered with a redirect, then read here)."""
    first, second = new_case(app, users, "assessment_cin_plan"), new_case(app, users, "assessment_cin_plan")
    later(app)
    new = publish(with_home_visit(diagram_files), owner, service=app.service)
    assert moved_to(new.version) == []
    migrate_all(new.version, owner, service=app.service)
    assert {m.case_id: m for m in moved_to(new.version)} == {
        c.id: MovedCase(c.id, c.reference, shipped.version, owner, True) for c in (first, second)}
    do(app, users, Case.get_by_id(first.id), "cads_decision", decision="assessment")  # moved on since
    rollback_case(second.id, owner, service=app.service)  # moved back
    assert moved_to(new.version) == [MovedCase(first.id, first.reference, shipped.version, owner, False)]
    assert moved_to(shipped.version) == []  # a rollback is not a migration to the old version


@pytest.mark.parametrize("role", ["social_worker", "team_manager", "admin", "cads_manager"])
def test_only_a_process_owner_may_change_versions(app, users, shipped, diagram_files, role):
    someone = users[role]
    case = new_case(app, users)
    files = with_home_visit(diagram_files)
    for action in (lambda: publish(files, someone, service=app.service),
                   lambda: save_draft(files, someone, service=app.service),
                   lambda: retire(shipped.version, someone),
                   lambda: migrate_all(shipped.version, someone, service=app.service),
                   lambda: rollback_case(case.id, someone, service=app.service)):
        with pytest.raises(NotPermitted):
            action()
    assert published_versions() == [shipped.version]


def test_an_older_database_gains_the_new_version_columns(tmp_path):
    import sqlite3

    from store import database
    from store.db import connect
    from store.migrations import create_schema
    path = tmp_path / "old.db"
    raw = sqlite3.connect(path)
    raw.execute("CREATE TABLE diagram_version (version VARCHAR(32) PRIMARY KEY, files TEXT NOT NULL, "
                "created_at DATETIME NOT NULL, created_by VARCHAR(255), status VARCHAR(20) NOT NULL)")
    raw.execute("INSERT INTO diagram_version VALUES ('abc', '{}', '2026-01-01 00:00:00', NULL, 'published')")
    raw.commit()
    raw.close()
    db = connect(f"sqlite:///{path}")
    db.connect()
    try:
        create_schema()
        columns = {c.name for c in database.get_columns("diagram_version")}
        assert {"note", "published_at", "published_by"} <= columns
        row = DiagramVersion.get_by_id("abc")  # published before publishing was recorded (migration 2)
        assert row.published_at == row.created_at and row.published_by is None
    finally:
        db.close()
