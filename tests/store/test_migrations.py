"""Schema migrations from the first released schema (tests/fixtures/make_schema_v1.py), on both databases."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from peewee import CharField, IntegerField

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
V1_TABLES = ["case", "case_state", "chronology_entry", "conference", "contact", "diagram_version", "person",
             "review_conference", "task", "team", "user", "user_role"]


def load_v1(url: str) -> None:
    """The first released schema with its demo rows, as that commit's code wrote them."""
    from store.db import make_database
    if url.startswith("sqlite"):
        con = sqlite3.connect(url.removeprefix("sqlite:///"))
        con.executescript((FIXTURES / "schema_v1_sqlite.sql").read_text())
        con.close()
        return
    db = make_database(url)
    with db.atomic():
        db.cursor().execute((FIXTURES / "schema_v1_postgres.sql").read_text())  # no parameters: '%' is literal
    db.close()


def snapshot(db) -> dict[str, list[tuple]]:
    """Every row of the first release's tables, in its own columns."""
    out = {}
    for table in V1_TABLES:
        columns = [c.name for c in db.get_columns(table, schema=_schema(db))]
        v1_columns = [c for c in columns if c in V1_COLUMNS[table]]
        quoted = ", ".join(f'"{c}"' for c in v1_columns)
        out[table] = sorted(db.execute_sql(f'SELECT {quoted} FROM "{table}"').fetchall(), key=repr)
    return out


def _schema(db):
    from peewee import PostgresqlDatabase
    return db.execute_sql("SELECT current_schema()").fetchone()[0] if isinstance(db, PostgresqlDatabase) else None


V1_COLUMNS: dict[str, set[str]] = {}


@pytest.fixture
def v1_db(db_url):
    from store.db import connect
    load_v1(db_url)
    db = connect(db_url)
    db.connect(reuse_if_open=True)
    if not V1_COLUMNS:
        V1_COLUMNS.update({t: {c.name for c in db.get_columns(t, schema=_schema(db))} for t in V1_TABLES})
    yield db_url, db
    db.close()


def test_migrate_from_the_first_released_schema_keeps_every_row_and_works(v1_db, registry, engine, clock):
    from store import Safeguarding
    from store.demo import build_form
    from store.migrations import LATEST, migrate, schema_version
    from store.models import Case, CaseState, Conference, DiagramVersion, Task, User
    url, db = v1_db
    assert schema_version() == 1
    before = snapshot(db)
    assert len(before["case"]) == 7 and len(before["task"]) > 0

    report = migrate(clock.now())

    assert report.from_version == 1 and report.to_version == LATEST == schema_version()
    assert {"api_token", "audit_entry", "login_attempt", "case_migration", "schema_version"} <= set(report.added_tables)
    assert {"conference.start_time", "conference.duration_minutes", "chronology_entry.task_id",
            "user.session_epoch", "diagram_version.note"} <= set(report.added_columns)
    assert snapshot(db) == before  # nothing lost or changed in the old columns
    assert {c.duration_minutes for c in Conference.select()} == {90}  # NOT NULL columns take their default
    assert all(v.published_at == v.created_at for v in DiagramVersion.select())  # numbered migration 2

    service = Safeguarding(clock, engine=engine, registry=registry)
    for case in Case.select():  # every case restores in the engine, its READY tasks match the projection
        diagrams = service.diagrams_for(case.diagram_version_id)
        views = engine.tasks(diagrams, CaseState.get_by_id(case.id).state, clock.now())
        assert {v.id for v in views} == {t.id for t in Task.select().where(Task.case == case.id)}
        assert all(v.role for v in views)
    task = Task.select().where(Task.bpmn_id == "cads_decision").order_by(Task.case).first()
    username = User.get(User.username == "cads.sw").username
    form = build_form(task.form_name, {"decision": "nfa"}, clock.now().date(), engine.calendar)
    result = service.complete_task(task.id, username, form, token=task.token)
    assert not Task.select().where(Task.id == task.id).exists()
    assert result.case.version == Case.get_by_id(task.case_id).version

    again = migrate(clock.now())
    assert not again.changed and schema_version() == LATEST


