"""Structural checks of a diagram set, each problem named by file and element.

These go beyond what SpiffWorkflow's parser checks: lanes name roles, user tasks name forms,
call activities resolve, no sequence-flow cycles (docs/engine-notes.md, trap 2), nothing unreachable,
the contract element ids of docs/process.md exist, and every element is drawn (diagram interchange).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

from .diagrams import KNOWN_ROLES, ROLE_FAMILIES, DiagramSet, load_diagram_set, parse_xml
from .errors import DiagramError

NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
      "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
      "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core"}
FLOW_NODES = ("task", "userTask", "scriptTask", "manualTask", "serviceTask", "sendTask", "receiveTask",
              "businessRuleTask", "callActivity", "subProcess", "startEvent", "endEvent",
              "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent", "exclusiveGateway",
              "parallelGateway", "inclusiveGateway", "eventBasedGateway")
CONTRACT_TASKS = {  # element id -> (role, {field: codes})
    "cads_decision": ("cads_social_worker", {"decision": {"nfa", "advice", "early_help", "family_help", "mash_checks",
                                                          "assessment", "strategy_discussion", "lado", "contextual"}}),
    "mash_check": ("mash_partner", {"rag": {"red", "amber", "green"}}),
    "feedback_to_referrer": ("cads_social_worker", {}),
    "assessment": ("social_worker", {"outcome": {"nfa", "early_help", "family_help", "cin_plan", "strategy_discussion"}}),
    "strategy_discussion": ("social_worker", {"outcome": {"section47_single", "section47_joint", "no_section47"}}),
    "section47_enquiry": ("social_worker", {"outcome": {"not_substantiated", "cin_plan", "icpc"}}),
    "schedule_icpc": ("conference_chair", {}),
    "icpc": ("conference_chair", {"outcome": {"cp_plan", "no_plan"}}),
    "core_group": ("social_worker", {}),
    "schedule_review": ("conference_chair", {}),
    "review_conference": ("conference_chair", {"outcome": {"continue_plan", "end_plan"}}),
}
CONTRACT_FIELDS = {
    "cads_decision": {"decision"}, "mash_check": {"agency", "findings", "rag"},
    "feedback_to_referrer": {"given_on", "method"},
    "assessment": {"started_on", "authorised_on", "factors", "outcome"},
    "strategy_discussion": {"held_on", "attendees", "outcome"}, "section47_enquiry": {"started_on", "outcome"},
    # A booking's and a holding's reasons: the store asks for them when a date needs one (engine/booking.py).
    "schedule_icpc": {"scheduled_for", "venue", "reason_outside_timescale", "reason_not_working_day",
                      "reason_recorded_late"},
    "icpc": {"held_on", "outcome", "categories", "reason_held_on_another_day"}, "core_group": {"held_on", "attendees"},
    "schedule_review": {"scheduled_for", "venue", "reason_outside_timescale", "reason_not_working_day",
                        "reason_recorded_late"},
    "review_conference": {"held_on", "outcome", "categories", "reason_held_on_another_day"},
}


@dataclass(frozen=True)
class Problem:
    file: str
    element: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: {self.element}: {self.reason}"


def check_diagram_files(files: Mapping[str, str], require_contract: bool = True,
                        require_top: bool = True) -> list[Problem]:
    """Every problem found in a set of diagram and form files (empty when it may be published).

    ``require_top`` builds the whole process from its top level; without it (checking a few
    files on their own) each file is parsed and its own checks run, call activities aside.
    """
    problems: list[Problem] = []
    trees = {}
    for name, text in files.items():
        if name.endswith(".bpmn"):
            try:
                trees[name] = parse_xml(name, text)
            except DiagramError as exc:
                problems.append(Problem(name, "-", exc.reason))
    if problems:
        return problems
    processes = {p.get("id"): name for name, tree in trees.items() for p in tree.iterfind("bpmn:process", NS)}
    user_tasks: dict[str, tuple[str, str, str | None]] = {}
    for name, tree in trees.items():
        problems.extend(p for p in _check_file(name, tree, processes, user_tasks)
                        if require_top or "which no file defines" not in p.reason)
    diagrams: DiagramSet | None = None
    for top in ([None] if require_top else sorted(processes)):
        try:
            diagrams = load_diagram_set(files) if top is None else load_diagram_set(files, top, require_calls=False)
        except DiagramError as exc:
            problems.append(Problem(exc.file or _file_of(exc.element, processes), exc.element, exc.reason))
    if require_contract:
        problems.extend(_check_contract(user_tasks, diagrams))
    return problems


def _file_of(element: str, processes: Mapping[str, str]) -> str:
    return processes.get(element.split("/")[0], "-")


def _check_file(name, tree, processes, user_tasks) -> Iterable[Problem]:
    drawn = {s.get("bpmnElement") for s in tree.iterfind(".//bpmndi:BPMNShape", NS)}
    drawn |= {e.get("bpmnElement") for e in tree.iterfind(".//bpmndi:BPMNEdge", NS)}
    for process in tree.iterfind("bpmn:process", NS):
        lanes = {}
        for lane in process.iterfind(".//bpmn:lane", NS):
            for ref in lane.iterfind("bpmn:flowNodeRef", NS):
                lanes[ref.text] = lane.get("name")
            if lane.get("name") not in KNOWN_ROLES and lane.get("name") not in ROLE_FAMILIES:
                yield Problem(name, lane.get("id"), f"lane name {lane.get('name')!r} is not a known role")
        for scope in [process, *process.iterfind(".//bpmn:subProcess", NS)]:
            yield from _check_scope(name, scope, drawn)
        for task in process.iterfind(".//bpmn:userTask", NS):
            form = task.find(".//spiffworkflow:property[@name='formJsonSchemaFilename']", NS)
            lane = lanes.get(task.get("id")) or _enclosing_lane(task, lanes)
            user_tasks[task.get("id")] = (name, lane, form.get("value") if form is not None else None)
        for call in process.iterfind(".//bpmn:callActivity", NS):
            if call.get("calledElement") not in processes:
                yield Problem(name, call.get("id"), f"calls {call.get('calledElement')!r}, which no file defines")


def _enclosing_lane(node, lanes) -> str | None:
    parent = node.getparent()
    while parent is not None:
        if parent.get("id") in lanes:
            return lanes[parent.get("id")]
        parent = parent.getparent()
    return None


def _check_scope(name, scope, drawn) -> Iterable[Problem]:
    """One process or subprocess level: drawn, reachable from a start, no cycles."""
    nodes = [n for tag in FLOW_NODES for n in scope.findall(f"bpmn:{tag}", NS)]
    flows = scope.findall("bpmn:sequenceFlow", NS)
    for element in nodes + flows:
        if element.get("id") not in drawn:
            yield Problem(name, element.get("id"), "not drawn (no BPMNShape/BPMNEdge in the diagram)")
    graph: dict[str, list[str]] = {n.get("id"): [] for n in nodes}
    for flow in flows:
        graph.setdefault(flow.get("sourceRef"), []).append(flow.get("targetRef"))
    starts = [n.get("id") for n in nodes if n.tag.endswith("startEvent") or n.tag.endswith("boundaryEvent")]
    seen, stack = set(), list(starts)
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack.extend(graph.get(node, []))
    for node in nodes:
        if node.get("id") not in seen:
            yield Problem(name, node.get("id"), "unreachable: no path from a start event")
    cycle = _find_cycle(graph)
    if cycle:
        yield Problem(name, cycle[0], "sequence flows form a cycle (" + " -> ".join(cycle) +
                      "); use loop or multi-instance characteristics instead")


def _find_cycle(graph: Mapping[str, list[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in graph.get(node, []):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        state[node] = 2
        path.pop()
        return None

    for start in list(graph):
        if start not in state:
            found = visit(start)
            if found:
                return found
    return None


def _check_contract(user_tasks, diagrams: DiagramSet | None) -> Iterable[Problem]:
    for bpmn_id, (role, fields) in CONTRACT_TASKS.items():
        if bpmn_id not in user_tasks:
            yield Problem("-", bpmn_id, "contract task is missing (reports and the API rely on this element id: docs/process.md)")
            continue
        file, lane, form_name = user_tasks[bpmn_id]
        if lane != role:
            yield Problem(file, bpmn_id, f"contract task must be in lane {role!r}, not {lane!r}")
        if diagrams is None or form_name not in diagrams.forms:
            continue
        properties = diagrams.forms[form_name].schema.get("properties", {})
        for field in CONTRACT_FIELDS.get(bpmn_id, ()):
            if field not in properties:
                yield Problem(file, bpmn_id, f"form {form_name} lacks contract field {field!r}")
        for field, codes in fields.items():
            found = set(properties.get(field, {}).get("enum", []))
            if found != codes:
                yield Problem(file, bpmn_id, f"form {form_name} field {field!r} codes {sorted(found)} "
                                             f"differ from the contract {sorted(codes)}")
