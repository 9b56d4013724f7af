"""Diagram sets: the BPMN files and forms of one process version, parsed once and cached.

A diagram set is identified by a hash of its files, so a running case names exactly the
diagrams it started on. Parsing is safe (no external entities, no network, size limit),
every expression is checked by the restricted evaluator at load time, and timers are made
to read the engine's injected clock.
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnValidator
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition, DurationTimerEventDefinition, TimeDateEventDefinition)
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import LoopTask
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser import SpiffBpmnParser
from SpiffWorkflow.spiff.specs.defaults import UserTask

from .deadlines import DEADLINES_BY_KEY
from .errors import DiagramError, EngineError
from .expressions import RestrictedCodeError, compile_restricted
from .forms import Form
from .timers import ClockDurationTimer, ClockTimeDate

DEFAULT_DIAGRAM_DIR = Path(os.environ.get("SAFEGUARDING_BPMN_DIR") or Path(__file__).resolve().parent.parent / "bpmn")
TOP_PROCESS = "safeguarding_case"
MAX_FILE_BYTES = 2 * 1024 * 1024
KNOWN_ROLES = frozenset({
    "contact_officer", "cads_social_worker", "cads_manager", "mash_police", "mash_health",
    "mash_education", "mash_probation", "social_worker", "team_manager", "conference_chair",
    "business_support", "family_help_practitioner", "lado", "process_owner", "admin",
    "information_governance",  # subject access requests (webui/sar.py)
})
# A lane whose tasks name their concrete role per instance (property ``assignedRole``).
ROLE_FAMILIES = {"mash_partner": frozenset(r for r in KNOWN_ROLES if r.startswith("mash_"))}

_SAFE_XML = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False,
                            load_dtd=False, remove_comments=False)


@dataclass(frozen=True)
class UserTaskInfo:
    """What the engine needs to offer one user task of the diagram set."""

    process: str
    bpmn_id: str
    name: str
    lane: str
    role_expression: str | None
    form: Form
    instructions: str
    due_expression: str | None


@dataclass
class DiagramSet:
    """One parsed version of the process: specs, forms and per-task metadata."""

    version: str
    files: dict[str, str]
    spec: Any
    subprocess_specs: dict[str, Any]
    forms: dict[str, Form]
    user_tasks: dict[tuple[str, str], UserTaskInfo] = field(default_factory=dict)
    deadline_keys: frozenset[str] = frozenset()

    def task_info(self, task_spec) -> UserTaskInfo:
        """Metadata of a user-task spec (multi-instance children share their parent's)."""
        key = (task_spec._wf_spec.name, _bpmn_id(task_spec))
        try:
            return self.user_tasks[key]
        except KeyError:
            raise DiagramError(f"{key[0]}/{key[1]}", "not a user task of this diagram set") from None


def _bpmn_id(task_spec) -> str:
    return task_spec.bpmn_id or task_spec.name.split(" [")[0]


def version_of(files: Mapping[str, str]) -> str:
    """A short content hash identifying a set of diagram and form files."""
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + files[name].encode() + b"\0")
    return digest.hexdigest()[:16]


def read_diagram_files(directory: Path | str = DEFAULT_DIAGRAM_DIR) -> dict[str, str]:
    """Read ``*.bpmn`` and ``forms/*.json`` of a directory into a name -> text mapping."""
    root = Path(directory)
    files: dict[str, str] = {}
    for path in sorted(root.glob("*.bpmn")) + sorted(root.glob("forms/*.json")):
        files[path.relative_to(root).as_posix()] = path.read_text(encoding="utf-8")
    if not any(name.endswith(".bpmn") for name in files):
        raise EngineError(f"no .bpmn files found in {root}")
    return files


def parse_xml(name: str, text: str) -> etree._Element:
    """Parse one BPMN file safely; DTDs and entities are refused outright."""
    if len(text.encode("utf-8")) > MAX_FILE_BYTES:
        raise DiagramError(name, f"file is larger than {MAX_FILE_BYTES // 1024} KB")
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        raise DiagramError(name, "DOCTYPE and entity declarations are not allowed")
    try:
        return etree.fromstring(text.encode("utf-8"), parser=_SAFE_XML)
    except etree.XMLSyntaxError as exc:
        raise DiagramError(name, f"not well-formed XML: {exc}") from None


