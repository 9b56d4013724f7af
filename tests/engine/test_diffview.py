"""Comparing two versions of a diagram element by element, on hand-edited copies of shipped files."""
from __future__ import annotations

import pytest

from engine.diffview import (changed_forms, deadline_timers, diagram_elements, diff_diagram_sets, diff_file)
from engine.errors import DiagramError


def _edit(text: str, *replacements: tuple[str, str]) -> str:
    for old, new in replacements:
        assert text.count(old) == 1, f"edit target not unique: {old[:60]}"
        text = text.replace(old, new)
    return text


NEW_TASK = """    <bpmn:userTask id="notify_employer" name="Notify the employer">
      <bpmn:extensionElements>
        <spiffworkflow:properties>
          <spiffworkflow:property name="formJsonSchemaFilename" value="lado_outcome.json" />
        </spiffworkflow:properties>
      </bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="flow_notify_employer_to_lado_end" sourceRef="notify_employer" targetRef="lado_end" />
"""


@pytest.fixture
def lado_edited(diagram_files):
    """lado.bpmn with a task added, one renamed, one removed and a condition changed."""
    old = diagram_files["lado.bpmn"]
    meeting_start = old.index('    <bpmn:userTask id="allegation_management_meeting"')
    meeting_end = old.index("</bpmn:userTask>", meeting_start) + len("</bpmn:userTask>\n")
    new = old[:meeting_start] + old[meeting_end:]  # remove the meeting task
    new = _edit(
        new,
        ("        <bpmn:flowNodeRef>allegation_management_meeting</bpmn:flowNodeRef>\n",
         "        <bpmn:flowNodeRef>notify_employer</bpmn:flowNodeRef>\n"),
        ('name="Allegation outcome"', 'name="Record the allegation outcome"'),
        ("<bpmn:incoming>flow_allegation_management_meeting_to_lado_outcome</bpmn:incoming>",
         "<bpmn:incoming>flow_threshold_gateway_to_allegation_management_meeting</bpmn:incoming>"),
        ('sourceRef="threshold_gateway" targetRef="allegation_management_meeting"',
         'sourceRef="threshold_gateway" targetRef="lado_outcome"'),
        ("lado_initial_consideration['threshold_met']</bpmn:conditionExpression>",
         "lado_initial_consideration['threshold_met'] and not lado_initial_consideration.get('withdrawn')"
         "</bpmn:conditionExpression>"),
        ('    <bpmn:sequenceFlow id="flow_allegation_management_meeting_to_lado_outcome" '
         'sourceRef="allegation_management_meeting" targetRef="lado_outcome" />\n', ""),
        ('sourceRef="lado_outcome" targetRef="lado_end"', 'sourceRef="lado_outcome" targetRef="notify_employer"'),
        ("  </bpmn:process>", NEW_TASK + "  </bpmn:process>"),
        ('<dc:Bounds x="160" y="90" width="930" height="240" />',  # layout only: not a change
         '<dc:Bounds x="170" y="90" width="930" height="240" />'),
    )
    return old, new


def test_edits_give_exactly_the_added_removed_and_changed_ids(lado_edited):
    old, new = lado_edited
    diff = diff_file("lado.bpmn", old, new)
    assert {e.id for e in diff.added} == {"notify_employer", "flow_notify_employer_to_lado_end"}
    assert {e.id for e in diff.removed} == {"allegation_management_meeting",
                                            "flow_allegation_management_meeting_to_lado_outcome"}
    aspects = {element_id: [c.aspect for c in changes] for element_id, changes in diff.changed.items()}
    assert aspects == {
        "Lane_lado": ["lane members"],
        "lado_outcome": ["name", "incoming"],
        "lado_end": ["incoming"],
        "flow_threshold_gateway_to_allegation_management_meeting": ["attributes", "condition"],
        "flow_lado_outcome_to_lado_end": ["attributes"],
    }
    [rename] = [c for c in diff.changed["lado_outcome"] if c.aspect == "name"]
    assert (rename.before, rename.after) == ("Allegation outcome", "Record the allegation outcome")


def test_timer_property_and_loop_changes_are_named(diagram_files):
    old = diagram_files["safeguarding_case.bpmn"]
    new = _edit(old, ("end_of_day(add_working_days(referral_date, 1))", "end_of_day(add_working_days(referral_date, 2))"),
                ('<spiffworkflow:property name="deadline" value="cads_decision" />',
                 '<spiffworkflow:property name="deadline" value="cads_decision" />\n'
                 '          <spiffworkflow:property name="note" value="two days" />'))
    diff = diff_file("safeguarding_case.bpmn", old, new)
    assert not diff.added and not diff.removed
    assert [c.aspect for c in diff.changed["cads_decision_deadline"]] == ["properties", "timer"]
    assert list(diff.changed) == ["cads_decision_deadline"]
    triage = diagram_files["cads_triage.bpmn"]
    looped = _edit(triage, ('<bpmn:standardLoopCharacteristics loopMaximum="5">',
                            '<bpmn:standardLoopCharacteristics loopMaximum="6">'))
    changed = diff_file("cads_triage.bpmn", triage, looped).changed
    assert [[c.aspect for c in v] for v in changed.values()] == [["loop"]]


def test_sets_compare_per_file_including_added_and_removed_files(diagram_files):
    new_files = dict(diagram_files)
    lado = new_files.pop("lado.bpmn")
    new_files["lado_v2.bpmn"] = lado
    new_files["forms/lado_outcome.json"] = new_files["forms/lado_outcome.json"].replace("}", " }", 1)
    diffs = diff_diagram_sets(diagram_files, new_files)
    assert all(d.empty for name, d in diffs.items() if name not in ("lado.bpmn", "lado_v2.bpmn"))
    assert not diffs["lado.bpmn"].added and "lado_outcome" in {e.id for e in diffs["lado.bpmn"].removed}
    assert "lado_outcome" in {e.id for e in diffs["lado_v2.bpmn"].added}
    assert changed_forms(diagram_files, new_files) == {"forms/lado_outcome.json": "changed"}


def test_elements_and_deadline_timers_read_from_a_file(diagram_files):
    elements = diagram_elements("lado.bpmn", diagram_files["lado.bpmn"])
    assert elements["lado_outcome"].type == "userTask"
    assert "formJsonSchemaFilename = lado_outcome.json" in elements["lado_outcome"].aspects["properties"]
    timers = deadline_timers("safeguarding_case.bpmn", diagram_files["safeguarding_case.bpmn"])
    assert timers["cads_decision"].timer_id == "cads_decision_deadline"
    assert timers["cads_decision"].attached_to == "call_cads_triage"
    # Without the property, the id <key>_deadline names the deadline.
    bare = _edit(diagram_files["child_protection.bpmn"],
                 ('<spiffworkflow:property name="deadline" value="icpc" />', ""))
    assert deadline_timers("child_protection.bpmn", bare)["icpc"].timer_id == "icpc_deadline"


def test_unsafe_xml_is_refused():
    with pytest.raises(DiagramError):
        diff_file("x.bpmn", None, '<!DOCTYPE x [<!ENTITY e "boom">]><x>&e;</x>')
