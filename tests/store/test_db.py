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



def _table(tmp_path, monkeypatch, every: int):
    from store.db import QueuedSqliteDatabase
    monkeypatch.setattr(QueuedSqliteDatabase, "CHECKPOINT_EVERY", every)
    path = tmp_path / "x.db"
    db = make_database(f"sqlite:///{path}")
    db.connect()
    with db.atomic():
        db.execute_sql("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)")
    return db, path


def _insert(db, rows: int) -> None:
    for _ in range(rows):
        with db.atomic():
            db.execute_sql("INSERT INTO t (body) VALUES (?)", ["x" * 5000])


def test_the_wal_is_checkpointed_every_so_many_commits_not_inside_a_commit(tmp_path, monkeypatch):
    """SQLite's own checkpoint (inside the COMMIT, while the writers' turn is held) only at its
    backstop; the process checkpoints after every CHECKPOINT_EVERY commits, after the commit.
    A checkpoint is seen as the database file taking in the pages written to the WAL."""
    import os
    db, path = _table(tmp_path, monkeypatch, every=20)
    assert db.execute_sql("PRAGMA wal_autocheckpoint").fetchone()[0] == 10_000
    _insert(db, 18)  # with the CREATE TABLE, 19 commits: still all in the WAL
    assert os.path.getsize(path) < 20_000 and os.path.getsize(f"{path}-wal") > 90_000
    _insert(db, 1)  # the 20th commit ends with a checkpoint
    assert os.path.getsize(path) > 95_000 and db._commits == 0
    _insert(db, 19)
    assert db._commits == 19
    db.close()


def test_a_commit_ends_its_writers_turn_before_checkpointing(tmp_path, monkeypatch):
    import fcntl
    import os
    from store.db import QueuedSqliteDatabase
    db, path = _table(tmp_path, monkeypatch, every=5)
    seen = []
    real = QueuedSqliteDatabase.checkpoint

    def checking(self):
        fd = os.open(f"{path}-writers", os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # another writer could take its turn now
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
        seen.append(self.connection().in_transaction)
        return real(self)
    monkeypatch.setattr(QueuedSqliteDatabase, "checkpoint", checking)
    _insert(db, 10)
    assert seen == [False, False]
    db.close()


def test_a_failed_checkpoint_does_not_fail_the_commit_before_it(tmp_path, monkeypatch, caplog):
    import sqlite3
    db, path = _table(tmp_path, monkeypatch, every=1)
    real = db.connection

    class Refusing:  # the connection, but its checkpoint fails
        def __getattr__(self, name):
            return getattr(real(), name)

        def execute(self, sql, *args):
            if "wal_checkpoint" in sql:
                raise sqlite3.OperationalError("disk I/O error")
            return real().execute(sql, *args)

    monkeypatch.setattr(db, "connection", Refusing)
    _insert(db, 2)
    assert caplog.text.count("WAL checkpoint after a commit failed") == 2
    db.close()
    assert sqlite3.connect(path).execute("SELECT count(*) FROM t").fetchone()[0] == 2
