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

