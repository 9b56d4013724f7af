"""The benchmark: seed, measure every section, write JSON, Markdown and a plot to bench/results/.

Sizes come from a profile: ``full`` (the targets' sizes) or ``quick`` (a smoke run of under
two minutes for CI, which asserts nothing about time).
"""
from __future__ import annotations

import gc
import os
import platform
import shutil
import sqlite3
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Callable

from engine import SystemClock
from store import app_context
from store.db import database, make_database
from store.demo import FORM_EXAMPLES, build_form, contact_payload
from store.models import Case, CaseState, ChronologyEntry, Conference, Task, User
from webui.serving import tune_worker

from . import load, seed
from .measure import Samples, floor_step, stock_step, summary, timed


@dataclass(frozen=True)
class Profile:
    """How big and how long each section is."""

    name: str
    caseloads: tuple[int, ...]
    samples: int
    age_reviews: tuple[int, int]
    http_seconds: float
    http_clients: int
    http_workers: int
    memory_marks: tuple[int, int]


# Three gunicorn workers on two cores (each with two clients): on this machine that served the most
# completions on both databases (10 s runs, PostgreSQL: 2 workers 128/s, 3: 139, 4: 130, 6: 114).
FULL = Profile("full", (1_000, 10_000, 100_000), 100, (1, 20), 30.0, 6, 3, (10_000, 20_000))
QUICK = Profile("quick", (200, 400, 800), 6, (1, 3), 3.0, 4, 2, (60, 120))
Log = Callable[[str], None]


