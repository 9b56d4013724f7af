"""Hypothesis state machine over the store and the real engine: random contacts, completions
(valid forms from the demo's examples with every scenario's choices, and invalid ones), repeated
completions, time passing with timers firing, and restarts (a fresh service, a fresh parse of the
diagrams, the database reopened), checking after every step that

* no task is ever completed twice, and a refused step changes nothing;
* every READY task has a role, and the task projection equals the engine's READY tasks;
* a stored state restores and serializes back to the same state;
* deadlines (statutory dates and task due dates) never move backwards; case versions only grow.
"""
from __future__ import annotations

import json
import time as wallclock
from datetime import datetime, time, timedelta, timezone

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from engine import DEADLINES, CaseEngine, DiagramRegistry, EngineError, FixedClock, ValidationFailed
from store.demo import SCENARIOS, build_form, contact_payload

START = datetime(2026, 12, 14, 9, 0, tzinfo=timezone.utc)
DUE_FIELDS = tuple(d.due_column for d in DEADLINES)
# every scenario's choices for each task: the machine wanders down every path
OVERRIDES: dict[str, list[dict]] = {}
for _scenario in SCENARIOS:
    for _bpmn_id, _options in _scenario.choices.items():
        OVERRIDES.setdefault(_bpmn_id, []).extend(o for o in _options if o not in OVERRIDES.get(_bpmn_id, []))
NOT_A_FORM = st.one_of(st.none(), st.integers(), st.text(max_size=20), st.lists(st.integers(), max_size=3))
JUNK_FORM = st.dictionaries(st.text(max_size=12), st.one_of(st.none(), st.booleans(), st.integers(),
                                                             st.text(max_size=30)), max_size=5)
RUNS: dict[str, int] = {"examples": 0, "steps": 0, "completed": 0}


