"""Reading diagram elements out of BPMN XML, and comparing two diagram sets element by element.

Pure functions over file texts (no SpiffWorkflow, no database): the process owner's comparison
page and statistics page use them to know which elements exist, what each one says, and which
boundary timer watches which statutory deadline. Layout (BPMN DI) is not compared: moving a
shape is not a change of the process.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from lxml import etree

from .diagrams import parse_xml

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
# Children that describe their parent rather than being elements of their own.
_DETAIL_SUFFIXES = ("EventDefinition", "LoopCharacteristics", "Expression")
_DETAIL_TAGS = {"extensionElements", "documentation", "incoming", "outgoing", "flowNodeRef", "laneSet",
                "childLaneSet", "timeDate", "timeDuration", "timeCycle", "loopCardinality",
                "completionCondition", "loopCondition", "dataInputAssociation", "dataOutputAssociation",
                "ioSpecification", "script", "text"}
# The aspects an element is compared on, in the order the page shows them.
ASPECTS = ("type", "name", "attributes", "properties", "condition", "timer", "events", "loop",
           "incoming", "outgoing", "lane members", "documentation", "other")


@dataclass(frozen=True)
class DiagramElement:
    """One BPMN element with everything it is compared on."""

    id: str
    type: str
    name: str
    aspects: dict[str, str]


@dataclass(frozen=True)
class ElementChange:
    """One aspect of an element that differs between the two versions."""

    aspect: str
    before: str
    after: str


@dataclass
class FileDiff:
    """What differs in one diagram file: element ids added, removed and changed (with how)."""

    file: str
    added: list[DiagramElement] = field(default_factory=list)
    removed: list[DiagramElement] = field(default_factory=list)
    changed: dict[str, list[ElementChange]] = field(default_factory=dict)
    changed_elements: dict[str, DiagramElement] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)


def _local(tag) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _is_bpmn(node) -> bool:
    return isinstance(node.tag, str) and etree.QName(node.tag).namespace == BPMN_NS


def _is_element(node) -> bool:
    """A semantic element with its own id (not DI, not a detail of its parent)."""
    if not _is_bpmn(node) or not node.get("id"):
        return False
    name = _local(node.tag)
    return name not in _DETAIL_TAGS and not name.endswith(_DETAIL_SUFFIXES) and name != "definitions"


def _attr_name(key: str) -> str:
    qname = etree.QName(key)
    if qname.namespace == SPIFF_NS:
        return f"spiffworkflow:{qname.localname}"
    return qname.localname if qname.namespace in (None, BPMN_NS) else key


def _canonical(node) -> str:
    """A stable text form of an XML fragment: attributes sorted, whitespace trimmed, ids kept."""
    if not isinstance(node.tag, str):
        return ""
    attrs = " ".join(f'{_attr_name(k)}="{v}"' for k, v in sorted(node.attrib.items())
                     if k != XSI_TYPE)
    inner = (node.text or "").strip()
    children = "".join(_canonical(child) for child in node)
    head = _local(node.tag) + (f" {attrs}" if attrs else "")
    return f"<{head}>{inner}{children}</{_local(node.tag)}>" if (inner or children) else f"<{head}/>"


def _properties(node) -> str:
    """The element's extension properties: spiffworkflow properties as name = value, the rest canonical."""
    lines: list[str] = []
    for ext in node.findall(f"{{{BPMN_NS}}}extensionElements"):
        for child in ext:
            if not isinstance(child.tag, str):
                continue
            if _local(child.tag) == "properties":
                for prop in child:
                    if isinstance(prop.tag, str):
                        lines.append(f"{prop.get('name')} = {prop.get('value', (prop.text or '').strip())}")
            else:
                text = (child.text or "").strip()
                lines.append(f"{_local(child.tag)}: {text}" if len(child) == 0 else _canonical(child))
    return "\n".join(sorted(lines))


