"""Load over HTTP: gunicorn with several workers on loopback, a bounded load generator of our own.

Clients complete core group meetings (each completion offers the case's next meeting, so a
client never runs out of work) and record contacts, for a fixed time and at most a fixed
number of requests; throughput counts successful requests only. Everything stays on 127.0.0.1.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import orjson

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def gunicorn(database_url: str, workers: int, log: Path) -> Iterator[tuple[int, subprocess.Popen]]:
    """A gunicorn serving the app on a free loopback port; stopped (by its own pid) on exit."""
    port = free_port()
    env = dict(os.environ, DATABASE_URL=database_url, SECRET_KEY="bench-secret")
    command = [sys.executable, "-m", "gunicorn", "--config", "python:webui.serving",
               "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
               "--log-level", "warning", "--timeout", "120", "webui.app:create_app()"]
    with open(log, "ab") as out:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_up(port, server)
        yield port, server
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _wait_up(port: int, server: subprocess.Popen, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("gunicorn exited while starting; see its log")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not start listening in time")


class Client:
    """Requests with a bearer token, each on its own loopback connection (gunicorn's sync workers
    close theirs after every answer), written and read with as little work as the load allows:
    the load generator shares the machine's two cores with the server it measures, so every
    microsecond it spends is one the server does not get (http.client and the json module cost
    it about three times as much CPU per request)."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.headers = (f"Host: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n"
                        "Content-Type: application/json\r\nConnection: close\r\n").encode()

    def post(self, path: str, body: dict | bytes) -> tuple[int, dict]:
        """POST ``body`` (a dictionary, or JSON already encoded) to ``path``; (status, decoded answer)."""
        data = body if isinstance(body, bytes) else orjson.dumps(body)
        request = b"".join([b"POST ", path.encode(), b" HTTP/1.1\r\n", self.headers,
                            b"Content-Length: %d\r\n\r\n" % len(data), data])
        with socket.create_connection(("127.0.0.1", self.port), timeout=60) as sock:
            sock.sendall(request)
            answer = _read_answer(sock)
        return _parse_answer(answer)

    def close(self) -> None:
        """Nothing is kept open between requests."""


def _read_answer(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    chunks = []
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _parse_answer(answer: bytes) -> tuple[int, dict]:
    """(status, JSON body) of an HTTP/1.1 answer with a Content-Length; a malformed one is an error."""
    head, separator, payload = answer.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].split(b" ", 2)
    if not separator or len(status_line) < 2 or not status_line[1].isdigit():
        raise ConnectionError(f"not an HTTP answer: {answer[:80]!r}")
    length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")[1:]
                   if line.lower().startswith(b"content-length:")), None)
    if length is not None and len(payload) != length:
        raise ConnectionError(f"the answer ended after {len(payload)} of {length} bytes")
    return int(status_line[1]), (orjson.loads(payload) if payload else {})


def completion_body(form: dict) -> bytes:
    """The JSON of a completion with ``form`` (encoded once, sent many times)."""
    return orjson.dumps({"data": form})


def complete_meeting(client: Client, task_id: str, completion: bytes) -> tuple[int, str, dict]:
    """Complete a core group meeting (``completion``: completion_body of a form asking for
    another); (status, the next meeting's task id, answer)."""
    status, body = client.post(f"/api/tasks/{task_id}/complete", completion)
    if status != 200:
        return status, task_id, body
    following = next((t["id"] for t in body.get("tasks", []) if t["element_id"] == "core_group_meeting"), task_id)
    return status, following, body


def run_load(port: int, worker_token: str, contact_token: str, task_ids: list[str], contact: dict,
             clients: int, seconds: float, max_requests: int, meeting: dict) -> dict[str, Any]:
    """``clients`` threads for ``seconds`` (and at most ``max_requests``): every fifth request records a contact.

    ``task_ids`` is updated in place to each case's next open meeting."""
    lock = threading.Lock()
    latencies: dict[str, list[float]] = {"complete": [], "contact": []}
    failures = {"complete": 0, "contact": 0}
    reasons: dict[str, int] = {}  # "<kind> <status>: <error>" -> how often
    sent = {"n": 0}
    stop_at = time.monotonic() + seconds
    shares = [list(range(i, len(task_ids), clients)) for i in range(clients)]  # each client's cases
    completion, contact_body = completion_body(meeting), orjson.dumps(contact)

    def work(mine: list[int]) -> None:
        completer, recorder = Client(port, worker_token), Client(port, contact_token)
        turn = 0
        try:
            while time.monotonic() < stop_at:
                with lock:
                    if sent["n"] >= max_requests:
                        return
                    sent["n"] += 1
                turn += 1
                start = time.perf_counter()
                if turn % 5 == 0:
                    status, body = recorder.post("/api/contacts", contact_body)
                    kind, ok = "contact", status == 201
                else:
                    index = mine[turn % len(mine)]
                    status, task_ids[index], body = complete_meeting(completer, task_ids[index], completion)
                    kind, ok = "complete", status == 200
                elapsed = time.perf_counter() - start
                with lock:
                    if ok:
                        latencies[kind].append(elapsed)
                    else:
                        failures[kind] += 1
                        reason = f"{kind} {status}: {body.get('error')}: {str(body.get('detail'))[:120]}"
                        reasons[reason] = reasons.get(reason, 0) + 1
        finally:
            completer.close()
            recorder.close()

    threads = [threading.Thread(target=work, args=(share,)) for share in shares if share]
    began, cpu = time.perf_counter(), time.process_time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    # The load generator shares the machine's cores with the server: its own CPU time is reported.
    return {"wall_s": wall, "latencies": latencies, "failures": failures, "failure_reasons": reasons,
            "client_cpu_s": time.process_time() - cpu}


def worker_rss_kb(server: subprocess.Popen) -> list[int]:
    """Resident memory (kB) of each gunicorn worker (the children of the master process)."""
    children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
    found = []
    for pid in children:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                found.append(int(line.split()[1]))
    return found
