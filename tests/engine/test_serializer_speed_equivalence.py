"""The engine's CaseSerializer (engine.fastserial's codec, orjson) saves and restores exactly what
SpiffCaseSerializer (SpiffWorkflow's own converters, the standard json module) does, on every
saved state of every lifecycle path, in both directions, and on data the codec leaves to the
registry or the standard encoder."""
from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone
from uuid import UUID

import pytest
from SpiffWorkflow.util.task import TaskState

from engine.fastserial import decode_json
from engine.serializer import CaseSerializer, SpiffCaseSerializer
from store.demo import LIVE_SCENARIOS, SCENARIOS
from store.dryrun import drive


@pytest.fixture
def pair(diagrams, monkeypatch):
    """(reference, fast) serializers; the fast one may not hand any call to the reference code."""
    handed = []
    for name in ("loads", "dumps"):
        original = getattr(SpiffCaseSerializer, name)

        def wrapper(self, arg, _original=original, _name=name):
            if type(self) is CaseSerializer:
                handed.append(_name)
            return _original(self, arg)
        monkeypatch.setattr(SpiffCaseSerializer, name, wrapper)
    yield SpiffCaseSerializer(diagrams), CaseSerializer(diagrams)
    assert handed == [], "the fast serializer fell back to SpiffWorkflow's converters"


def _containers(value, path, seen, out):
    """Which containers are shared: each dict/list/set by the path where it was first seen."""
    if isinstance(value, (dict, list, set)):
        out.append((path, seen.setdefault(id(value), path)))
        items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
        for key, item in items:
            _containers(item, f"{path}/{key!r}", seen, out)


def snapshot(workflow) -> dict:
    """What a restored workflow is, beyond its saved form: objects, links, order, types, sharing."""
    seen: dict[int, str] = {}
    found = {"type": type(workflow), "spec": workflow.spec.name, "trail": getattr(workflow, "sgw_trail", None),
             "bpmn_events": [(type(e), e.event_definition.name, e.payload, e.correlations) for e in workflow.bpmn_events],
             "waiting": [(key, task.id, task.workflow.parent_task_id) for key, task in workflow.event_manager.tasks.items()],
             "subprocesses": list(workflow.subprocesses)}
    for key, sub in [(None, workflow), *workflow.subprocesses.items()]:
        assert sub.task_tree is sub.tasks[sub.task_tree.id]
        assert sub.last_task is None or sub.last_task is sub.tasks[sub.last_task.id]
        sharing: list = []
        _containers(sub.data, f"{key}/data", seen, sharing)
        _containers(sub.correlations, f"{key}/correlations", seen, sharing)
        tasks = []
        for task_id, task in sub.tasks.items():
            assert task.workflow is sub and task.id == task_id and type(task_id) is UUID
            assert all(type(child) is UUID for child in task._children)
            _containers(task.data, f"{task_id}/data", seen, sharing)
            _containers(task.internal_data, f"{task_id}/internal", seen, sharing)
            tasks.append((task_id, type(task), type(task.task_spec), task.task_spec.name, task.state, task._parent,
                          task._children, task.last_state_change, task.triggered, task.thread_id,
                          task.data, task.internal_data, sorted(vars(task))))
        subscribers = [(callback.__name__, [getattr(arg, "id", arg) for arg in args])
                       for callback, args, _ in sub.completed_event.hard_subscribers or []]
        found[key] = {"type": type(sub), "spec": sub.spec.name, "tasks": tasks, "root": sub.task_tree.id,
                      "last_task": sub.last_task.id if sub.last_task else None, "success": sub.success,
                      "completed": sub.completed, "data": sub.data, "correlations": sub.correlations,
                      "depth": sub.depth, "parent_task_id": sub.parent_task_id, "sharing": sharing,
                      "subscribers": subscribers}
    return found


def check_equivalent(plain: SpiffCaseSerializer, fast: CaseSerializer, state: str) -> None:
    reference = plain.loads(state)
    restored = fast.loads(state)
    assert snapshot(restored) == snapshot(reference)
    saved, fast_saved = plain.dumps(reference), fast.dumps(restored)
    assert json.loads(fast_saved) == json.loads(saved)
    assert plain.dumps(restored) == saved
    assert snapshot(plain.loads(fast_saved)) == snapshot(reference)
    assert snapshot(fast.loads(saved)) == snapshot(reference)
    dct = json.loads(state)  # the walk for values holding objects restores the same workflow
    trail = dct.pop("trail", None)
    for key in ("format", "diagram_version"):
        dct.pop(key)
    walked = fast._codec.from_dict(dct, as_decoded=False)
    if trail:
        walked.sgw_trail = trail
    assert snapshot(walked) == snapshot(reference)


@pytest.mark.parametrize("scenario", SCENARIOS + LIVE_SCENARIOS, ids=[s.name for s in SCENARIOS + LIVE_SCENARIOS])
def test_every_saved_state_restores_and_saves_the_same(engine, diagrams, calendar, scenario, pair):
    plain, fast = pair
    checked = []
    drive(engine, diagrams, calendar, scenario,
          after_step=lambda d, state, now: checked.append(check_equivalent(plain, fast, state)))
    assert checked