def load_diagram_set(files: Mapping[str, str], top_process: str = TOP_PROCESS,
                     require_calls: bool = True) -> DiagramSet:
    """Parse, check and prepare a diagram set; raises DiagramError naming the bad element.

    ``require_calls=False`` checks a process whose called processes are not in ``files``.
    """
    files = dict(files)
    forms = _load_forms(files)
    parser = SpiffBpmnParser(validator=BpmnValidator())
    for name, text in files.items():
        if not name.endswith(".bpmn"):
            continue
        try:
            parser.add_bpmn_xml(parse_xml(name, text), filename=name)
        except DiagramError:
            raise
        except (SpiffWorkflowException, etree.LxmlError, ValueError) as exc:
            raise DiagramError(name, f"not valid BPMN 2.0: {_first_line(exc)}") from None
    try:
        spec = parser.get_spec(top_process)
        subprocess_specs = parser.get_subprocess_specs(top_process, require_call_activity_specs=require_calls)
    except (SpiffWorkflowException, KeyError, ValueError) as exc:
        raise DiagramError(top_process, f"cannot build the process: {_first_line(exc)}") from None
    diagrams = DiagramSet(version_of(files), files, spec, subprocess_specs, forms)
    deadline_keys = set()
    for process_spec in [spec, *subprocess_specs.values()]:
        for task_spec in process_spec.task_specs.values():
            _prepare(task_spec, process_spec.name, diagrams, deadline_keys)
            _connect_loop(task_spec, process_spec)
    diagrams.deadline_keys = frozenset(deadline_keys)
    return diagrams


def _connect_loop(task_spec, process_spec) -> None:
    """Wire a loop or multi-instance task to its child spec now, not when the first child is made.

    SpiffWorkflow 3.2.0 connects ``merge_child`` only in ``create_child``. A case restored in a
    process that parsed the diagrams afresh never gets that connection, so the loop never
    merges its child and the case hangs silently.
    """
    if isinstance(task_spec, LoopTask):
        child = process_spec.task_specs[task_spec.task_spec]
        if not child.completed_event.is_connected(task_spec.merge_child):
            child.completed_event.connect(task_spec.merge_child)


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _load_forms(files: Mapping[str, str]) -> dict[str, Form]:
    forms = {}
    for name, text in files.items():
        if name.startswith("forms/") and name.endswith(".json"):
            try:
                schema = json.loads(text)
            except json.JSONDecodeError as exc:
                raise DiagramError(name, f"not valid JSON: {exc}") from None
            forms[name.removeprefix("forms/")] = Form(name.removeprefix("forms/"), schema)
    return forms


def _check_code(element: str, source: str | None, mode: str = "eval") -> None:
    if source is None:
        return
    try:
        compile_restricted(source, mode)
    except RestrictedCodeError as exc:
        raise DiagramError(element, f"{'script' if mode == 'exec' else 'expression'} {source!r} refused: {exc}") from None


def _prepare(task_spec, process: str, diagrams: DiagramSet, deadline_keys: set[str]) -> None:
    """Check one task spec's code, swap in clock-aware timers, record user-task metadata."""
    element = f"{process}/{_bpmn_id(task_spec)}"
    for condition, _target in getattr(task_spec, "cond_task_specs", []) or []:
        if condition is not None:  # None marks the default flow
            _check_code(element, condition.args[0] if hasattr(condition, "args") else condition)
    _check_code(element, getattr(task_spec, "script", None), "exec")
    _check_code(element, getattr(task_spec, "prescript", None), "exec")
    _check_code(element, getattr(task_spec, "postscript", None), "exec")
    condition = getattr(task_spec, "condition", None)
    _check_code(element, condition if isinstance(condition, str) else None)
    cardinality = getattr(task_spec, "cardinality", None)
    _check_code(element, cardinality if isinstance(cardinality, str) else None)
    definition = getattr(task_spec, "event_definition", None)
    if definition is not None:
        _prepare_event(definition, element, task_spec, deadline_keys)
    if isinstance(task_spec, UserTask):
        diagrams.user_tasks[(process, _bpmn_id(task_spec))] = _user_task_info(task_spec, process, diagrams)