def run(out_dir: Path, profile: Profile, postgres_url: str | None, log: Log = print) -> dict[str, Any]:
    """Run every section; write results.json, results.md and results.png into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="sgw-bench-"))
    try:
        return _run(out_dir, work, profile, postgres_url, log)
    finally:
        shutil.rmtree(work, ignore_errors=True)  # the seeded database (gigabytes at full size)


def _run(out_dir: Path, work: Path, profile: Profile, postgres_url: str | None, log: Log) -> dict[str, Any]:
    results: dict[str, Any] = {"profile": profile.name, "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                               "machine": machine(postgres_url)}
    began = time.monotonic()
    sqlite_url = f"sqlite:///{work / 'bench.db'}"
    ctx = app_context(sqlite_url, SystemClock())
    service = ctx.service
    by_role = seed.users(service)
    log("seeding templates and driving long plans")
    templates: dict[str, int] = {}
    copier = seed.Copier()
    plans = {n: seed.drive_template(service, seed.long_plan(), by_role, date(2012 + i * 4, 3, 5), review=n,
                                    settled=True) for i, n in enumerate(profile.age_reviews)}
    # Each caseload is kept (a copy of the database file, page for page) as the seeding grows the
    # database to the next; all are then measured in turns, sample by sample, so a drift in the
    # machine's speed slows every caseload alike (as the case ages are measured).
    points: list[tuple[int, Any]] = []
    for size in profile.caseloads:
        seed.seed(service, by_role, size, templates, copier)
        log(f"caseload {Case.select().count()} seeded")
        last = size == profile.caseloads[-1]
        points.append((size, ctx.db if last else _kept_copy(ctx.db, work / f"caseload-{size}.db")))
    # As a web or timer worker runs steps (webui/serving.py); what seeding left is frozen out
    # of collection, as a worker's start-up is: the heap the steps run in is not the seeder's.
    gc.collect()
    tune_worker()
    log("measuring task completion at every caseload, in turns")
    caseload = _caseloads_in_turns(service, points, templates["awaiting_cads_decision"], "cads_decision",
                                   {"decision": "assessment"}, by_role, profile.samples)
    results["caseload"] = caseload
    largest = caseload[-1]
    results["completion"] = {"task": "cads_decision (decision: assessment)", "cases": largest["cases"],
                             **{k: v for k, v in largest.items() if k not in ("cases", "open_tasks", "engine_floor")}}
    results["engine_floor"] = {"task": "cads_decision (decision: assessment)", **largest["engine_floor"]}
    results["stock_spiffworkflow"] = {"task": "cads_decision (decision: assessment)", **summary(timed(
        _floor_step(service, templates["awaiting_cads_decision"], "cads_decision", {"decision": "assessment"},
                    stock=True), profile.samples))}
    log("case age")
    results["case_age"] = _ages(service, copier, plans, by_role, profile.samples)
    log("reads")
    # a plan at its fifth review has about fifty chronology entries: the case page's subject
    page_case = seed.drive_template(service, seed.long_plan(), by_role, date(2024, 3, 4), review=5)
    results["reads"] = _reads(sqlite_url, service, {**templates, "page_case": page_case}, plans, profile.samples * 3)
    log("HTTP under load (SQLite)")
    results["http"] = [_http("sqlite", sqlite_url, service, copier, templates, by_role, profile, work, log)]
    ctx.db.close()
    if postgres_url:
        log("HTTP under load (PostgreSQL)")
        pg_url = _postgres_schema(postgres_url)
        pg = app_context(pg_url, SystemClock())
        pg_roles = seed.users(pg.service)
        results["http"].append(_http("postgresql", pg_url, pg.service, seed.Copier(), {}, pg_roles, profile, work, log))
        pg.db.close()
        _drop_postgres_schema(postgres_url, pg_url)
    log("web worker memory")
    ctx = app_context(sqlite_url, SystemClock())  # the models' database is the SQLite file again
    results["memory"] = _memory(sqlite_url, service, copier, templates, by_role, profile, work, log)
    results["duration_s"] = round(time.monotonic() - began, 1)
    results["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    results["targets"] = targets(results)
    from .report import write
    write(results, out_dir)
    return results


# -- sections ---------------------------------------------------------------------------------
def _worker(task: Task, by_role: dict[str, str]) -> str:
    return task.assignee.username if task.assignee_id else by_role[task.role]


def _kept_copy(db, path: Path):
    """A copy of the SQLite database ``db`` at ``path`` (SQLite's backup: page for page, so the
    copy is laid out as the database was), connected as ``db`` is."""
    source = sqlite3.connect(db.database)
    target = sqlite3.connect(path)
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()
    copy = make_database(f"sqlite:///{path}")
    copy.connect()
    return copy


def _caseloads_in_turns(service, points: list[tuple[int, Any]], template: int, bpmn_id: str, overrides: dict,
                        by_role: dict[str, str], samples: int) -> list[dict[str, Any]]:
    """In process, on fresh copies of a template in each caseload's database: load, complete,
    engine, write, commit (service.complete_task), each followed by three engine-floor steps of
    the same step, so a completion and its floor see the same conditions (the machine's load, the
    process's heap and its garbage collections) and their ratio means something; the caseloads
    take turns, sample by sample (the models' database is switched for each)."""
    main = database.obj
    step = _floor_step(service, template, bpmn_id, overrides)
    found: list[tuple[Samples, Samples]] = []
    copies = []
    try:
        for _size, db in points:
            database.initialize(db)
            copies.append(seed.Copier().copy(template, samples))
            found.append((Samples(), Samples()))
        for turn in zip(*copies):
            for (_size, db), case_id, (completions, floor) in zip(points, turn, found):
                database.initialize(db)
                _completion_and_floor(service, case_id, bpmn_id, overrides, by_role, step, completions, floor)
        rows = []
        for (_size, db), (completions, floor) in zip(points, found):
            database.initialize(db)
            rows.append({"cases": Case.select().count(), "open_tasks": Task.select().count(), **summary(completions),
                         "engine_floor": summary(floor)})
        return rows
    finally:
        database.initialize(main)
        for _size, db in points:
            if db is not main:
                db.close()


def _side_by_side(service, copier: seed.Copier, templates: list[int], bpmn_id: str, overrides: dict,
                  by_role: dict[str, str], samples: int) -> list[tuple[Samples, Samples]]:
    """Completions of the same task on several templates with their floors (as in
    ``_caseloads_in_turns``), taking turns sample by sample: a machine whose speed drifts during
    the run (seen here: the engine floor 6 ms at one review's turn, 11 ms at the next one's) slows
    each of them alike, so their ratio is the code's."""
    copies = [copier.copy(template, samples) for template in templates]
    steps = [_floor_step(service, template, bpmn_id, overrides) for template in templates]
    results = [(Samples(), Samples()) for _ in templates]
    for turn in zip(*copies):
        for case_id, step, (found, floor) in zip(turn, steps, results):
            _completion_and_floor(service, case_id, bpmn_id, overrides, by_role, step, found, floor)
    return results


def _completion_and_floor(service, case_id: int, bpmn_id: str, overrides: dict, by_role: dict[str, str],
                          step: Callable[[], None], found: Samples, floor: Samples) -> None:
    """One timed completion of ``bpmn_id`` on the case (into ``found``), then three floor steps (into ``floor``)."""
    task = Task.get((Task.case == case_id) & (Task.bpmn_id == bpmn_id))
    form = build_form(task.form_name, overrides, service.clock.now().date(), service.engine.calendar)
    username = _worker(task, by_role)
    timed(lambda: service.complete_task(task.id, username, form, token=task.token), 1, into=found)
    timed(step, 3, into=floor)


def _floor_step(service, template: int, bpmn_id: str, overrides: dict, stock: bool = False) -> Callable[[], None]:
    """The engine floor (bench/measure.py) of completing ``bpmn_id`` on the template case
    (``stock``: with SpiffWorkflow's stock serializer instead)."""
    case = Case.get_by_id(template)
    diagrams = service.diagrams_for(case.diagram_version_id)
    state = CaseState.get_by_id(template).state
    task = Task.get((Task.case == template) & (Task.bpmn_id == bpmn_id))
    form = build_form(task.form_name, overrides, service.clock.now().date(), service.engine.calendar)
    return (stock_step if stock else floor_step)(service.engine, diagrams, state, task.id, form, service.clock.now(),
                                                 bpmn_id)


def _ages(service, copier, plans: dict[int, int], by_role, samples: int) -> list[dict[str, Any]]:
    """Completing the n-th review conference (continuing the plan) for each n, in turns, and the stored case's size."""
    # the copies' conferences are booked across two years (seed.Copier): each is held on the run's day
    overrides = {"outcome": "continue_plan", "categories": ["neglect"],
                 "reason_held_on_another_day": "Held on the benchmark's day"}
    reviews = sorted(plans)
    measured = _side_by_side(service, copier, [plans[n] for n in reviews], "review_conference", overrides, by_role,
                             samples)
    return [{"review": n, "state_bytes": len(CaseState.get_by_id(plans[n]).state),
             "chronology_entries": ChronologyEntry.select().where(ChronologyEntry.case == plans[n]).count(),
             **summary(timings), "engine_floor": summary(floor)} for n, (timings, floor) in zip(reviews, measured)]


def _reads(url: str, service, templates: dict[str, int], plans: dict[int, int], samples: int) -> dict[str, Any]:
    """A role's inbox (first page), a case page, a chair's calendar month: full pages over the WSGI app."""
    from webui.app import create_app
    _set_passwords()
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "WTF_CSRF_ENABLED": False})
    client = app.test_client()
    found: dict[str, Any] = {"open_tasks": Task.select().count(), "cases": Case.select().count()}

    def page(username: str, path: str) -> dict[str, Any]:
        client.post("/logout")
        assert client.post("/login", data={"username": username, "password": "bench-password"}).status_code == 302
        status = client.get(path).status_code
        return {"path": path, "status": status, **summary(timed(lambda: client.get(path), samples))}

    found["inbox"] = page("cads.sw", "/?role=cads_social_worker")
    case_id, entries = _case_with_chronology(list(templates.values()) + list(plans.values()), 50)
    reader = Case.get_by_id(case_id).allocated_worker
    found["case_page"] = {"chronology_entries": entries,
                          **page(reader.username if reader else "tm.claire", f"/cases/{case_id}")}
    month = _busiest_month()
    found["calendar_month"] = page("chair.helen", f"/conferences/calendar?view=month&on={month.isoformat()}")
    return found