def _describe(node, flows_in: dict[str, set[str]], flows_out: dict[str, set[str]]) -> DiagramElement:
    element_id = node.get("id")
    aspects: dict[str, list[str]] = {a: [] for a in ASPECTS}
    aspects["type"] = [_local(node.tag)]
    aspects["name"] = [node.get("name") or ""]
    aspects["attributes"] = [f"{_attr_name(k)} = {v}" for k, v in sorted(node.attrib.items())
                             if _attr_name(k) not in ("id", "name")]
    aspects["properties"] = [_properties(node)]
    incoming, outgoing = set(flows_in.get(element_id, ())), set(flows_out.get(element_id, ()))
    for child in node:
        if not isinstance(child.tag, str) or _is_element(child):
            continue
        name = _local(child.tag)
        if name == "incoming":
            incoming.add((child.text or "").strip())
        elif name == "outgoing":
            outgoing.add((child.text or "").strip())
        elif name == "conditionExpression":
            aspects["condition"].append((child.text or "").strip())
        elif name == "timerEventDefinition":
            aspects["timer"].extend(f"{_local(t.tag)}: {(t.text or '').strip()}" for t in child if isinstance(t.tag, str))
        elif name.endswith("EventDefinition"):
            aspects["events"].append(_canonical(child))
        elif name.endswith("LoopCharacteristics"):
            aspects["loop"].append(_canonical(child))
        elif name == "flowNodeRef":
            aspects["lane members"].append((child.text or "").strip())
        elif name == "documentation":
            aspects["documentation"].append((child.text or "").strip())
        elif name not in ("extensionElements", "laneSet", "childLaneSet"):
            aspects["other"].append(_canonical(child))
    aspects["lane members"].sort()
    aspects["incoming"] = sorted(f for f in incoming if f)
    aspects["outgoing"] = sorted(f for f in outgoing if f)
    text = {k: "\n".join(v).strip() for k, v in aspects.items()}
    return DiagramElement(element_id, text["type"], text["name"], text)


def diagram_elements(name: str, text: str) -> dict[str, DiagramElement]:
    """Every semantic element of one BPMN file by id, in document order (parsed safely)."""
    root = parse_xml(name, text)
    flows_in: dict[str, set[str]] = {}
    flows_out: dict[str, set[str]] = {}
    for flow in root.iter(f"{{{BPMN_NS}}}sequenceFlow"):
        if flow.get("targetRef"):
            flows_in.setdefault(flow.get("targetRef"), set()).add(flow.get("id") or "")
        if flow.get("sourceRef"):
            flows_out.setdefault(flow.get("sourceRef"), set()).add(flow.get("id") or "")
    return {node.get("id"): _describe(node, flows_in, flows_out) for node in root.iter() if _is_element(node)}


def diff_file(name: str, old_text: str | None, new_text: str | None) -> FileDiff:
    """Compare one file's two versions (None: the file does not exist in that version)."""
    old = diagram_elements(name, old_text) if old_text is not None else {}
    new = diagram_elements(name, new_text) if new_text is not None else {}
    result = FileDiff(name)
    result.added = [e for i, e in new.items() if i not in old]
    result.removed = [e for i, e in old.items() if i not in new]
    for element_id, after in new.items():
        before = old.get(element_id)
        if before is None:
            continue
        changes = [ElementChange(a, before.aspects[a], after.aspects[a]) for a in ASPECTS
                   if before.aspects[a] != after.aspects[a]]
        if changes:
            result.changed[element_id] = changes
            result.changed_elements[element_id] = after
    return result


def diff_diagram_sets(old_files: Mapping[str, str], new_files: Mapping[str, str]) -> dict[str, FileDiff]:
    """Compare every ``.bpmn`` file of two diagram sets; files identical in text are skipped cheaply."""
    names = sorted(n for n in set(old_files) | set(new_files) if n.endswith(".bpmn"))
    result: dict[str, FileDiff] = {}
    for name in names:
        old, new = old_files.get(name), new_files.get(name)
        result[name] = FileDiff(name) if old == new else diff_file(name, old, new)
    return result


def changed_forms(old_files: Mapping[str, str], new_files: Mapping[str, str]) -> dict[str, str]:
    """Form files (``forms/*.json``) that differ between two sets: name -> added / removed / changed."""
    names = sorted(n for n in set(old_files) | set(new_files) if n.endswith(".json"))
    status = {}
    for name in names:
        if name not in old_files:
            status[name] = "added"
        elif name not in new_files:
            status[name] = "removed"
        elif old_files[name] != new_files[name]:
            status[name] = "changed"
    return status


@dataclass(frozen=True)
class DeadlineTimer:
    """A boundary timer that watches a statutory deadline, and the element it is attached to."""

    key: str
    timer_id: str
    attached_to: str | None


def deadline_timers(name: str, text: str) -> dict[str, DeadlineTimer]:
    """Deadline key -> its boundary timer in one file (property ``deadline``, else id ``<key>_deadline``)."""
    root = parse_xml(name, text)
    found: dict[str, DeadlineTimer] = {}
    for event in root.iter(f"{{{BPMN_NS}}}boundaryEvent"):
        if event.find(f"{{{BPMN_NS}}}timerEventDefinition") is None:
            continue
        key = None
        for prop in event.iter(f"{{{SPIFF_NS}}}property"):
            if prop.get("name") == "deadline":
                key = prop.get("value")
        event_id = event.get("id") or ""
        if not key and event_id.endswith("_deadline"):
            key = event_id.removesuffix("_deadline")
        if key:
            found[key] = DeadlineTimer(key, event_id, event.get("attachedToRef"))
    return found