def _prepare_event(definition, element: str, task_spec, deadline_keys: set[str]) -> None:
    if isinstance(definition, CycleTimerEventDefinition):
        raise DiagramError(element, "cycle timers are not supported: use a timeDate timer with a loop")
    if isinstance(definition, TimeDateEventDefinition):
        definition.__class__ = ClockTimeDate
    elif isinstance(definition, DurationTimerEventDefinition):
        definition.__class__ = ClockDurationTimer
    else:
        return
    _check_code(element, definition.expression)
    key = deadline_key(task_spec)
    if key:
        if key not in DEADLINES_BY_KEY:  # its due date would have no column to go to
            raise DiagramError(element, f"the timer enforces a statutory deadline {key!r} that is not declared: "
                                        f"declare it in engine/deadlines.py (known: {', '.join(DEADLINES_BY_KEY)})")
        deadline_keys.add(key)


def deadline_key(task_spec) -> str | None:
    """The statutory deadline a timer enforces: property ``deadline``, else id ``<key>_deadline``."""
    properties = (getattr(task_spec, "extensions", None) or {}).get("properties", {})
    if properties.get("deadline"):
        return properties["deadline"]
    bpmn_id = task_spec.bpmn_id or ""
    return bpmn_id[: -len("_deadline")] if bpmn_id.endswith("_deadline") else None


def _user_task_info(task_spec, process: str, diagrams: DiagramSet) -> UserTaskInfo:
    element = f"{process}/{_bpmn_id(task_spec)}"
    lane = task_spec.lane
    if not lane:
        raise DiagramError(element, "user task is not in a lane (the lane names the role)")
    if lane not in KNOWN_ROLES and lane not in ROLE_FAMILIES:
        raise DiagramError(element, f"lane {lane!r} is not a known role")
    extensions = task_spec.extensions or {}
    properties = extensions.get("properties", {})
    form_name = properties.get("formJsonSchemaFilename")
    if not form_name:
        raise DiagramError(element, "user task names no form (property formJsonSchemaFilename)")
    if form_name not in diagrams.forms:
        raise DiagramError(element, f"form {form_name!r} does not exist in forms/")
    role_expression = properties.get("assignedRole")
    if lane in ROLE_FAMILIES and not role_expression:
        raise DiagramError(element, f"lane {lane!r} needs property assignedRole")
    _check_code(element, role_expression)
    _check_code(element, properties.get("dueDate"))
    return UserTaskInfo(process=process, bpmn_id=_bpmn_id(task_spec), name=task_spec.bpmn_name or _bpmn_id(task_spec),
                        lane=lane, role_expression=role_expression, form=diagrams.forms[form_name],
                        instructions=extensions.get("instructionsForEndUser") or "",
                        due_expression=properties.get("dueDate"))


class DiagramRegistry:
    """Caches parsed diagram sets by version; safe to share between threads."""

    def __init__(self, top_process: str = TOP_PROCESS) -> None:
        self.top_process = top_process
        self._sets: dict[str, DiagramSet] = {}
        self._lock = threading.Lock()

    def load(self, files: Mapping[str, str]) -> DiagramSet:
        """Parse ``files`` unless that exact version is cached; return the set."""
        version = version_of(files)
        with self._lock:
            cached = self._sets.get(version)
        if cached is not None:
            return cached
        diagrams = load_diagram_set(files, self.top_process)
        with self._lock:
            return self._sets.setdefault(version, diagrams)

    def get(self, version: str) -> DiagramSet | None:
        """A cached version, or None if it has not been loaded in this process."""
        with self._lock:
            return self._sets.get(version)

    def versions(self) -> Iterable[str]:
        with self._lock:
            return list(self._sets)