def _running_workflow(engine, diagrams, calendar, plain):
    """A workflow of a case in progress (a waiting timer, subprocesses, a data tree)."""
    states = []
    drive(engine, diagrams, calendar, SCENARIOS[-1], after_step=lambda d, state, now: states.append(state))
    return plain.loads(states[len(states) // 2])


ODD_DATA = [
    {"when": datetime(2026, 1, 2, 3, 4, tzinfo=timezone.utc), "gap": timedelta(days=3)},
    {"ref": UUID(int=7)},
    {"score": math.nan},
    {"score": [1.0, math.inf]},
    {"big": 2 ** 70},
    {"tags": {"a"}},
    {"pair": (1, "x")},
    {"by_year": {2020: "a"}},
    {"name": "Zoë \u2028 \x7f"},
    {"typename": "not an object"},
    {"nested": {"typename": "datetime", "value": "2026-01-02T03:04:00"}},
    {"helper": len, "module": math},
]


def _outcome(action):
    """What ``action`` gives, comparably: its value's repr (NaN never equals itself) or its error."""
    try:
        return "ok", repr(action())
    except Exception as exc:  # noqa: BLE001 - the error is the outcome compared
        return "error", type(exc), str(exc)


@pytest.mark.parametrize("extra", ODD_DATA, ids=[next(iter(d)) for d in ODD_DATA])
def test_data_holding_objects_saves_and_restores_the_same(engine, diagrams, calendar, extra):
    plain, fast = SpiffCaseSerializer(diagrams), CaseSerializer(diagrams)
    workflow = _running_workflow(engine, diagrams, calendar, plain)
    ready = workflow.get_tasks(state=TaskState.READY)[0]
    for values in (ready.data, workflow.task_tree.data, workflow.data, ready.internal_data):
        values.update(extra)
    saved = plain.dumps(workflow)
    fast_saved = fast.dumps(workflow)
    assert _outcome(lambda: json.loads(fast_saved)) == _outcome(lambda: json.loads(saved))
    if "score" not in extra:  # NaN never equals itself (compared by repr above)
        assert json.loads(fast_saved) == json.loads(saved)
    expected = _outcome(lambda: snapshot(plain.loads(saved)))
    assert _outcome(lambda: snapshot(fast.loads(saved))) == expected
    assert _outcome(lambda: snapshot(plain.loads(fast_saved))) == expected
    assert _outcome(lambda: snapshot(fast.loads(fast_saved))) == expected


@pytest.mark.parametrize("text", ["not json", "[]", "NaN", '{"format": "sgw-0"}', '{"format": "sgw-1", "diagram_version": "x"}',
                                  '{"format": "sgw-1", "diagram_version": "@", "x": 1}',
                                  '{"format": "sgw-1", "diagram_version": "@", "typename": "BpmnWorkflow", "tasks": {}}'])
def test_states_of_other_shapes_give_the_same(diagrams, text):
    text = text.replace("@", diagrams.version)
    outcomes = [_outcome(lambda: serializer.loads(text))
                for serializer in (SpiffCaseSerializer(diagrams), CaseSerializer(diagrams))]
    assert outcomes[0] == outcomes[1]


@pytest.mark.parametrize("text", ['{"n": 123456789012345678901}', '{"n": -9223372036854775809}', '{"n": 18446744073709551615}',
                                  '[1e400, -1e400]', '[NaN, Infinity]', '"\\ud800"', '{"a": 1, "a": 2}', '[0.1, -0.0, 5e-324]',
                                  '{"é": "\\u00e9\\u2028"}', "[1,]", ""])
def test_json_is_decoded_as_the_json_module_does(text):
    assert _outcome(lambda: decode_json(text)) == _outcome(lambda: json.loads(text))


def test_every_archive_of_pruned_history_is_the_same(engine, diagrams, calendar, monkeypatch):
    """What each step prunes (finished subprocesses and loop turns) archives as SpiffWorkflow's converters write it."""
    reference, compared, handed = SpiffCaseSerializer(diagrams), [], []
    fast_archive, plain_archive = CaseSerializer.dumps_archive, SpiffCaseSerializer.dumps_archive

    def both(self, pruned):
        text = fast_archive(self, pruned)
        compared.append(json.loads(text) == json.loads(reference.dumps_archive(pruned)))
        return text

    def fell_back(self, pruned):
        handed.append(type(self).__name__ == "CaseSerializer")
        return plain_archive(self, pruned)
    monkeypatch.setattr(CaseSerializer, "dumps_archive", both)
    monkeypatch.setattr(SpiffCaseSerializer, "dumps_archive", fell_back)
    for scenario in SCENARIOS:
        drive(engine, diagrams, calendar, scenario)
    assert len(compared) > 20 and all(compared)
    assert not any(handed), "the fast archive fell back to SpiffWorkflow's converters"
