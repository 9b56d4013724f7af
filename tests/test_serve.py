"""Running for real: migrate, then gunicorn with several workers behind a (simulated) HTTPS proxy."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

COMMAND = [str(Path(sys.executable).with_name("safeguarding"))]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server(scratch_db, tmp_path):
    url = scratch_db("serve")
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "serve-test", "SAFEGUARDING_TRUSTED_PROXIES": "1",
           "SAFEGUARDING_HTTPS": "1", "SAFEGUARDING_INSTANCE": str(tmp_path)}
    for step in (["migrate"], ["init"]):
        done = subprocess.run(COMMAND + step, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
    port = free_port()
    process = subprocess.Popen(COMMAND + ["serve", "--port", str(port), "--workers", "3"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            urllib.request.urlopen(f"{base}/login", timeout=2)
            break
        except OSError:
            time.sleep(0.2)
    yield base
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=30)
    process.stdout.close()


def fetch(url: str):
    request = urllib.request.Request(url, headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.7"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, dict(response.headers)


def test_serve_runs_several_workers_over_a_migrated_database(server):
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(fetch, [f"{server}/login"] * 24))
    assert all(status == 200 for status, _headers in answers)
    headers = answers[0][1]
    assert "Strict-Transport-Security" in headers and "nonce-" in headers["Content-Security-Policy"]


def test_a_web_worker_collects_garbage_between_steps_not_during_them():
    """webui/serving.py: start-up objects frozen, the young generation collected every 10,000 allocations."""
    found = subprocess.run([sys.executable, "-c", "import gc; from webui.serving import tune_worker, GC_THRESHOLD; "
                            "tune_worker(); print(gc.get_threshold() == GC_THRESHOLD, gc.get_freeze_count() > 1000)"],
                           capture_output=True, text=True, check=True,
                           cwd=Path(__file__).resolve().parent.parent)
    assert found.stdout.split() == ["True", "True"]
