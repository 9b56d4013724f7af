"""SQLite writers queue in the kernel for the write lock (store/db.py QueuedSqliteDatabase)."""
from __future__ import annotations

import threading
import time

import pytest
from peewee import OperationalError

from store.db import QueuedSqliteDatabase


@pytest.fixture
def path(tmp_path):
    db = QueuedSqliteDatabase(str(tmp_path / "q.db"), lock_type="IMMEDIATE", pragmas={"journal_mode": "wal"})
    db.execute_sql("CREATE TABLE t (n INTEGER)")
    db.close()
    return str(tmp_path / "q.db")


def _db(path, busy_ms=30000):
    return QueuedSqliteDatabase(path, lock_type="IMMEDIATE", check_same_thread=False,
                                pragmas={"journal_mode": "wal", "busy_timeout": busy_ms})


def test_a_waiting_writer_goes_as_soon_as_the_lock_is_released(path):
    first = _db(path)
    gaps = []
    for round_ in range(3):
        second, started, done = _db(path), threading.Event(), {}

        def later_writer():
            started.set()
            with second.atomic():
                done["at"] = time.perf_counter()
                second.execute_sql("INSERT INTO t VALUES (2)")

        with first.atomic():
            first.execute_sql("INSERT INTO t VALUES (1)")
            thread = threading.Thread(target=later_writer)
            thread.start()
            started.wait()
            time.sleep(0.3)  # SQLite's busy handler, polling, would look again about 30 ms after this
            assert "at" not in done  # queued behind the open transaction
            released = time.perf_counter()
        thread.join(5)
        gaps.append(done["at"] - released)
    assert min(gaps) < 0.01, gaps  # woken by the release (about 1 ms), not by the next poll
    assert first.execute_sql("SELECT COUNT(*) FROM t").fetchone()[0] == 6


def test_a_rolled_back_writer_releases_its_turn(path):
    first, second = _db(path), _db(path)
    with pytest.raises(RuntimeError):
        with first.atomic():
            first.execute_sql("INSERT INTO t VALUES (1)")
            raise RuntimeError("the unit of work failed")
    with second.atomic():  # would wait forever if the turn were still held
        second.execute_sql("INSERT INTO t VALUES (2)")
    assert [n for (n,) in second.execute_sql("SELECT n FROM t")] == [2]


def test_a_second_connection_in_the_same_thread_does_not_wait_on_itself(path):
    first, second = _db(path), _db(path, busy_ms=200)
    with first.atomic():
        first.execute_sql("INSERT INTO t VALUES (1)")
        with pytest.raises(OperationalError):  # SQLite's own refusal after its busy timeout, not a hang
            with second.atomic():
                second.execute_sql("INSERT INTO t VALUES (2)")
