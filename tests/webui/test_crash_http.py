"""No lost or double work end to end: the real server (``safeguarding serve``, gunicorn) is killed with
SIGKILL while a client records contacts and completes tasks over the API with Idempotency-Keys.

After each kill the server is restarted and the client resends the request that was cut off, with the
same key: it gets the answer (the stored one if the first attempt had committed), so every effect in the
database is one the client knows of, exactly once. The store is checked as in tests/store/test_crash.py.
"""
from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from datetime import datetime
from pathlib import Path

import requests

from engine import SystemClock, WorkingDayCalendar
from store.demo import SCENARIOS, build_form, contact_payload
from store.models import Case, ChronologyEntry, Contact, Task

from ..store.test_crash import DECISIONS, check_case, check_store

KILLS = 8
ROOT = Path(__file__).resolve().parents[2]


class Server:
    """``safeguarding serve`` in its own process group, so one SIGKILL takes the master and its workers."""

    def __init__(self, url: str, log: Path) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url, self.log, self.process = url, log, None

    def start(self, token: str) -> None:
        env = dict(os.environ, SECRET_KEY="crash-test", DATABASE_URL=self.url)
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "webui.cli", "serve", "--port", str(self.port),
                                             "--workers", "2"], cwd=ROOT, env=env, stdout=log, stderr=log,
                                            start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(self.base + "/api/tasks?mine=1", headers=bearer(token), timeout=5).ok:
                    return
            except requests.ConnectionError:
                time.sleep(0.1)
        raise AssertionError(f"the server did not start: {self.log.read_text()[-2000:]}")

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def next_request(rng: random.Random, tokens: dict[str, str], users: dict[str, str]) -> tuple[str, str, dict]:
    """The client's next piece of work: a contact when few cases are open, else a random open task."""
    today = SystemClock().now().date()
    if Case.select().where(Case.status == "open").count() < 6:
        scenario = next(s for s in SCENARIOS if s.name == "nfa")
        return tokens[users["contact_officer"]], "/api/contacts", contact_payload(scenario, today,
                                                                                 child_index=rng.randrange(40))
    task = rng.choice(list(Task.select()))
    overrides = {"decision": rng.choice(DECISIONS)} if task.bpmn_id == "cads_decision" else {}
    prefill = {"agency": task.role.removeprefix("mash_")} if task.bpmn_id == "mash_check" else {}
    form = build_form(task.form_name, overrides, today, WorkingDayCalendar(), prefill)
    username = task.assignee.username if task.assignee_id else users[task.role]
    return tokens[username], f"/api/tasks/{task.id}/complete", {"data": form, "token": task.token}


def test_killing_the_server_loses_and_doubles_nothing(tmp_path, registry, engine):
    from store import app_context
    from store.demo import ensure_demo_users
    from store.tokens import issue_token
    url = f"sqlite:///{tmp_path / 'served.db'}"
    app = app_context(url, SystemClock())
    app.service.registry, app.service.engine = registry, engine
    users = ensure_demo_users(app.service, password=None)
    tokens = {name: issue_token(name, app.clock.now()) for name in set(users.values())}
    app.service.current_diagrams()
    server, rng = Server(url, tmp_path / "server.log"), random.Random(5)
    completed: dict[str, int] = {}  # task id -> how many 200 answers the client got for it
    contacts: set[int] = set()
    answers = Counter()
    started = datetime.now().astimezone()
    server.start(tokens[users["admin"]])
    for _kill in range(KILLS):
        killer = threading.Timer(rng.uniform(0.3, 1.2), server.kill)
        killer.start()
        while True:
            token, path, body = next_request(rng, tokens, users)
            key = str(uuid.uuid4())
            try:
                response = requests.post(server.base + path, json=body, headers={**bearer(token),
                                                                                 "Idempotency-Key": key}, timeout=60)
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError):  # killed mid-answer too
                killer.join()
                server.start(tokens[users["admin"]])
                response = requests.post(server.base + path, json=body, headers={**bearer(token),
                                                                                 "Idempotency-Key": key}, timeout=60)
                answers["retried after the kill: " + ("replayed" if response.headers.get("Idempotent-Replayed")
                                                      else "carried out")] += 1
                record(response, path, completed, contacts, answers)
                break
            record(response, path, completed, contacts, answers)
            if not killer.is_alive() and server.process.poll() is not None:  # killed between requests
                server.start(tokens[users["admin"]])
                break
        check_store(app, started, sqlite=True)
    server.kill()
    done = [c.task_id for c in ChronologyEntry.select().where(ChronologyEntry.kind == "task_completed")]
    assert sorted(done) == sorted(completed) and set(completed.values()) == {1}, answers
    assert {c.id for c in Contact.select()} == contacts, answers
    for case in Case.select():
        check_case(app, case)
    print(f"HTTP: {KILLS} kills of the server, answers {dict(answers)}, {len(completed)} completions, "
          f"{len(contacts)} contacts")
    assert answers["200"] + answers["201"] > KILLS


def record(response, path: str, completed: dict[str, int], contacts: set[int], answers: Counter) -> None:
    """Note what the client was told; refusals (422 for a form that does not fit yet) changed nothing."""
    answers[str(response.status_code)] += 1
    assert response.status_code in (200, 201, 409, 422), response.text[:300]
    if response.status_code == 201:
        contacts.add(response.json()["contact_id"])
    elif response.status_code == 200:
        task_id = path.split("/")[3]
        completed[task_id] = completed.get(task_id, 0) + 1
