"""Held statements on PostgreSQL (store/db.py BatchingPostgresqlDatabase, store/prepared.py
``later``): a transaction's BEGIN and the writes whose answers are not read go with the next
statement that is read, or with the COMMIT. Same results, same errors, same rollbacks; fewer
round trips."""
from __future__ import annotations

import psycopg2.extensions
import pytest
from peewee import IntegrityError, InterfaceError, ProgrammingError

from store.db import connect, database, make_database
from store.migrations import migrate
from store.models import Team
from store.prepared import Prepared

pytestmark = pytest.mark.parametrize("db_url", ["postgres"], indirect=True)

RENAME = Prepared(lambda place: Team.update(name=place("name")).where(Team.id == place("id")))
ADD = Prepared(lambda place: Team.insert(name=place("name")))
NAMED = Prepared(lambda place: Team.select().where(Team.name == place("name")))


class CountingCursor(psycopg2.extensions.cursor):
    sent: list[str] = []

    def execute(self, query, vars=None):  # noqa: A002 - psycopg2's own name
        CountingCursor.sent.append(query.decode() if isinstance(query, bytes) else query)
        return super().execute(query, vars)


@pytest.fixture
def db(db_url, clock):
    found = connect(db_url)
    found.connect(reuse_if_open=True)
    migrate(clock.now())
    Team.create(name="North")
    with database.atomic() as transaction:  # each statement prepared on the server before counting
        NAMED.first(name="North"), RENAME.execute(id=0, name="x"), ADD.execute(name="x")
        transaction.rollback()
    database.connection().cursor_factory = CountingCursor
    CountingCursor.sent = []
    yield found
    found.close()


def names_seen_elsewhere(db_url) -> list[str]:
    """The teams as another connection sees them (what was committed)."""
    other = make_database(db_url)
    try:
        return sorted(name for (name,) in other.execute_sql("SELECT name FROM team"))
    finally:
        other.close()


def test_held_writes_go_with_the_next_read_and_the_commit(db, db_url):
    north = Team.get(Team.name == "North").id
    CountingCursor.sent = []
    with database.atomic():
        RENAME.later(id=north, name="North East")
        ADD.later(name="South")
        assert CountingCursor.sent == []  # nothing sent yet, not even the BEGIN
        assert NAMED.first(name="North East").id == north  # the transaction sees its own held writes
        assert len(CountingCursor.sent) == 1 and CountingCursor.sent[0].startswith("BEGIN")
        ADD.later(name="West")
        assert names_seen_elsewhere(db_url) == ["North"]  # not committed yet
    assert len(CountingCursor.sent) == 2 and CountingCursor.sent[1].endswith("COMMIT")
    assert names_seen_elsewhere(db_url) == ["North East", "South", "West"]


def test_values_are_sent_as_written(db, db_url):
    awkward = "50% of 'Tees' %s; DROP TABLE team; -- \\ \u00e9"
    with database.atomic():
        ADD.later(name=awkward)
    assert names_seen_elsewhere(db_url) == sorted(["North", awkward])


def test_a_failing_held_write_fails_the_read_that_sends_it_and_nothing_is_kept(db, db_url):
    north = Team.get(Team.name == "North").id
    with pytest.raises(IntegrityError):
        with database.atomic():
            RENAME.later(id=north, name="Renamed")
            ADD.later(name="Renamed")  # the name is unique
            NAMED.first(name="North")
    assert names_seen_elsewhere(db_url) == ["North"]
    assert Team.get(Team.name == "North").id == north  # the connection works on


def test_a_failing_held_write_sent_with_the_commit_commits_nothing(db, db_url):
    with pytest.raises(IntegrityError):
        with database.atomic():
            ADD.later(name="South")
            ADD.later(name="North")  # already there
    assert names_seen_elsewhere(db_url) == ["North"]
    conn = database.connection()
    assert conn.get_transaction_status() == psycopg2.extensions.TRANSACTION_STATUS_IDLE


def test_a_savepoint_block_still_rolls_back_alone(db, db_url):
    north = Team.get(Team.name == "North").id
    with database.atomic():
        RENAME.later(id=north, name="North East")
        with pytest.raises(IntegrityError):
            with database.atomic():
                ADD.later(name="South")
                ADD.later(name="North East")  # fails when the savepoint is released
        ADD.later(name="West")
    assert names_seen_elsewhere(db_url) == ["North East", "West"]


def test_a_transaction_that_sent_nothing_costs_no_round_trip(db):
    with database.atomic():
        pass
    with pytest.raises(RuntimeError):
        with database.atomic():
            ADD.later(name="Never")
            raise RuntimeError("changed my mind")
    assert CountingCursor.sent == []
    assert database.connection().get_transaction_status() == psycopg2.extensions.TRANSACTION_STATUS_IDLE
    assert NAMED.first(name="Never") is None


def test_outside_a_transaction_a_held_write_runs_at_once(db, db_url):
    ADD.later(name="South")
    assert names_seen_elsewhere(db_url) == ["North", "South"]


def test_closing_drops_what_a_broken_transaction_held(db, db_url):
    transaction = database.atomic()
    transaction.__enter__()
    ADD.later(name="Lost")
    database.pop_transaction()  # as if the worker died mid-transaction and the connection is dropped
    db.close()
    db.connect()
    NAMED.first(name="North")
    assert names_seen_elsewhere(db_url) == ["North"]


def test_a_statement_whose_values_cannot_be_sent_loses_nothing_held(db, db_url):
    with database.atomic():
        ADD.later(name="South")
        with pytest.raises((ProgrammingError, InterfaceError)):
            database.execute_sql("SELECT %s", (object(),))  # refused before anything is sent
        ADD.later(name="West")
    assert names_seen_elsewhere(db_url) == ["North", "South", "West"]
