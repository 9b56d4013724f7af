"""The command line for diagram versions: publish (refusing problems), list, migrate."""
from __future__ import annotations

import json
from pathlib import Path

from engine import read_diagram_files
from store.demo import FORM_EXAMPLES
from tests.engine.migration_helpers import with_home_visit


def write_set(directory: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_text(text)
    return directory


def test_publish_list_and_migrate(cli, tmp_path):
    assert cli("init")[0] == 0
    assert cli("users", "add", "owner", "--role", "process_owner")[0] == 0
    assert cli("users", "add", "co", "--role", "contact_officer")[0] == 0
    assert cli("users", "add", "sw", "--role", "social_worker")[0] == 0
    contact = dict(FORM_EXAMPLES["contact.json"], received_on="2026-11-20")
    contact["children"] = contact["children"][:1]
    (tmp_path / "contact.json").write_text(json.dumps(contact))
    assert cli("contact", tmp_path / "contact.json", "--as", "co")[0] == 0

    files = with_home_visit(read_diagram_files())
    broken = dict(files, **{"assessment.bpmn": files["assessment.bpmn"].replace('name="social_worker"', 'name="wizard"')})
    code, out, _ = cli("diagrams", "publish", write_set(tmp_path / "broken", broken), "--as", "owner")
    assert code == 1 and "assessment.bpmn: Lane_social_worker: lane name 'wizard' is not a known role" in out
    assert "nothing was published" in out
    code, out, err = cli("diagrams", "publish", write_set(tmp_path / "good", files), "--as", "sw")
    assert code != 0 and "only a process owner" in err

    code, out, err = cli("diagrams", "publish", tmp_path / "good", "--as", "owner", "--note", "Home visit")
    assert code == 0, err
    version = out.split("version ")[1].split(";")[0]
    code, out, _ = cli("diagrams", "list")
    lines = out.splitlines()
    assert code == 0 and len(lines) == 2
    assert lines[0].startswith(f"* {version}") and "published" in lines[0] and "Home visit" in lines[0]
    assert "1 open case(s)" in lines[1]

    code, out, _ = cli("diagrams", "migrate", version[:8], "--as", "owner", "--dry-run")
    assert code == 0 and "C000001 from" in out and "can move" in out
    code, out, err = cli("diagrams", "migrate", version[:8], "--as", "sw")
    assert code != 0 and "only a process owner" in err
    code, out, _ = cli("diagrams", "migrate", version, "--as", "owner")
    assert code == 0 and "C000001 from" in out and ": moved: no active task was removed or changed" in out
    code, out, _ = cli("case", "C000001")
    assert "Moved from diagram version" in out
    code, out, err = cli("diagrams", "migrate", "zzzzzzzz", "--as", "owner")
    assert code != 0 and "no single diagram version" in err
