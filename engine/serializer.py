"""Saving a case's workflow without its spec: the spec comes back from the cached diagram set.

The embedded spec is more than half of a serialized case and the slow half to restore
(docs/engine-notes.md, cost), so stored state holds only tasks and data.

A step restores and saves its case, so ``CaseSerializer`` does both through
``engine.fastserial`` (and orjson); ``SpiffCaseSerializer`` is the same format through
SpiffWorkflow's own converters and the json module, the reference it is tested against.
"""
from __future__ import annotations

import json
from uuid import UUID

import orjson
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter
from SpiffWorkflow.bpmn.serializer.default.event_definition import TimerConditionalEventDefinitionConverter
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG

from .diagrams import DiagramSet
from .errors import EngineError
from .fastserial import WorkflowCodec, decode_json, holds_no_objects, natively_encodable
from .history import TRAIL_ATTRIBUTE, Pruned, trail_of
from .timers import ClockDurationTimer, ClockTimeDate

FORMAT = "sgw-1"


class _SpeclessWorkflowConverter(BpmnWorkflowConverter):
    """Writes no spec; restores against the specs of the diagram set it was built for."""

    diagrams: DiagramSet | None = None

    def to_dict(self, workflow):
        dct = super(BpmnWorkflowConverter, self).to_dict(workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct):
        diagrams = self.diagrams
        workflow = self.target_class(diagrams.spec, diagrams.subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


class SpiffCaseSerializer:
    """Serializer bound to one diagram set (one per version, shared by threads: it keeps no state per call).

    Converts with SpiffWorkflow's own converters and the standard json module: the reference
    ``CaseSerializer`` is checked against, and the benchmark's engine floor.
    """

    def __init__(self, diagrams: DiagramSet) -> None:
        config = dict(SPIFF_CONFIG)
        config[ClockTimeDate] = TimerConditionalEventDefinitionConverter
        config[ClockDurationTimer] = TimerConditionalEventDefinitionConverter
        registry = BpmnWorkflowSerializer.configure(config)
        self._serializer = BpmnWorkflowSerializer(registry)
        converter = _SpeclessWorkflowConverter(BpmnWorkflow, registry)  # replaces the default one
        converter.diagrams = diagrams
        self.diagrams = diagrams

    def dumps(self, workflow: BpmnWorkflow) -> str:
        """The workflow's state as compact JSON, without its spec."""
        return self._encoded(self._serializer.to_dict(workflow), workflow)

    def dumps_archive(self, pruned: Pruned) -> str:
        """The history ``engine.history.prune`` removed, as JSON for the cold archive."""
        registry = self._serializer.registry
        dct = {"format": FORMAT, "diagram_version": self.diagrams.version,
               "subprocesses": {str(sp.parent_task_id): registry.convert(sp) for sp in pruned.subprocesses},
               "tasks": {str(task.id): registry.convert(task) for task in pruned.tasks}}
        return json.dumps(dct, separators=(",", ":"), cls=self._serializer._encoder_cls)

    def loads(self, text: str) -> BpmnWorkflow:
        """Restore a workflow saved by ``dumps`` against this diagram set."""
        dct = self._decoded(text)
        trail = dct.pop("trail", None)
        return _with_trail(self._serializer.from_dict(dct), trail)

    def _encoded(self, dct: dict, workflow: BpmnWorkflow) -> str:
        """The converted workflow ``dct`` as stored: with the format, version and trail."""
        dct["format"] = FORMAT
        dct["diagram_version"] = self.diagrams.version
        trail = trail_of(workflow)
        if trail:
            dct["trail"] = trail
        return self._json(dct)

    def _json(self, dct: dict) -> str:
        """The stored state ``dct`` as compact JSON."""
        return json.dumps(dct, separators=(",", ":"), cls=self._serializer._encoder_cls)

    def _parsed(self, text: str):
        """``text`` decoded from JSON."""
        return json.loads(text)

    def _decoded(self, text: str) -> dict:
        """The stored state as a dictionary, without its format and version (checked)."""
        try:
            dct = self._parsed(text)
        except (TypeError, json.JSONDecodeError) as exc:
            raise EngineError(f"stored workflow state is not valid JSON: {exc}") from None
        if dct.pop("format", None) != FORMAT:
            raise EngineError("stored workflow state has an unknown format")
        version = dct.pop("diagram_version", None)
        if version != self.diagrams.version:
            raise EngineError(f"stored workflow is for diagram version {version}, not {self.diagrams.version}")
        return dct


class CaseSerializer(SpiffCaseSerializer):
    """The serializer the engine uses: the same states as SpiffCaseSerializer, converted by
    ``engine.fastserial.WorkflowCodec``; whatever the codec was not written for goes to
    SpiffCaseSerializer, which then gives the result (or the error)."""

    def __init__(self, diagrams: DiagramSet) -> None:
        super().__init__(diagrams)
        self._codec = WorkflowCodec(self._serializer.registry, diagrams)

    def dumps(self, workflow: BpmnWorkflow) -> str:
        """The workflow's state as compact JSON, without its spec."""
        try:
            dct = self._codec.to_dict(workflow)
        except Exception:  # noqa: BLE001 - SpiffWorkflow's converters give the answer or the error
            return super().dumps(workflow)
        return self._encoded(dct, workflow)

    def dumps_archive(self, pruned: Pruned) -> str:
        """The history ``engine.history.prune`` removed, as JSON for the cold archive (most steps
        of a plan prune the loop turn they finished)."""
        try:
            subprocesses, tasks = self._codec.pruned_to_dict(pruned.subprocesses, pruned.tasks)
        except Exception:  # noqa: BLE001 - SpiffWorkflow's converters give the answer or the error
            return super().dumps_archive(pruned)
        return self._json({"format": FORMAT, "diagram_version": self.diagrams.version,
                           "subprocesses": subprocesses, "tasks": tasks})

    def _json(self, dct: dict) -> str:
        """The stored state ``dct`` as compact JSON, written by orjson when it writes the same JSON
        value as the standard encoder (UTF-8 text where that escapes, shorter floats)."""
        if natively_encodable(dct):
            try:
                return orjson.dumps(dct).decode()
            except orjson.JSONEncodeError:  # integers beyond 64 bits, keys that are not strings
                pass
        return super()._json(dct)

    def _parsed(self, text: str):
        """``text`` decoded from JSON (by orjson when that reads the same)."""
        return decode_json(text)

    def loads(self, text: str) -> BpmnWorkflow:
        """Restore a workflow saved by ``dumps`` against this diagram set."""
        dct = self._decoded(text)
        trail = dct.pop("trail", None)
        try:
            workflow = self._codec.from_dict(dct, as_decoded=holds_no_objects(text, dct))
        except Exception:  # noqa: BLE001 - the codec consumed dct: SpiffWorkflow's converters start again
            return super().loads(text)
        return _with_trail(workflow, trail)


def _with_trail(workflow: BpmnWorkflow, trail: dict | None) -> BpmnWorkflow:
    """The restored workflow with the trail stored beside its state."""
    if trail:
        setattr(workflow, TRAIL_ATTRIBUTE, trail)
    return workflow
