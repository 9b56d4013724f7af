"""No lost or double work: N simultaneous completions of one task, in the store and over HTTP.

Exactly one completion wins; every other one is a conflict (409) that changed nothing; the case
moves once, with one chronology entry and one audit entry for the change. Both databases.
"""
from __future__ import annotations

import threading
from datetime import date

import pytest

from engine import CaseConflict, TaskChanged
from store.audit import AuditEntry, verify_chain
from store.demo import SCENARIOS, build_form, contact_payload
from store.models import Case, CaseState, ChronologyEntry, Task

REFERRAL = date(2026, 12, 14)
THREADS = [2, 5, 10, 20]


def start_case(app, users) -> Case:
    scenario = next(s for s in SCENARIOS if s.name == "nfa")
    [case] = app.service.record_contact(contact_payload(scenario, REFERRAL), users["contact_officer"])
    return case


def cads_decision(app, case) -> tuple[Task, dict]:
    task = Task.get((Task.case == case.id) & (Task.bpmn_id == "cads_decision"))
    form = build_form(task.form_name, {"decision": "assessment"}, app.clock.now().date(), app.service.engine.calendar)
    return task, form


def case_changes(case_id: int) -> list[AuditEntry]:
    return list(AuditEntry.select().where(AuditEntry.record_type == "case", AuditEntry.record_id == str(case_id),
                                          AuditEntry.action == "change").order_by(AuditEntry.id))


def run_together(count: int, attempt) -> list[str]:
    """Run ``attempt()`` in ``count`` threads released at once; returns each one's result."""
    results: list[str] = []
    barrier = threading.Barrier(count)

    def run():
        barrier.wait()
        results.append(attempt())

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert len(results) == count, "a thread did not finish"
    return results


def assert_moved_once(case: Case, task: Task) -> None:
    """The case took the step exactly once: version, projection, chronology and audit agree."""
    after = Case.get_by_id(case.id)
    assert after.version == case.version + 1 and after.cads_decision == "assessment"
    assert Task.get_or_none(Task.id == task.id) is None
    assert {t.bpmn_id for t in Task.select().where(Task.case == case.id)} == {"feedback_to_referrer", "assessment"}
    completions = ChronologyEntry.select().where(ChronologyEntry.case == case.id,
                                                 ChronologyEntry.kind == "task_completed")
    assert [c.task_id for c in completions] == [task.id]
    opened = ChronologyEntry.select().where(ChronologyEntry.case == case.id, ChronologyEntry.kind == "task_opened",
                                            ChronologyEntry.element == "assessment").count()
    assert opened == 1
    changes = case_changes(case.id)
    assert [c.detail["version"] for c in changes] == [case.version, case.version + 1]
    assert [c.detail.get("task", {}).get("id") for c in changes] == [None, task.id]
    assert verify_chain()[1] == []


@pytest.mark.parametrize("threads", THREADS)
def test_concurrent_completions_of_one_task_exactly_one_wins(app, users, threads):
    case = start_case(app, users)
    task, form = cads_decision(app, case)

    def attempt() -> str:
        try:
            app.service.complete_task(task.id, users["cads_social_worker"], form, token=task.token)
            return "ok"
        except (CaseConflict, TaskChanged) as exc:
            return "conflict" if "already completed" in str(exc) else f"other conflict: {exc}"
        finally:
            app.db.close()  # each thread's own connection

    results = run_together(threads, attempt)
    assert results.count("ok") == 1 and results.count("conflict") == threads - 1, results
    assert_moved_once(case, task)


def test_a_stale_form_is_refused_and_changes_nothing(app, users):
    """A form offered before another step changed the task (its token) is refused whole."""
    case = start_case(app, users)
    task, form = cads_decision(app, case)
    from store.tasks import claim_task, release_task
    claim_task(task.id, users["cads_social_worker"])  # claiming does not move the workflow: token unchanged
    release_task(task.id, users["cads_social_worker"])
    before = (Case.get_by_id(case.id).version, CaseState.get_by_id(case.id).state,
              ChronologyEntry.select().where(ChronologyEntry.case == case.id).count(), len(case_changes(case.id)))
    with pytest.raises(TaskChanged, match="changed since it was offered"):
        app.service.complete_task(task.id, users["cads_social_worker"], form, token=task.token[:13] + "1")
    after = (Case.get_by_id(case.id).version, CaseState.get_by_id(case.id).state,
             ChronologyEntry.select().where(ChronologyEntry.case == case.id).count(), len(case_changes(case.id)))
    assert after == before and Task.get_by_id(task.id).token == task.token
    app.service.complete_task(task.id, users["cads_social_worker"], form, token=task.token)  # the fresh one works
    with pytest.raises(CaseConflict, match="already completed"):  # and the page it came from is now stale
        app.service.complete_task(task.id, users["cads_social_worker"], form, token=task.token)
    assert_moved_once(case, task)