def _case_with_chronology(case_ids: list[int], wanted: int) -> tuple[int, int]:
    counts = {cid: ChronologyEntry.select().where(ChronologyEntry.case == cid).count() for cid in case_ids}
    best = min(counts, key=lambda cid: abs(counts[cid] - wanted))
    return best, counts[best]


def _busiest_month() -> date:
    days = [c.scheduled_for for c in Conference.select(Conference.scheduled_for).where(
        Conference.scheduled_for.is_null(False)).order_by(Conference.scheduled_for).limit(5000)]
    months: dict[date, int] = {}
    for day in days:
        months[day.replace(day=1)] = months.get(day.replace(day=1), 0) + 1
    return max(months, key=months.get) if months else date.today().replace(day=1)


def _set_passwords() -> None:
    from argon2 import PasswordHasher
    User.update(password_hash=PasswordHasher().hash("bench-password")).execute()


def _meeting_cases(service, copier, templates, by_role, count: int) -> list[str]:
    """Open core group meeting tasks on ``count`` copies of a plan at its core group."""
    if "cp_plan_core_group" not in templates:
        templates["cp_plan_core_group"] = seed.drive_template(service, seed.STAGES_BY_NAME["cp_plan_core_group"], by_role)
    cases = copier.copy(templates["cp_plan_core_group"], count)
    return [t.id for t in Task.select().where(Task.case.in_(cases), Task.bpmn_id == "core_group_meeting")]


