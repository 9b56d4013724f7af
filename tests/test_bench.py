"""The benchmark's smoke run: ``safeguarding bench --quick`` writes every section (no time is asserted)."""
from __future__ import annotations

import hashlib
import json
import tempfile
from datetime import date
from pathlib import Path

import pytest

from store.models import Task
from tests.conftest import POSTGRES_URL
from webui.cli import main
from webui.cli.bench import DEFAULT_OUT

SECTIONS = ("machine", "completion", "engine_floor", "caseload", "case_age", "reads", "http", "memory", "targets")


def _snapshot(folder: Path) -> dict[str, tuple[int, str]]:
    return {p.name: (p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest()) for p in folder.iterdir()}


def test_quick_bench_writes_every_section(tmp_path, capsys, monkeypatch):
    """Without --out, the smoke run writes to a new temporary folder and leaves the recorded results alone."""
    recorded = _snapshot(DEFAULT_OUT)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # so the fresh folder is cleaned up with tmp_path
    assert main(["bench", "--quick", "--postgres", POSTGRES_URL]) == 0
    said = capsys.readouterr().out
    out = Path(said.splitlines()[-1].removeprefix("results in "))
    assert out.parent == tmp_path and out.name.startswith("sgw-bench-quick-")
    assert _snapshot(DEFAULT_OUT) == recorded
    results = json.loads((out / "results.json").read_text())
    assert set(SECTIONS) <= set(results)
    assert len(results["caseload"]) == 3 and results["caseload"][0]["cases"] < results["caseload"][-1]["cases"]
    # the caseloads (each kept in its own copy of the database) are measured in turns, three floor
    # steps after each completion
    assert len({point["samples"] for point in results["caseload"]}) == 1
    assert all(point["engine_floor"]["samples"] == 3 * point["samples"] > 0 for point in results["caseload"])
    assert results["completion"]["cases"] == results["caseload"][-1]["cases"]
    assert [a["review"] for a in results["case_age"]] == [1, 3]
    assert all(a["state_bytes"] > 0 and a["median_ms"] > 0 for a in results["case_age"])
    assert {"inbox", "case_page", "calendar_month"} <= set(results["reads"])
    assert all(results["reads"][page]["status"] == 200 for page in ("inbox", "case_page", "calendar_month"))
    assert [h["database"] for h in results["http"]] == ["sqlite", "postgresql"]
    assert all(h["completions_per_s"] > 0 and h["contact"]["samples"] > 0 for h in results["http"])
    # one client's completions and the floor steps they are compared with are taken in turns
    assert all(h["single_client_complete"]["samples"] == h["engine_floor"]["samples"] > 0 for h in results["http"])
    assert [m["completions"] >= want for m, want in zip(results["memory"]["marks"], (60, 120))] == [True, True]
    assert len(results["targets"]) == 11 and all(t["value"] is not None for t in results["targets"])
    markdown = (out / "results.md").read_text()
    for heading in ("## Targets", "## Caseload", "## Case age", "## Reads", "## Over HTTP", "## Web worker memory"):
        assert heading in markdown
    assert (out / "results.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_bench_writes_where_it_is_told(tmp_path, monkeypatch, capsys):
    """--out wins; a full run without it records its results in bench/results/ (the run itself is faked)."""
    import bench
    import bench.run
    written = []
    monkeypatch.setattr(bench.run, "run", lambda out, profile, postgres, log: written.append((out, profile.name))
                        or {"targets": []})
    assert main(["bench", "--quick", "--out", str(tmp_path)]) == 0
    assert main(["bench"]) == 0
    assert written == [(tmp_path, "quick"), (Path(bench.__file__).resolve().parent / "results", "full")]
    assert capsys.readouterr().out.splitlines() == [f"results in {tmp_path}", f"results in {DEFAULT_OUT}"]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_case_age_templates_wait_at_the_same_place(app):
    """A plan's drive stops when its review conference opens; settled, every template waits at the
    review with the plan's running core group meeting beside it (core groups meet until the plan
    ends), so the first and a later review are the same step."""
    from bench import seed
    by_role = seed.users(app.service)
    plans = [seed.drive_template(app.service, seed.long_plan(), by_role, date(2012 + 4 * i, 3, 5), review=n,
                                 settled=True) for i, n in enumerate((1, 3))]
    waiting = [sorted(t.bpmn_id for t in Task.select().where(Task.case == case_id)) for case_id in plans]
    assert waiting == [["core_group_meeting", "review_conference"], ["core_group_meeting", "review_conference"]]


def test_the_load_clients_answers_are_read_whole_or_refused():
    from bench.load import _parse_answer
    body = b'{"tasks": []}'
    whole = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    assert _parse_answer(whole) == (200, {"tasks": []})
    assert _parse_answer(b"HTTP/1.1 404 NOT FOUND\r\nContent-Length: 0\r\n\r\n") == (404, {})
    with pytest.raises(ConnectionError, match="ended after"):
        _parse_answer(whole[:-3])  # the server closed mid-answer
    with pytest.raises(ConnectionError, match="not an HTTP answer"):
        _parse_answer(b"")
