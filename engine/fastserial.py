"""The hot part of saving and restoring a case, without SpiffWorkflow's generic converter walk.

A task completion restores the case's workflow and saves it again; SpiffWorkflow's registry
gets there by dispatching every task, dictionary and list through ``registry.convert`` /
``registry.restore`` and their keyword-argument plumbing, and rebuilds each task's data with
``DeepMerge``. ``WorkflowCodec`` does the same conversions for the objects every state is made
of (the workflow, its subprocesses and tasks) directly, and does not walk plain JSON values
(they convert and restore to themselves). Anything else (objects in data, bpmn events, a shape
it was not written for) goes to the registry, so the dictionaries and workflows are exactly
those of the SpiffWorkflow 3.2.0 converters it mirrors (``serializer.default.workflow`` and
``engine.serializer``'s spec-less workflow converter): same keys in the same order, same task
tree, data, events and subprocesses.

The state's JSON is read and written by orjson where it reads and writes what the json module
would (``decode_json``, ``natively_encodable``), by the json module otherwise.
"""
from __future__ import annotations

import json
from copy import copy
from operator import itemgetter
from types import ModuleType
from typing import Any, Callable
from uuid import UUID

import orjson
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnSubWorkflowConverter, TaskConverter
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask
from SpiffWorkflow.bpmn.util.subworkflow import BpmnSubWorkflow
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from .diagrams import DiagramSet

_PLAIN = frozenset({str, int, float, bool, type(None)})  # convert and restore to themselves
_SHALLOW_COPIED = (dict, list, set)  # what DeepMerge.merge copies when it copies a parent's data


class UnexpectedShape(Exception):
    """A state this codec was not written for (the caller leaves it to SpiffWorkflow's converters)."""