def test_migrate_adds_new_models_and_columns_without_registration(db_url, clock):
    """Another module's new table and new column are created by the generic step, with defaults."""
    from store.db import connect
    from store.migrations import migrate
    from store.models import BaseModel, Team
    from store.schema import ALL_MODELS
    db = connect(db_url)
    db.connect(reuse_if_open=True)
    migrate(clock.now())
    Team.create(name="North")

    class Gadget(BaseModel):
        label = CharField(max_length=20, index=True)

    extra = IntegerField(default=7)
    Team._meta.add_field("widgets", extra)
    ALL_MODELS.append(Gadget)
    try:
        report = migrate(clock.now())
        assert report.added_tables == ["gadget"] and report.added_columns == ["team.widgets"]
        assert Team.get(Team.name == "North").widgets == 7
        Gadget.create(label="x")
        assert not migrate(clock.now()).changed
    finally:
        ALL_MODELS.remove(Gadget)
        Team._meta.remove_field("widgets")
    db.close()


def test_migrate_refuses_a_database_newer_than_the_code(db_url, clock):
    from store.db import connect
    from store.migrations import LATEST, SchemaTooNew, SchemaVersion, migrate
    db = connect(db_url)
    db.connect(reuse_if_open=True)
    migrate(clock.now())
    SchemaVersion.create(version=LATEST + 1, description="from the future")
    with pytest.raises(SchemaTooNew, match=f"schema version {LATEST + 1}, newer than this code"):
        migrate(clock.now())
    db.close()


def test_migrate_command(v1_db, cli_on, clock):
    url, _db = v1_db
    code, out, err = cli_on(url, "migrate")
    assert code == 0, err
    assert "from version 1 to" in out and "conference.start_time" in out
    code, out, err = cli_on(url, "migrate")
    assert code == 0 and "already at schema version" in out


@pytest.fixture
def cli_on(capsys):
    from webui.cli import main

    def run(url, *args):
        code = main(["--database", url, *args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err
    return run



def test_concurrent_starts_migrate_once(db_url, clock):
    """Several processes starting at once (gunicorn workers): one creates, the others wait and find it done."""
    import threading

    from store.db import connect, database
    from store.migrations import LATEST, SchemaVersion, migrate
    connect(db_url)
    errors, reports = [], []

    def start():
        try:
            database.connect(reuse_if_open=True)
            reports.append(migrate(clock.now()))
        except Exception as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)
        finally:
            database.close()
    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sum(1 for r in reports if r.from_version is None) == 1  # exactly one created the schema
    database.connect(reuse_if_open=True)
    assert [row.version for row in SchemaVersion.select()] == [LATEST]
    database.close()


def test_migrate_command_refuses_a_newer_database(db_url, cli_on, clock):
    from store.db import connect
    from store.migrations import LATEST, SchemaVersion, migrate
    db = connect(db_url)
    db.connect(reuse_if_open=True)
    migrate(clock.now())
    SchemaVersion.create(version=LATEST + 1, description="from the future")
    db.close()
    code, _out, err = cli_on(db_url, "migrate")
    assert code == 2 and err.startswith(f"error: the database is at schema version {LATEST + 1}, newer than this code")


def _compression(table: str, column: str) -> str:
    from store.db import database
    return database.execute_sql("SELECT attcompression FROM pg_attribute WHERE attrelid = %s::regclass "
                                "AND attname = %s", (table, column)).fetchone()[0]


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)  # compression is PostgreSQL's
@pytest.mark.parametrize("start", ["new", "first released schema"])
def test_postgresql_compresses_workflow_state_with_lz4(request, db_url, clock, start):
    """Every step rewrites the whole state: lz4 writes it in half pglz's time (migration 4)."""
    from store.db import connect, is_postgres
    from store.migrations import LARGE_TEXT, migrate
    if start == "new":
        db = connect(db_url)
        db.connect(reuse_if_open=True)
    else:
        _url, db = request.getfixturevalue("v1_db")
    migrate(clock.now())
    assert is_postgres()
    assert [_compression(table, column) for table, column in LARGE_TEXT] == ["l", "l"]


@pytest.mark.parametrize("start", ["new", "first released schema"])
def test_indexes_a_composite_already_covers_are_not_kept(request, db_url, clock, start):
    """Each step inserts and deletes task rows and inserts chronology: an index whose column already
    leads a composite index of the table only cost those writes (migration 5)."""
    from store.db import connect
    from store.migrations import COVERED_INDEXES, _indexes, migrate
    if start == "new":
        db = connect(db_url)
        db.connect(reuse_if_open=True)
    else:
        _url, db = request.getfixturevalue("v1_db")
        assert {"task_assignee_id", "chronology_entry_case_id"} <= _indexes()
    migrate(clock.now())
    assert not set(COVERED_INDEXES) & _indexes()
    for table, column in COVERED_INDEXES.values():  # each column still leads an index of its table
        schema = _schema(db)
        assert any(index.columns[0] == column and len(index.columns) > 1
                   for index in db.get_indexes(table, schema=schema)), (table, column)
    if start == "new":
        db.close()