# -- over HTTP: the same race through the JSON API, each request on its own connection ---------------
@pytest.mark.parametrize("threads", THREADS)
def test_concurrent_api_completions_give_one_200_and_the_rest_409(db_web_app, threads):
    from store.tokens import issue_token
    context = db_web_app.extensions["safeguarding"]
    users = db_web_app.config["USERS_BY_ROLE"]
    context.db.connect(reuse_if_open=True)
    case = start_case(context, users)
    task, form = cads_decision(context, case)
    token = issue_token(users["cads_social_worker"], context.clock.now())
    context.db.close()

    def attempt() -> str:
        response = db_web_app.test_client().post(f"/api/tasks/{task.id}/complete",
                                                 json={"data": form, "token": task.token},
                                                 headers={"Authorization": f"Bearer {token}"})
        body = response.get_json()
        assert "Traceback" not in response.get_data(as_text=True)
        return str(response.status_code) if response.status_code != 409 else f"409 {body['detail']}"

    results = run_together(threads, attempt)
    assert results.count("200") == 1, results
    assert all(r.startswith("409 ") and ("already completed" in r or "no longer open" in r)
               for r in results if r != "200"), results
    context.db.connect(reuse_if_open=True)
    assert_moved_once(case, task)


@pytest.mark.parametrize("threads", [5])
def test_concurrent_claims_give_the_task_to_one_person(app, users, threads):
    from store.tasks import claim_task
    from store.users import add_user
    case = start_case(app, users)
    task, _form = cads_decision(app, case)
    names = [f"cads.{index}" for index in range(threads)]
    for name in names:
        add_user(name, f"CADS worker {name}", ["cads_social_worker"], app.clock.now())
    queue = list(names)

    def attempt() -> str:
        name = queue.pop()
        try:
            claim_task(task.id, name)
            return f"ok {name}"
        except CaseConflict as exc:
            return "conflict" if "already been claimed" in str(exc) else str(exc)
        finally:
            app.db.close()

    results = run_together(threads, attempt)
    [winner] = [r.split()[1] for r in results if r.startswith("ok ")]
    assert results.count("conflict") == threads - 1, results
    assert Task.get_by_id(task.id).assignee.username == winner
    claims = AuditEntry.select().where(AuditEntry.record_type == "task", AuditEntry.record_id == task.id,
                                       AuditEntry.action == "change")
    assert [(c.actor, c.detail["action"]) for c in claims] == [(winner, "claimed")]


def test_a_completion_racing_the_timer_worker_loses_nothing(app, users):
    """At the deadline a worker fires the CADS timer while a worker completes the decision, case after case:
    whichever goes first, the other sees its result; each case is consistent and both changes are kept."""
    from datetime import datetime, timezone
    from tests.store.test_crash import check_case
    from store.timerworker import fire_case
    cases = [start_case(app, users) for _ in range(6)]
    app.clock.set(datetime(2026, 12, 16, 8, tzinfo=timezone.utc))  # the decision is a day late
    tasks = [cads_decision(app, case) for case in cases]
    outcomes = [0, 0]
    app.db.close()
    for case, (task, form) in zip(cases, tasks):
        def attempt(kind=iter(["complete", "timers"])) -> str:
            try:
                if next(kind) == "complete":
                    app.service.complete_task(task.id, users["cads_social_worker"], form, token=task.token)
                    return "completed"
                return "fired" if fire_case(app.service, case.id, app.clock.now()) else "not due"
            finally:
                app.db.close()
        results = run_together(2, attempt)
        assert "completed" in results, results
        after = Case.get_by_id(case.id)
        assert after.cads_decision == "assessment" and after.version == case.version + 1 + results.count("fired")
        missed = ChronologyEntry.select().where(ChronologyEntry.case == case.id,
                                                ChronologyEntry.kind == "deadline_missed").count()
        assert missed == results.count("fired")
        check_case(app, after)
        outcomes[results.count("fired")] += 1
    assert verify_chain()[1] == []
    print("timer fired before the completion:", outcomes[1], "after it (nothing due any more):", outcomes[0])
