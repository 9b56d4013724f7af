"""The safeguarding command line: every command, and errors as one line with no traceback."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from store.demo import FORM_EXAMPLES


def write(tmp_path, name, data):
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def test_a_case_from_contact_to_decision(cli, tmp_path):
    assert cli("init")[0] == 0
    assert cli("users", "add", "co", "--name", "Chris", "--role", "contact_officer")[0] == 0
    assert cli("users", "add", "cads", "--role", "cads_social_worker")[0] == 0
    contact = dict(FORM_EXAMPLES["contact.json"], received_on="2026-11-20")
    contact["children"] = contact["children"][:1]
    code, out, _ = cli("contact", write(tmp_path, "contact.json", contact), "--as", "co")
    assert code == 0 and "case C000001" in out and "CADS decision" in out
    code, out, _ = cli("tasks", "--role", "cads_social_worker", "--json")
    [task] = json.loads(out)
    assert task["task"] == "cads_decision" and task["due"] == "2026-11-23"
    code, out, _ = cli("tasks", "--user", "cads")
    assert task["id"] in out
    decision = dict(FORM_EXAMPLES["cads_decision.json"], decision="nfa", decided_on="2026-11-20")
    code, out, err = cli("complete", task["id"][:8], "--as", "cads", "--data", write(tmp_path, "d.json", decision))
    assert code == 0, err
    assert "Feedback to referrer" in out or "feedback" in out.lower()
    code, out, _ = cli("case", "1")
    assert code == 0 and "Chronology:" in out and "CADS decision" in out and "cads_decision" in out
    code, out, _ = cli("case", "C000001", "--json")
    assert json.loads(out)["statutory"]["cads_decision"] == "nfa"
    code, out, _ = cli("worker", "--once", "--now", "2026-11-20T12:00Z")
    assert code == 0 and "0 case(s)" in out


@pytest.mark.parametrize("args, message", [
    (["case", "42"], "no case 42"),
    (["complete", "deadbeef", "--as", "nobody", "--data", "missing.json"], "cannot read missing.json"),
    (["complete", "deadbeef", "--as", "nobody", "--data", "{tmp}/empty.json"], "no user 'nobody'"),
    (["users", "add", "x", "--role", "wizard"], "unknown role"),
    (["contact", "missing.json", "--as", "nobody"], "cannot read missing.json"),
    (["case", "xyz"], "not a case id"),
])
def test_errors_are_one_clear_line(cli, tmp_path, args, message):
    (tmp_path / "empty.json").write_text("{}")
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    cli("init")
    code, out, err = cli(*args)
    assert code == 2
    assert message in err
    assert "Traceback" not in err


def test_invalid_json_and_invalid_contact(cli, tmp_path):
    cli("init")
    cli("users", "add", "co", "--role", "contact_officer")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    code, _, err = cli("contact", bad, "--as", "co")
    assert code == 2 and "not valid JSON" in err
    code, _, err = cli("contact", write(tmp_path, "c.json", {"channel": "carrier_pigeon"}), "--as", "co")
    assert code == 2 and "received_on" in err and "channel" in err


def test_console_script_runs_without_a_traceback(tmp_path):
    exe = Path(sys.executable).with_name("safeguarding")
    result = subprocess.run([str(exe), "--database", f"sqlite:///{tmp_path / 'x.db'}", "case", "7"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip() == "error: no case 7"


def test_the_shipped_examples_work(cli):
    """README and scripts/run point at examples/: they must stay valid."""
    root = Path(__file__).resolve().parent.parent
    cli("init")
    cli("users", "add", "contact.officer", "--role", "contact_officer")
    cli("users", "add", "cads.sw", "--role", "cads_social_worker")
    code, out, err = cli("contact", root / "examples/contact.json", "--as", "contact.officer")
    assert code == 0, err
    code, out, _ = cli("tasks", "--role", "cads_social_worker", "--json")
    task_id = json.loads(out)[0]["id"]
    code, out, err = cli("complete", task_id, "--as", "cads.sw", "--data", root / "examples/cads_decision.json")
    assert code == 0, err
    assert "Assessment" in out


def test_diagrams_check_passes_the_shipped_set_and_names_problems(cli, tmp_path):
    root = Path(__file__).resolve().parent.parent
    shipped = sorted(str(p) for p in (root / "bpmn").glob("*.bpmn"))
    code, out, _ = cli("diagrams", "check", *shipped)
    assert code == 0 and out.strip().endswith("0 problem(s) in 11 diagram(s)")
    broken = tmp_path / "assessment.bpmn"
    text = (root / "bpmn/assessment.bpmn").read_text()
    broken.write_text(text.replace('value="add_working_days(referral_date, 45)"', 'value="__import__(\'os\')"'))
    (tmp_path / "forms").mkdir()
    (tmp_path / "forms/assessment.json").write_text((root / "bpmn/forms/assessment.json").read_text())
    code, out, _ = cli("diagrams", "check", broken)
    assert code == 1
    assert "assessment.bpmn: assessment_process/assessment: expression" in out and "refused" in out
