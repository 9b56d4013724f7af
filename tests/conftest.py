"""Shared fixtures: the shipped diagrams, a frozen clock, and databases (SQLite and PostgreSQL)."""
from __future__ import annotations

import os
import uuid
from datetime import datetime, timezone

import pytest

from engine import CaseEngine, DiagramRegistry, FixedClock, WorkingDayCalendar, read_diagram_files

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
# SAFEGUARDING_TEST_DB=postgres: the web and command-line tests (scratch_db) run on PostgreSQL
# (scripts/test runs them a second time so); the store tests run on both databases anyway (db_url).
TEST_DB = os.environ.get("SAFEGUARDING_TEST_DB", "sqlite")


def pytest_collection_modifyitems(config, items):
    """On the PostgreSQL pass, only the tests on a scratch database: the others ran in the first pass."""
    if TEST_DB != "postgres":
        return
    keep = [i for i in items if "scratch_db" in getattr(i, "fixturenames", ()) and "db_url" not in i.fixturenames]
    config.hook.pytest_deselected(items=[i for i in items if i not in keep])
    items[:] = keep


@pytest.fixture(scope="session")
def diagram_files():
    return read_diagram_files()


@pytest.fixture(scope="session")
def registry():
    return DiagramRegistry()


@pytest.fixture(scope="session")
def diagrams(registry, diagram_files):
    return registry.load(diagram_files)


@pytest.fixture(scope="session")
def calendar():
    return WorkingDayCalendar()


@pytest.fixture(scope="session")
def engine(calendar):
    return CaseEngine(calendar)


@pytest.fixture
def clock():
    return FixedClock(datetime(2026, 12, 14, 9, 0, tzinfo=timezone.utc))


def _postgres_database():
    """A private schema in the test database, dropped afterwards, so runs never collide."""
    from store.db import make_database
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_database(POSTGRES_URL)
    admin.connect()
    admin.execute_sql(f'CREATE SCHEMA "{schema}"')
    admin.close()
    return schema, f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"


def _drop_schema(schema: str) -> None:
    from store.db import make_database
    admin = make_database(POSTGRES_URL)
    admin.connect()
    admin.execute_sql(f'DROP SCHEMA "{schema}" CASCADE')
    admin.close()


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request, tmp_path):
    """Each store test runs on a fresh SQLite file and on a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    schema, url = _postgres_database()
    yield url
    _drop_schema(schema)


@pytest.fixture
def pg_schemas():
    """``make()``: the URL of a fresh private PostgreSQL schema; all are dropped afterwards."""
    schemas = []

    def make() -> str:
        schema, url = _postgres_database()
        schemas.append(schema)
        return url
    yield make
    for schema in schemas:
        _drop_schema(schema)


@pytest.fixture
def scratch_db(tmp_path, pg_schemas):
    """``make(name)``: a fresh database URL, a SQLite file or (SAFEGUARDING_TEST_DB=postgres) a private schema."""
    def make(name: str = "test") -> str:
        return pg_schemas() if TEST_DB == "postgres" else f"sqlite:///{tmp_path / f'{name}.db'}"
    return make


@pytest.fixture
def app(db_url, clock, registry, engine):
    from store import app_context
    context = app_context(db_url, clock)
    context.service.registry = registry
    context.service.engine = engine
    yield context
    context.db.close()


@pytest.fixture
def users(app):
    from store.demo import ensure_demo_users
    return ensure_demo_users(app.service, password=None)  # argon2 hashing is slow by design


@pytest.fixture
def cli(scratch_db, monkeypatch, capsys):
    """Run the safeguarding command in-process on a fresh database; returns (code, stdout, stderr)."""
    from webui.cli import main
    monkeypatch.setenv("DATABASE_URL", scratch_db("cli"))

    def run(*args):
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return code, out, err
    return run


@pytest.fixture
def db_web_app(db_url, clock, registry, engine):
    """The web app on each database (SQLite and PostgreSQL), with demo users (no passwords) in
    ``config["USERS_BY_ROLE"]``; for API and concurrency tests that need both databases."""
    from store.demo import ensure_demo_users
    from webui.app import create_app
    app = create_app({"TESTING": True, "DATABASE_URL": db_url, "CLOCK": clock, "SECRET_KEY": "test-secret"})
    context = app.extensions["safeguarding"]
    context.service.registry, context.service.engine = registry, engine
    context.db.connect(reuse_if_open=True)
    app.config["USERS_BY_ROLE"] = ensure_demo_users(context.service, password=None)
    context.db.close()
    yield app
    context.db.close()
