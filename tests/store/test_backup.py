"""Backup and restore on both databases: everything comes back, the audit chain verifies, refusals change nothing."""
from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from store.demo import SCENARIOS, contact_payload


@pytest.fixture
def filled(app, users, clock):
    """Two cases with tasks, chronology and audit entries."""
    from store import audit
    service = app.service
    for index, scenario in enumerate(SCENARIOS[:2]):
        case = service.record_contact(contact_payload(scenario, clock.now().date(), index), users["contact_officer"])
        audit.record(users["contact_officer"], "view", "case", case[0].id if isinstance(case, list) else case.id,
                     clock.now())
    return app


def contents(app) -> dict[str, list]:
    """Every model's rows as Python values (so a SQLite and a PostgreSQL copy compare equal)."""
    from store.migrations import SchemaVersion, models
    return {m._meta.table_name: sorted(map(repr, m.select().tuples())) for m in models() if m is not SchemaVersion}


def empty_database(kind: str, tmp_path, pg_schemas):
    return f"sqlite:///{tmp_path / 'restored.db'}" if kind == "sqlite" else pg_schemas()


@pytest.mark.parametrize("portable", [False, True])
@pytest.mark.parametrize("target", ["sqlite", "postgres"])
def test_backup_then_restore_into_an_empty_database_gives_back_everything(
        filled, db_url, tmp_path, pg_schemas, target, portable):
    from store.audit import verify_chain
    from store.backup import backup, restore
    from store.db import connect
    from store.models import Case, Task
    before = contents(filled)
    count, breaks = verify_chain()
    assert count >= 2 and not breaks
    path = tmp_path / "backup.out"
    kind = backup(path, portable=portable)
    assert kind == ("sqlite" if db_url.startswith("sqlite") and not portable else "jsonl")
    filled.db.close()

    db = connect(empty_database(target, tmp_path, pg_schemas))
    db.connect()
    report = restore(path)
    assert report.audit_entries == count and not report.skipped
    assert contents(filled) == before
    assert verify_chain() == (count, [])
    # the restored database takes new rows: sequences continue after the restored ids
    task = Task.select().first()
    assert Case.select().count() == 2 and task is not None
    from store.models import Team
    Team.create(name="after restore")
    db.close()


def test_restore_refuses_a_database_with_data_unless_forced(filled, db_url, tmp_path):
    from store.backup import BackupError, backup, restore
    from store.models import Case, Team
    path = tmp_path / "backup.out"
    backup(path)
    Team.create(name="made after the backup")
    with pytest.raises(BackupError, match="already holds data"):
        restore(path)
    assert Team.select().where(Team.name == "made after the backup").exists()  # nothing changed
    restore(path, force=True)
    assert not Team.select().where(Team.name == "made after the backup").exists()
    assert Case.select().count() == 2


def test_restore_refuses_files_that_are_not_backups(app, tmp_path):
    from store.backup import BackupError, restore
    cases = {"garbage.txt": b"hello\n", "other.json": b'{"format": "something-else"}\n',
             "damaged.db": b"SQLite format 3\x00" + b"\x00" * 50}
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(BackupError):
            restore(path)
    with pytest.raises(BackupError, match="cannot read"):
        restore(tmp_path / "missing.db")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the online backup API is SQLite's
def test_sqlite_backup_is_consistent_while_a_writer_holds_a_transaction(filled, db_url, tmp_path):
    from store.backup import backup
    writer = sqlite3.connect(db_url.removeprefix("sqlite:///"), isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO team (name) VALUES ('uncommitted')")
    path = tmp_path / "while-writing.db"
    backup(path)
    writer.execute("ROLLBACK")
    writer.close()
    copy = sqlite3.connect(path)
    assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert copy.execute("SELECT COUNT(*) FROM team WHERE name = 'uncommitted'").fetchone()[0] == 0
    assert copy.execute('SELECT COUNT(*) FROM "case"').fetchone()[0] == 2
    copy.close()


def test_restore_of_a_first_release_backup_migrates_it(tmp_path, db_url):
    """A SQLite file from the first released schema restores into either database at the current schema."""
    from store.backup import restore
    from store.db import connect
    from store.migrations import LATEST, schema_version
    from store.models import Case, Conference
    old = tmp_path / "v1.db"
    con = sqlite3.connect(old)
    con.executescript((Path(__file__).parent.parent / "fixtures" / "schema_v1_sqlite.sql").read_text())
    con.close()
    db = connect(db_url)
    db.connect()
    restore(old)
    assert schema_version() == LATEST and Case.select().count() == 7
    assert {c.duration_minutes for c in Conference.select()} == {90}
    db.close()


def test_backup_and_restore_commands(cli, tmp_path):
    code, _out, err = cli("init")
    assert code == 0, err
    path = tmp_path / "b.db"
    code, out, err = cli("backup", path)
    kind = "SQLite database" if os.environ["DATABASE_URL"].startswith("sqlite") else "JSON lines"
    assert code == 0 and kind in out, err
    code, out, err = cli("restore", path)
    assert code == 2 and err.startswith("error: the database already holds data") and "--force" in err
    code, out, err = cli("restore", path, "--force")
    assert code == 0 and "audit chain verified" in out, err
    code, out, err = cli("--database", f"sqlite:///{tmp_path / 'new.db'}", "restore", path)
    assert code == 0, err
    code, out, err = cli("backup", tmp_path / "no-such-dir" / "b.db")
    assert code == 2 and err.startswith("error: cannot write")


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)  # SQLite's copy is one step of the backup API
def test_postgres_dump_is_one_snapshot_while_others_write(filled, db_url):
    """A row committed by another connection half-way through the dump is not in it."""
    from store.backup import _dump_lines
    from store.db import make_database
    lines = _dump_lines()
    header = json.loads(next(lines))
    first_table = json.loads(next(lines))
    assert header["format"] == "safeguarding-backup" and "table" in first_table
    other = make_database(db_url)
    other.execute_sql("INSERT INTO login_attempt (key, at) VALUES ('written during the dump', now())")  # committed
    other.close()
    rest = [json.loads(line) for line in lines]
    assert first_table["table"] != "login_attempt" and {"table": "login_attempt"}.items() <= next(
        item for item in rest if item.get("table") == "login_attempt").items()
    assert not [item for item in rest if "row" in item and "written during the dump" in item["row"]]