def _tokens(service) -> tuple[str, str]:
    from store.tokens import issue_token
    now = service.clock.now()
    return issue_token("sw.priya", now), issue_token("contact.officer", now)


def _meeting_form(service) -> dict:
    form = build_form("core_group_meeting.json", {},
                      service.clock.now().date(), service.engine.calendar)
    return form


def _http(kind: str, url: str, service, copier, templates, by_role, profile: Profile, work: Path, log: Log) -> dict:
    tasks = _meeting_cases(service, copier, templates, by_role, profile.http_clients * 4)
    worker_token, contact_token = _tokens(service)
    contact = contact_payload(seed.STAGES[0][0], service.clock.now().date(), 3)
    meeting = _meeting_form(service)

    def floor_of(task_id: str) -> Callable[[], None]:
        """The floor of completing this meeting, on its case's state as stored now."""
        return _floor_step(service, Task.get_by_id(task_id).case_id, "core_group_meeting", {})
    with load.gunicorn(url, profile.http_workers, work / f"gunicorn-{kind}.log") as (port, _server):
        _warm_up(port, worker_token, contact_token, tasks, contact, profile.http_workers, meeting)
        # One client's completions, each followed by a floor step of the same task here, in turns,
        # so both see the machine at the same speed (as in process: _side_by_side).
        single, floor = _single_client(port, worker_token, tasks, meeting, floor_of, max(profile.samples, 20) * 5)
        loaded = load.run_load(port, worker_token, contact_token, tasks, contact, profile.http_clients,
                               profile.http_seconds, 100_000, meeting)
    done = len(loaded["latencies"]["complete"]) + len(loaded["latencies"]["contact"])
    log(f"  {kind}: {done / loaded['wall_s']:.0f} requests/s")
    return {"database": kind, "workers": profile.http_workers, "clients": profile.http_clients,
            "seconds": round(loaded["wall_s"], 1), "requests": done,
            "throughput_per_s": round(done / loaded["wall_s"], 1),
            "completions_per_s": round(len(loaded["latencies"]["complete"]) / loaded["wall_s"], 1),
            "failures": loaded["failures"], "failure_reasons": loaded["failure_reasons"],
            "client_cpu_share": round(loaded["client_cpu_s"] / (loaded["wall_s"] * (os.cpu_count() or 1)), 3),
            "complete": summary(loaded["latencies"]["complete"]), "contact": summary(loaded["latencies"]["contact"]),
            "single_client_complete": summary(single),
            "engine_floor": {"task": "core_group_meeting", **summary(floor)}}


def _single_client(port: int, token: str, tasks: list[str], meeting: dict,
                   floor_of: Callable[[str], Callable[[], None]], turns: int) -> tuple[Samples, Samples]:
    """``turns`` completions over HTTP by one client (on its own case, as the load's clients do),
    each followed by one engine-floor step in this process while the server is idle: the floor of
    the same step on the same stored state (``floor_of(task id)``, taken just before). Each
    meeting a case holds adds to its stored state (the loop keeps the ids of its turns), so after
    hundreds of them the case is not the template it was copied from."""
    client = load.Client(port, token)
    completion = load.completion_body(meeting)
    completions, floor = Samples(), Samples()
    try:
        for _ in range(turns):
            floor_step = floor_of(tasks[0])
            start = time.perf_counter()
            status, tasks[0], body = load.complete_meeting(client, tasks[0], completion)
            if status != 200:
                raise RuntimeError(f"a single client's completion failed: {status} {body}")
            completions.append(time.perf_counter() - start)
            timed(floor_step, 1, into=floor)
    finally:
        client.close()
    return completions, floor


def _warm_up(port: int, worker_token: str, contact_token: str, tasks: list[str], contact: dict, workers: int,
             meeting: dict) -> None:
    """Each worker parses the diagrams and compiles its templates on its first requests: not measured."""
    load.run_load(port, worker_token, contact_token, tasks, contact, workers, 60.0, workers * 6, meeting)


