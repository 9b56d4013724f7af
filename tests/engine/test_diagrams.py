"""The shipped diagram set passes every check; corrupt or dangerous diagrams are refused by name."""
from __future__ import annotations

import pytest

from engine import DiagramError, load_diagram_set
from engine.checks import CONTRACT_TASKS, check_diagram_files


def test_shipped_diagrams_pass_every_check(diagram_files):
    assert check_diagram_files(diagram_files) == []


def test_every_user_task_has_a_role_form_and_instructions(diagrams):
    assert len(diagrams.user_tasks) >= 25
    for (process, bpmn_id), info in diagrams.user_tasks.items():
        assert info.lane, bpmn_id
        assert info.form.schema["type"] == "object"
        assert info.instructions.strip(), f"{process}/{bpmn_id} has no instructions"
    assert set(CONTRACT_TASKS) <= {bpmn_id for _process, bpmn_id in diagrams.user_tasks}


def test_every_declared_statutory_deadline_has_its_timer_in_the_diagrams(diagrams):
    from engine import DEADLINE_KEYS
    assert diagrams.deadline_keys == set(DEADLINE_KEYS)


def test_a_timer_for_an_undeclared_deadline_is_refused_when_the_diagrams_load():
    """Its due date would have no column to go to: the process owner is told to declare it."""
    from engine import DiagramError, load_diagram_set, read_diagram_files
    files = read_diagram_files()
    text = files["child_protection.bpmn"]
    assert 'value="icpc"' in text
    files["child_protection.bpmn"] = text.replace('name="deadline" value="icpc"', 'name="deadline" value="icpc_booking"')
    with pytest.raises(DiagramError, match="icpc_booking.*not declared.*engine/deadlines.py"):
        load_diagram_set(files)


def test_instructions_render_with_case_data(engine, diagrams):
    from tests.engine.test_lifecycle import start
    outcome = start(engine, diagrams)
    [decision] = outcome.tasks
    assert "{{" not in decision.instructions


def variant(files, name, old, new):
    assert old in files[name], f"{old!r} not found in {name}"
    changed = dict(files)
    changed[name] = files[name].replace(old, new, 1)
    return changed


@pytest.mark.parametrize("old, new, element, reason", [
    ('value="assessment.json"', 'value="missing.json"', "assessment", "does not exist"),
    ('name="social_worker"', 'name="wizard"', None, "not a known role"),
    ('value="add_working_days(referral_date, 45)"', 'value="__import__(\'os\').system(\'id\')"',
     "assessment", "refused"),
    ('value="add_working_days(referral_date, 45)"', 'value="().__class__.__base__"', "assessment", "refused"),
])
def test_corrupt_diagrams_are_refused_naming_the_element(diagram_files, old, new, element, reason):
    files = variant(diagram_files, "assessment.bpmn", old, new)
    with pytest.raises(DiagramError) as raised:
        load_diagram_set(files)
    assert reason in str(raised.value)
    if element:
        assert element in raised.value.element
    problems = check_diagram_files(files)
    assert any(reason in p.reason for p in problems)


def test_malformed_xml_and_entities_are_refused(diagram_files):
    broken = dict(diagram_files, **{"assessment.bpmn": diagram_files["assessment.bpmn"][:-40]})
    with pytest.raises(DiagramError, match="not well-formed"):
        load_diagram_set(broken)
    bomb = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>'
    with pytest.raises(DiagramError, match="DOCTYPE"):
        load_diagram_set(dict(diagram_files, **{"evil.bpmn": bomb}))


def test_a_sequence_flow_cycle_is_reported(diagram_files):
    cycle = ('<bpmn:sequenceFlow id="loop_back" sourceRef="assessment_process_end" targetRef="assessment" />'
             '\n  </bpmn:process>')
    files = variant(diagram_files, "assessment.bpmn", "</bpmn:process>", cycle)
    problems = check_diagram_files(files)
    assert any("cycle" in p.reason for p in problems)


def test_an_unknown_call_activity_target_is_reported(diagram_files):
    files = variant(diagram_files, "safeguarding_case.bpmn", 'calledElement="lado', 'calledElement="nowhere')
    problems = check_diagram_files(files)
    assert any("no file defines" in p.reason for p in problems)


def test_a_contract_code_change_is_reported(diagram_files):
    import json
    form = json.loads(diagram_files["forms/icpc.json"])
    form["properties"]["outcome"]["enum"] = ["plan", "no_plan"]
    problems = check_diagram_files(dict(diagram_files, **{"forms/icpc.json": json.dumps(form)}))
    assert any(p.element == "icpc" and "contract" in p.reason for p in problems)


def test_a_failing_expression_at_run_time_names_its_element(engine, diagram_files):
    from engine import EngineError
    from tests.engine.test_lifecycle import start
    files = variant(diagram_files, "safeguarding_case.bpmn", 'tFormalExpression">immediate_danger<',
                    'tFormalExpression">no_such_key<')
    diagrams = load_diagram_set(files)
    with pytest.raises(EngineError) as raised:
        start(engine, diagrams)
    assert "immediate_danger_gateway" in str(raised.value) and "no_such_key" in str(raised.value)
