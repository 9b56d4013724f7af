"""Diagram edits for migration tests: a version with an extra user task, one with a task removed."""
from __future__ import annotations

import json

HOME_VISIT_FORM = {"title": "Home visit", "type": "object", "required": ["visited_on"],
                   "properties": {"visited_on": {"type": "string", "format": "date", "title": "Visited on"}}}


def with_home_visit(files: dict[str, str]) -> dict[str, str]:
    """The shipped set plus a 'home_visit' user task before the assessment (lane, form and DI kept)."""
    text = files["assessment.bpmn"]
    text = text.replace("<bpmn:flowNodeRef>assessment</bpmn:flowNodeRef>",
                        "<bpmn:flowNodeRef>home_visit</bpmn:flowNodeRef>\n        "
                        "<bpmn:flowNodeRef>assessment</bpmn:flowNodeRef>")
    text = text.replace('targetRef="assessment" />', 'targetRef="home_visit" />')
    text = text.replace("<bpmn:outgoing>flow_assessment_process_start_to_assessment</bpmn:outgoing>\n    </bpmn:startEvent>",
                        "<bpmn:outgoing>flow_assessment_process_start_to_assessment</bpmn:outgoing>\n    </bpmn:startEvent>\n"
                        '    <bpmn:userTask id="home_visit" name="Home visit">\n'
                        "      <bpmn:extensionElements>\n        <spiffworkflow:properties>\n"
                        '          <spiffworkflow:property name="formJsonSchemaFilename" value="home_visit.json" />\n'
                        "        </spiffworkflow:properties>\n      </bpmn:extensionElements>\n"
                        "      <bpmn:incoming>flow_assessment_process_start_to_assessment</bpmn:incoming>\n"
                        "      <bpmn:outgoing>flow_home_visit_to_assessment</bpmn:outgoing>\n    </bpmn:userTask>")
    text = text.replace("<bpmn:incoming>flow_assessment_process_start_to_assessment</bpmn:incoming>\n"
                        "      <bpmn:outgoing>flow_assessment_to",
                        "<bpmn:incoming>flow_home_visit_to_assessment</bpmn:incoming>\n"
                        "      <bpmn:outgoing>flow_assessment_to")
    text = text.replace("  </bpmn:process>",
                        '    <bpmn:sequenceFlow id="flow_home_visit_to_assessment" sourceRef="home_visit" '
                        'targetRef="assessment" />\n  </bpmn:process>')
    text = text.replace("    </bpmndi:BPMNPlane>",
                        '      <bpmndi:BPMNShape id="home_visit_di" bpmnElement="home_visit">\n'
                        '        <dc:Bounds x="330" y="110" width="50" height="80" />\n      </bpmndi:BPMNShape>\n'
                        '      <bpmndi:BPMNEdge id="flow_home_visit_to_assessment_di" bpmnElement="flow_home_visit_to_assessment">\n'
                        '        <di:waypoint x="380" y="150" />\n        <di:waypoint x="390" y="150" />\n'
                        "      </bpmndi:BPMNEdge>\n    </bpmndi:BPMNPlane>")
    assert text.count("home_visit") >= 8, "assessment.bpmn changed shape; update the test edit"
    return {**files, "assessment.bpmn": text, "forms/home_visit.json": json.dumps(HOME_VISIT_FORM)}


def renaming(files: dict[str, str], name: str, old_id: str, new_id: str) -> dict[str, str]:
    """``files`` with element ``old_id`` of file ``name`` renamed (the old task is removed)."""
    text = files[name]
    for attribute in ("id", "sourceRef", "targetRef", "bpmnElement", "attachedToRef"):
        text = text.replace(f'{attribute}="{old_id}"', f'{attribute}="{new_id}"')
    text = text.replace(f"<bpmn:flowNodeRef>{old_id}</bpmn:flowNodeRef>", f"<bpmn:flowNodeRef>{new_id}</bpmn:flowNodeRef>")
    return {**files, name: text}