def _memory(url: str, service, copier, templates, by_role, profile: Profile, work: Path, log: Log) -> dict:
    """One web worker's resident memory after N and 2N completions over HTTP."""
    tasks = _meeting_cases(service, copier, templates, by_role, profile.http_clients * 4)
    worker_token, contact_token = _tokens(service)
    meeting = _meeting_form(service)
    contact = contact_payload(seed.STAGES[0][0], service.clock.now().date(), 3)
    marks = []
    with load.gunicorn(url, 1, work / "gunicorn-memory.log") as (port, server):
        _warm_up(port, worker_token, contact_token, tasks, contact, 1, meeting)
        done = 0
        for mark in profile.memory_marks:
            while done < mark:
                batch = load.run_load(port, worker_token, contact_token, tasks, contact, profile.http_clients,
                                      3600.0, int((mark - done) * 1.25) + 1, meeting)
                if not batch["latencies"]["complete"]:
                    raise RuntimeError(f"no completion succeeded over HTTP: {batch['failures']}")
                done += len(batch["latencies"]["complete"])
            rss = load.worker_rss_kb(server)
            marks.append({"completions": done, "rss_kb": rss[0] if rss else None})
            log(f"  after {done} completions: {marks[-1]['rss_kb']} kB")
    growth = (marks[1]["rss_kb"] / marks[0]["rss_kb"] - 1) if marks[0]["rss_kb"] else None
    return {"marks": marks, "growth": round(growth, 4) if growth is not None else None}


# -- machine and targets ----------------------------------------------------------------------
def machine(postgres_url: str | None) -> dict[str, Any]:
    """What this machine is (the benchmark's numbers mean little without it)."""
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    memory = next((line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal")), "?")
    found = {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": round(int(memory) / 1024 / 1024, 1),
             "os": platform.platform(), "python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
             "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
             "note": "wall-clock numbers include any waiting for a core, CPU medians (cpu_median_ms) do not; "
                     "the load averages at the start and the end show whether other work shared the cores"}
    if postgres_url:
        db = make_database(postgres_url)
        db.connect()
        found["postgresql"] = db.execute_sql("SHOW server_version").fetchone()[0]
        db.close()
    return found


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target of the issue: the measured value and whether it is met."""
    floor = results["engine_floor"]["median_ms"]
    loads = results["caseload"]
    ages = results["case_age"]
    reads = results["reads"]
    rows = [
        ("Completion in process / engine floor", results["completion"]["median_ms"] / floor, "<= 1.5", 1.5),
        ("Completion in process / engine floor, CPU time (waiting for a core left out)",
         results["completion"]["cpu_median_ms"] / results["engine_floor"]["cpu_median_ms"], "<= 1.5", 1.5),
    ]
    for run in results["http"]:
        rows.append((f"Completion over HTTP ({run['database']}) / engine floor",
                     run["single_client_complete"]["median_ms"] / run["engine_floor"]["median_ms"], "<= 2", 2.0))
    rows += [
        (f"Completion at {loads[-1]['cases']:,} / at {loads[0]['cases']:,} cases", loads[-1]["median_ms"] / loads[0]["median_ms"], "<= 1.1", 1.1),
        (f"Review {ages[-1]['review']} / review {ages[0]['review']}", ages[-1]["median_ms"] / ages[0]["median_ms"], "<= 1.5", 1.5),
        ("Inbox first page p95 (ms)", reads["inbox"]["p95_ms"], "< 20", 20.0),
        ("Case page p95 (ms)", reads["case_page"]["p95_ms"], "< 50", 50.0),
    ]
    for run in results["http"]:
        rows.append((f"Completions per second over HTTP ({run['database']})", run["completions_per_s"], ">= 150", None))
    rows.append(("Worker memory growth, N to 2N completions", results["memory"]["growth"], "< 0.10", 0.10))
    found = []
    for name, value, target, limit in rows:
        met = (value >= 150) if limit is None else (value <= limit if target.startswith("<=") else value < limit)
        found.append({"target": name, "value": round(value, 3) if value is not None else None, "wanted": target,
                      "met": bool(value is not None and met)})
    return found


def _postgres_schema(url: str) -> str:
    """A private schema in the PostgreSQL database at ``url`` for this run."""
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    db = make_database(url)
    db.connect()
    db.execute_sql(f'CREATE SCHEMA "{schema}"')
    db.close()
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options=-csearch_path%3D{schema}"


def _drop_postgres_schema(url: str, schema_url: str) -> None:
    schema = schema_url.rsplit("%3D", 1)[1]
    db = make_database(url)
    db.connect()
    db.execute_sql(f'DROP SCHEMA "{schema}" CASCADE')
    db.close()
