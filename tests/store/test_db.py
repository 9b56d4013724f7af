"""Database set-up: SQLite in WAL mode with a busy timeout; workflow state stored without its spec."""
from __future__ import annotations

import json

from store.db import make_database


def test_sqlite_uses_wal_and_a_busy_timeout(tmp_path):
    db = make_database(f"sqlite:///{tmp_path / 'sub' / 'x.db'}")
    db.connect()
    assert db.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute_sql("PRAGMA busy_timeout").fetchone()[0] >= 10000
    assert (tmp_path / "sub" / "x.db").exists()  # the folder is created on first use
    db.close()


def test_unknown_database_url_is_refused():
    import pytest
    with pytest.raises(ValueError, match="unsupported DATABASE_URL"):
        make_database("mysql://x")


def test_workflow_state_is_saved_without_its_spec(engine, diagrams):
    from tests.engine.test_lifecycle import start
    outcome = start(engine, diagrams)
    stored = json.loads(outcome.state)
    assert "spec" not in stored and "subprocess_specs" not in stored
    registry = engine.serializer(diagrams)._serializer.registry
    specs = json.dumps([registry.convert(diagrams.spec)] +
                       [registry.convert(spec) for spec in diagrams.subprocess_specs.values()], default=str)
    assert len(specs) > 5 * len(outcome.state)  # what a full save would carry on every write


def test_the_wal_is_checkpointed_after_commits_by_a_thread_not_inside_them(tmp_path):
    """A commit never copies the WAL into the database while it holds the writers' turn (SQLite's
    own checkpoint waits for 10,000 pages); the process's checkpointer does it after commits."""
    from store.db import _Checkpointer
    path = str(tmp_path / "x.db")
    db = make_database(f"sqlite:///{path}")
    db.connect()
    assert db.execute_sql("PRAGMA wal_autocheckpoint").fetchone()[0] == 10_000
    db.execute_sql("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)")
    checkpointer = _Checkpointer.of(path)
    before = checkpointer.done
    for n in range(300):  # about 600 WAL pages
        with db.atomic():
            db.execute_sql("INSERT INTO t (body) VALUES (?)", ["x" * 5000])
    assert checkpointer.wait(before + 1), "no checkpoint after the commits"
    with db.atomic():
        db.execute_sql("INSERT INTO t (body) VALUES (?)", ["last"])
    assert checkpointer.wait(checkpointer.done + 1)
    busy, in_wal, copied = db.execute_sql("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert busy == 0 and in_wal == copied  # nothing left that the checkpointer had not copied
    db.close()
    import sqlite3
    assert sqlite3.connect(path).execute("SELECT count(*) FROM t").fetchone()[0] == 301


def test_an_idle_checkpointer_ends_and_the_next_commit_starts_another(tmp_path, monkeypatch):
    import os
    import time

    from store.db import _Checkpointer
    monkeypatch.setattr(_Checkpointer, "IDLE", 0.2)
    path = str(tmp_path / "x.db")
    db = make_database(f"sqlite:///{path}")
    db.connect()
    with db.atomic():
        db.execute_sql("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    first = _Checkpointer.of(path)
    assert first.wait(1)
    deadline = time.monotonic() + 5
    while (os.getpid(), path) in _Checkpointer._running and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (os.getpid(), path) not in _Checkpointer._running  # its thread ended, with its connection
    with db.atomic():
        db.execute_sql("INSERT INTO t DEFAULT VALUES")
    second = _Checkpointer.of(path)
    assert second is not first and second.wait(1)
    db.close()