class WorkflowCodec:
    """Workflow <-> dictionary for one registry and diagram set, equal to ``registry.convert`` /
    ``registry.restore`` with ``engine.serializer``'s spec-less workflow converter."""

    def __init__(self, registry, diagrams: DiagramSet) -> None:
        _require_converter(registry, Task, "Task", TaskConverter)
        _require_converter(registry, BpmnSubWorkflow, "BpmnSubWorkflow", BpmnSubWorkflowConverter)
        self.registry = registry
        self.diagrams = diagrams

    # -- saving -------------------------------------------------------------------------------

    def to_dict(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        """``registry.convert(workflow)``. Task ids are ``uuid.UUID`` (SpiffWorkflow makes them)."""
        if type(workflow) is not BpmnWorkflow:
            raise UnexpectedShape(type(workflow).__name__)
        texts = _UuidTexts()
        dct = self._common_to_dict(workflow, texts)
        dct["subprocesses"] = {texts[key.int]: self._subworkflow_to_dict(sp, texts)
                               for key, sp in workflow.subprocesses.items()}
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        dct["typename"] = "BpmnWorkflow"
        return dct

    def pruned_to_dict(self, subprocesses: list, tasks: list) -> tuple[dict[str, Any], dict[str, Any]]:
        """``registry.convert`` of each pruned subprocess (by its parent task's id) and each pruned
        task (by its id): the parts of the cold archive (``engine.history.Pruned``)."""
        texts = _UuidTexts()
        return ({texts[sp.parent_task_id.int]: self._subworkflow_to_dict(sp, texts) for sp in subprocesses},
                {texts[task.id.int]: self._task_to_dict(task, texts) for task in tasks})

    def _subworkflow_to_dict(self, subprocess, texts: _UuidTexts) -> dict[str, Any]:
        """BpmnSubWorkflowConverter.to_dict, with its typename."""
        if type(subprocess) is not BpmnSubWorkflow:
            return self.registry.convert(subprocess)
        dct = self._common_to_dict(subprocess, texts)
        dct["parent_task_id"] = texts[subprocess.parent_task_id.int]
        dct["spec"] = subprocess.spec.name
        dct["typename"] = "BpmnSubWorkflow"
        return dct

    def _common_to_dict(self, workflow, texts: _UuidTexts) -> dict[str, Any]:
        """WorkflowConverter.to_dict."""
        last_task = workflow.last_task
        return {
            "data": self.convert(workflow.data),
            "correlations": workflow.correlations,
            "last_task": texts[last_task.id.int] if last_task is not None else None,
            "success": workflow.success,
            "completed": workflow.completed,
            "tasks": {texts[key.int]: self._task_to_dict(task, texts) for key, task in workflow.tasks.items()},
            "root": texts[workflow.task_tree.id.int],
        }

    def _task_to_dict(self, task, texts: _UuidTexts) -> dict[str, Any]:
        """TaskConverter.to_dict (data as a delta against the parent's), with its typename."""
        if type(task) is not Task:
            return self.registry.convert(task)
        parent = task.workflow.tasks.get(task._parent)
        if parent is None:
            data, delta = task.data, {}
        else:
            mine, theirs = task.data, parent.data
            data = {}
            delta = {"updates": {key: mine[key] for key in mine if key not in theirs or mine[key] != theirs[key]},
                     "deletions": [key for key in theirs if key not in mine]}
        return {
            "id": texts[task.id.int],
            "parent": texts[task._parent.int] if parent is not None else None,
            "children": [texts[child.int] for child in task._children],
            "last_state_change": task.last_state_change,
            "state": task.state,
            "task_spec": task.task_spec.name,
            "triggered": task.triggered,
            "internal_data": self.convert(task.internal_data),
            "data": data,
            "delta": delta,
            "typename": "Task",
        }

    def convert(self, value):
        """``registry.convert(value)``: plain dictionaries (cleaned of callables and modules, as
        the registry cleans them) and lists are walked here, other objects by the registry."""
        kind = type(value)
        if kind is dict:
            return {key: item if type(item) in _PLAIN else self.convert(item)
                    for key, item in value.items()
                    if type(item) in _PLAIN or not (callable(item) or isinstance(item, ModuleType))}
        if kind is list:
            return [item if type(item) in _PLAIN else self.convert(item) for item in value]
        if kind in _PLAIN:
            return value
        return self.registry.convert(value)

    # -- restoring ----------------------------------------------------------------------------

    def from_dict(self, dct: dict[str, Any], as_decoded: bool = False) -> BpmnWorkflow:
        """``registry.restore(dct)`` of a freshly decoded state (consumed: the workflow keeps its
        values). ``as_decoded``: no value holds a converted object (``holds_no_objects``), so each
        is kept as decoded instead of restored to an equal copy. Raises UnexpectedShape for a
        state of another shape."""
        if dct.get("typename") != "BpmnWorkflow":
            raise UnexpectedShape("not a workflow")
        call = _Restoring(_kept if as_decoded else self.restore)
        diagrams = self.diagrams
        workflow = BpmnWorkflow(diagrams.spec, diagrams.subprocess_specs, deserializing=True)
        self._fill(workflow, dct, call)
        self._subprocesses_from_dict(dct["subprocesses"], workflow, workflow, call)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow

    def _subprocesses_from_dict(self, dct: dict, workflow, top_workflow: BpmnWorkflow, call: _Restoring) -> None:
        """BpmnWorkflowConverter.subprocesses_from_dict: parents before the subprocesses they call."""
        for task in workflow.tasks.values():
            if isinstance(task.task_spec, SubWorkflowTask) and str(task.id) in dct:
                sp_dct = dct.pop(str(task.id))
                if type(sp_dct) is not dict or sp_dct.get("typename") != "BpmnSubWorkflow":
                    raise UnexpectedShape("not a subprocess")
                spec = top_workflow.subprocess_specs.get(task.task_spec.spec)
                subprocess = BpmnSubWorkflow(spec, task.id, top_workflow, deserializing=True)
                self._fill(subprocess, sp_dct, call)
                top_workflow.subprocesses[task.id] = subprocess
                subprocess.completed_event.connect(task.task_spec._on_subworkflow_completed, task)
                self._subprocesses_from_dict(dct, subprocess, top_workflow, call)

    def _fill(self, workflow, dct: dict, call: _Restoring) -> None:
        """The tasks and WorkflowConverter.set_default_attributes of a (sub)workflow."""
        uuid = call.uuid
        workflow.tasks = {uuid(key): self._task_from_dict(value, workflow, call) for key, value in dct["tasks"].items()}
        workflow.task_tree = workflow.tasks.get(uuid(dct["root"]))
        workflow.success = dct["success"]
        workflow.completed = dct.get("completed", False)
        workflow.correlations = dct.pop("correlations", {})
        if isinstance(dct["last_task"], str):
            workflow.last_task = workflow.tasks.get(uuid(dct["last_task"]))
        workflow.data = call.restore(dct.pop("data", {}))

    @staticmethod
    def _task_from_dict(dct: dict, workflow, call: _Restoring) -> Task:
        """TaskConverter.from_dict: the task's data is its parent's with the stored delta applied."""
        if type(dct) is not dict or dct.get("typename") != "Task":
            raise UnexpectedShape("not a task")
        uuid, restore = call.uuid, call.restore
        task_spec = workflow.spec.task_specs.get(dct["task_spec"])
        task = Task(workflow, task_spec, state=dct["state"], id=uuid(dct["id"]))
        task._parent = uuid(dct["parent"]) if dct["parent"] is not None else None
        task._children = [uuid(child) for child in dct["children"]]
        task.last_state_change = dct["last_state_change"]
        task.triggered = dct["triggered"]
        task.internal_data = restore(dct["internal_data"])
        if isinstance(task_spec, CatchingEvent) and task.has_state(TaskState.WAITING):
            task.workflow.top_workflow.event_manager.add_task(task)
        delta = dct.get("delta")
        parent = workflow.tasks.get(task._parent) if delta else None
        if parent is not None:
            data = {key: value if type(value) in _PLAIN else _merge_copy(value)
                    for key, value in parent.data.items()}  # DeepMerge.merge({}, parent.data)
            data.update(restore(delta.get("updates", {})))
            for key in delta.get("deletions", {}):
                if key in data:
                    del data[key]
        else:
            data = restore(dct["data"])
        task.data = data
        return task

    def restore(self, value):
        """``registry.restore(value)`` of decoded JSON: dictionaries without a typename and lists
        are walked here, anything else by the registry."""
        kind = type(value)
        if kind is dict:
            if "typename" in value:
                return self.registry.restore(value)
            return {key: item if type(item) in _PLAIN else self.restore(item) for key, item in value.items()}
        if kind is list:
            return [item if type(item) in _PLAIN else self.restore(item) for item in value]
        if kind in _PLAIN:
            return value
        return self.registry.restore(value)


def decode_json(text: str) -> Any:
    """``json.loads(text)``, read by orjson when that gives the same. orjson refuses what only
    json reads (NaN, Infinity, numbers beyond a double, lone surrogates: json then reads them)
    and reads integers beyond 64 bits as floats, so a text with a run of 19 digits is json's."""
    if type(text) is str:
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
        else:
            if _LONG_NUMBER not in text.encode().translate(_DIGITS_AS_ZEROS):
                return value
    return json.loads(text)


_DIGITS_AS_ZEROS = bytes(ord("0") if byte in b"0123456789" else ord(".") for byte in range(256))
_LONG_NUMBER = b"0" * 19  # 18 digits are always within 64 bits


def holds_no_objects(text: str, dct: dict[str, Any]) -> bool:
    """Whether the only dictionaries with a ``typename`` in the state ``dct``, decoded from
    ``text``, are its workflow's, subprocesses' and tasks': then every other value restores to
    an equal copy of itself. Counts the key in the text, conservatively: a text with an escaped
    character (``\\u00..``, a letter of the key may be one) answers False."""
    if "\\u00" in text:
        return False
    own = [dct, *dct["tasks"].values()]
    for subprocess in dct["subprocesses"].values():
        own += (subprocess, *subprocess["tasks"].values())
    return text.count('"typename"') == sum(type(each) is dict and "typename" in each for each in own)


def natively_encodable(dct: dict[str, Any]) -> bool:
    """Whether every value in the state ``dct`` (``WorkflowCodec.to_dict``, with the trail) that is
    not an id or a name made here is plain JSON: dictionaries, lists, strings, integers, booleans,
    None and finite floats. orjson then writes the JSON the standard encoder would (or raises,
    for integers beyond 64 bits or keys that are not strings); it writes NaN as null and some
    objects (UUIDs, enums) natively, where the standard encoder and SpiffWorkflow do otherwise."""
    try:
        values = [dct["bpmn_events"], dct.get("trail")]
        for workflow in (dct, *dct["subprocesses"].values()):
            values += (workflow["data"], workflow["correlations"])
            for task in workflow["tasks"].values():
                values += _TASK_VALUES(task)
        return _plain_values(values)
    except (LookupError, TypeError, RecursionError):  # another shape, or nested too deep: the json module decides
        return False


_TASK_VALUES = itemgetter("last_state_change", "state", "triggered", "internal_data", "data", "delta")


def _plain_values(values) -> bool:
    """Each of ``values`` is made of dictionaries, lists, strings, integers, booleans, None and finite floats."""
    for item in values:
        kind = type(item)
        if kind is str or kind is int or kind is bool or item is None:
            continue
        if kind is dict:
            if item and not _plain_values(item.values()):
                return False
        elif kind is list:
            if item and not _plain_values(item):
                return False
        elif kind is not float or item - item != 0.0:  # inf - inf and nan - nan are nan
            return False
    return True


class _UuidTexts(dict):
    """``str(uuid)`` by ``uuid.int`` for the ids of one state, each formatted once (as
    ``UUID.__str__`` does): a task's id is also its key, its parent's child and its children's parent."""

    def __missing__(self, number: int) -> str:
        hex_ = "%032x" % number
        text = self[number] = f"{hex_[:8]}-{hex_[8:12]}-{hex_[12:16]}-{hex_[16:20]}-{hex_[20:]}"
        return text


class _Restoring:
    """One restore: how its values are restored, and ``UUID(text)`` made once per id text."""

    __slots__ = ("restore", "_uuids")

    def __init__(self, restore: Callable[[Any], Any]) -> None:
        self.restore = restore
        self._uuids: dict[str, UUID] = {}

    def uuid(self, text: str) -> UUID:
        """``UUID(text)``; the same object for the same text (UUIDs are immutable)."""
        found = self._uuids.get(text)
        if found is None:
            found = self._uuids[text] = UUID(text)
        return found


def _kept(value):
    """A decoded value no other object holds, as it is (what restoring it would copy)."""
    return value


def _merge_copy(value):
    """The copy DeepMerge.merge makes of a parent's value (``copy`` of dicts, lists and sets)."""
    kind = type(value)
    if kind is dict or kind is list:
        return value.copy()
    return copy(value) if isinstance(value, _SHALLOW_COPIED) else value


def _require_converter(registry, target_class, typename: str, converter_class) -> None:
    """The codec mirrors these converters: refuse a registry configured with others."""
    to_dict = registry.convert_to_dict.get(registry.typenames.get(target_class))
    converter = getattr(to_dict.args[1], "__self__", None) if to_dict is not None else None
    if registry.typenames.get(target_class) != typename or type(converter) is not converter_class:
        raise TypeError(f"WorkflowCodec mirrors {converter_class.__name__} for {typename}, not {converter!r}")