def case_machine(make_database, registry: DiagramRegistry, engine: CaseEngine):
    """A state machine class over fresh databases from ``make_database()`` -> (url, cleanup)."""
    from store import app_context
    from store.demo import ensure_demo_users
    from store.models import Case, CaseState, ChronologyEntry, Task

    class CaseMachine(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            RUNS["examples"] += 1
            self.url, self.cleanup = make_database()
            self.clock = FixedClock(START)
            self._open(registry, engine)
            self.users = ensure_demo_users(self.context.service, password=None)
            self.completed: dict[str, str] = {}  # task id -> who completed it
            self.seen_due: dict[tuple, object] = {}
            self.versions: dict[int, int] = {}
            self.restarts = 0

        def _open(self, with_registry, with_engine):
            self.context = app_context(self.url, self.clock)
            self.context.service.registry, self.context.service.engine = with_registry, with_engine

        def teardown(self):
            self.context.db.close()
            self.cleanup()

        @property
        def service(self):
            return self.context.service

        def _open_tasks(self) -> list:
            # in an order that does not depend on the tasks' random ids, so hypothesis can replay a run
            return sorted(Task.select(), key=lambda t: (t.case_id, t.created_at, t.bpmn_id, t.role))

        def _who(self, task) -> str:
            return task.assignee.username if task.assignee_id else self.users[task.role]

        def _snapshot(self, case_id: int):
            case = Case.get_by_id(case_id)
            return (case.version, CaseState.get_by_id(case_id).state,
                    sorted((t.id, t.token) for t in Task.select().where(Task.case == case_id)),
                    ChronologyEntry.select().where(ChronologyEntry.case == case_id).count())

        def _next_working_day(self):
            day = self.service.engine.calendar.add_working_days(self.clock.now().date(), 1)
            self.clock.set(datetime.combine(day, time(10, 0), tzinfo=timezone.utc))

        # -- rules -------------------------------------------------------------------------
        @precondition(lambda self: Case.select().count() < 3)  # few cases, so each goes far down its path
        @rule(child=st.integers(0, 23), danger=st.booleans())
        def record_contact(self, child, danger):
            RUNS["steps"] += 1
            payload = contact_payload(SCENARIOS[0], self.clock.now().date(), child)
            if danger:
                payload.update(immediate_danger=True, police_informed=True)
            self.service.record_contact(payload, self.users["contact_officer"])

        @precondition(lambda self: Task.select().exists())
        @rule(data=st.data())
        def complete_with_a_valid_form(self, data):
            self._complete_valid(data, data.draw(st.sampled_from(self._open_tasks())))

        @precondition(lambda self: Task.select().exists())
        @rule(data=st.data())
        def complete_the_oldest_task_with_a_valid_form(self, data):
            self._complete_valid(data, self._open_tasks()[0])

        def _complete_valid(self, data, task):
            RUNS["steps"] += 1
            overrides = data.draw(st.sampled_from(OVERRIDES.get(task.bpmn_id) or [{}]))
            self._next_working_day()
            prefill = {"agency": task.role.removeprefix("mash_")} if task.bpmn_id == "mash_check" else {}
            form = build_form(task.form_name, overrides, self.clock.now().date(), self.service.engine.calendar,
                              prefill)
            self._complete(task, form)

        @precondition(lambda self: Task.select().exists())
        @rule(data=st.data(), form=st.one_of(NOT_A_FORM, JUNK_FORM))
        def complete_with_an_invalid_form(self, data, form):
            RUNS["steps"] += 1
            task = data.draw(st.sampled_from(self._open_tasks()))
            if not isinstance(form, dict):
                before = self._snapshot(task.case_id)
                with pytest.raises(ValidationFailed):
                    self.service.complete_task(task.id, self._who(task), form, token=task.token)
                assert self._snapshot(task.case_id) == before
            else:  # junk is almost always refused; a form with nothing required may take it
                self._complete(task, form)

        def _complete(self, task, form):
            before = self._snapshot(task.case_id)
            try:
                self.service.complete_task(task.id, self._who(task), form, token=task.token)
            except EngineError:
                assert self._snapshot(task.case_id) == before  # a refusal changes nothing
                return
            assert task.id not in self.completed
            self.completed[task.id] = self._who(task)
            RUNS["completed"] += 1

        @precondition(lambda self: self.completed)
        @rule(data=st.data())
        def complete_a_completed_task_again(self, data):
            RUNS["steps"] += 1
            task_id = data.draw(st.sampled_from(list(self.completed)))  # in completion order
            with pytest.raises(EngineError):
                self.service.complete_task(task_id, self.completed[task_id], {}, token=None)

        @rule(days=st.integers(1, 45))
        def time_passes_and_timers_fire(self, days):
            RUNS["steps"] += 1
            self.clock.set(self.clock.now() + timedelta(days=days))
            self.service.fire_due_timers(self.clock.now())

        @precondition(lambda self: self.restarts < 2)
        @rule()
        def restart(self):
            """A new process: the database reopened, a fresh service, engine and parse of the diagrams."""
            RUNS["steps"] += 1
            self.restarts += 1
            self.context.db.close()
            self._open(DiagramRegistry(), CaseEngine(engine.calendar))

        # -- invariants --------------------------------------------------------------------
        @invariant()
        def projection_equals_the_engine_and_states_round_trip(self):
            now = self.clock.now()
            for case in Case.select():
                state = CaseState.get_by_id(case.id).state
                diagrams = self.service.diagrams_for(case.diagram_version_id)
                views = self.service.engine.tasks(diagrams, state, now)
                rows = list(Task.select().where(Task.case == case.id))
                assert {v.id for v in views} == {t.id for t in rows}
                assert all(v.role for v in views) and all(t.role for t in rows)
                serializer = self.service.engine.serializer(diagrams)
                assert json.loads(serializer.dumps(serializer.loads(state))) == json.loads(state)
                assert case.version >= self.versions.get(case.id, 0)
                self.versions[case.id] = case.version
                for key, due in [(k, getattr(case, k)) for k in DUE_FIELDS] + [(t.id, t.due) for t in rows]:
                    earlier = self.seen_due.get((case.id, key))
                    assert due is None or earlier is None or due >= earlier, (case.id, key, earlier, due)
                    if due is not None:
                        self.seen_due[(case.id, key)] = due

        @invariant()
        def no_task_is_completed_twice(self):
            from peewee import fn
            twice = (ChronologyEntry.select(ChronologyEntry.task_id)
                     .where(ChronologyEntry.kind == "task_completed", ChronologyEntry.task_id.is_null(False))
                     .group_by(ChronologyEntry.task_id).having(fn.COUNT(ChronologyEntry.id) > 1))
            assert not list(twice)

    return CaseMachine


@pytest.mark.parametrize("database,examples", [("sqlite", 20), ("postgres", 4)])
def test_random_lifecycles_keep_every_invariant(database, examples, tmp_path, registry, engine):
    from tests.conftest import _drop_schema, _postgres_database
    counter = iter(range(10_000))

    def make_database():
        if database == "sqlite":
            path = tmp_path / f"machine{next(counter)}.db"
            return f"sqlite:///{path}", lambda: None
        schema, url = _postgres_database()
        return url, lambda: _drop_schema(schema)

    machine = case_machine(make_database, registry, engine)
    RUNS.update(examples=0, steps=0, completed=0)
    started = wallclock.perf_counter()
    run_state_machine_as_test(machine, settings=settings(
        max_examples=examples, stateful_step_count=40, deadline=None, derandomize=True, database=None,
        suppress_health_check=list(HealthCheck)))
    print(f"stateful on {database}: {RUNS['examples']} examples, {RUNS['steps']} steps, "
          f"{RUNS['completed']} completions, "
          f"{wallclock.perf_counter() - started:.1f} s")
    assert RUNS["examples"] >= examples
