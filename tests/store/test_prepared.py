"""Prepared statements (store/prepared.py): the same rows as the peewee query, on both databases;
on PostgreSQL prepared on the server once per connection, surviving rollbacks and reconnections."""
from __future__ import annotations

from datetime import date

import pytest

from store.db import connect, database, is_postgres
from store.migrations import migrate
from store.models import Team, User
from store.prepared import Prepared, PreparedFamily

USER_NAMED = Prepared(lambda place: User.select().where(User.username == place("username")))
TEAM_RENAME = Prepared(lambda place: Team.update(name=place("name")).where(Team.id == place("id")))


@pytest.fixture
def db(db_url, clock):
    found = connect(db_url)
    found.connect(reuse_if_open=True)
    migrate(clock.now())
    north = Team.create(name="North")
    User.create(username="amy", full_name="Amy Lee", team=north, created_at=clock.now().replace(tzinfo=None))
    yield found
    found.close()


def test_rows_are_the_queries_own(db):
    amy = USER_NAMED.first(username="amy")
    assert amy == User.get(User.username == "amy") and amy.team_id == User.get(User.username == "amy").team_id
    assert amy.full_name == "Amy Lee" and amy._dirty == set()
    assert USER_NAMED.first(username="nobody") is None
    assert TEAM_RENAME.execute(id=amy.team_id, name="South") == 1 and Team.get_by_id(amy.team_id).name == "South"


def test_a_rolled_back_transaction_and_a_new_connection_keep_working(db):
    with pytest.raises(RuntimeError):
        with database.atomic():
            assert TEAM_RENAME.execute(id=Team.get().id, name="Gone") == 1
            raise RuntimeError("undone")
    assert Team.get().name == "North" and USER_NAMED.first(username="amy") is not None
    db.close()
    db.connect()  # a fresh connection (on PostgreSQL: the statements are prepared on it again)
    assert [row.username for row in USER_NAMED.rows(username="amy")] == ["amy"]
    if is_postgres():
        names = {name for (name,) in database.execute_sql("SELECT name FROM pg_prepared_statements")}
        assert {USER_NAMED._name} <= names  # noqa: SLF001 - the server holds it by this name


def test_a_family_keeps_its_most_recent_members():
    family = PreparedFamily(lambda key, place: Team.select().where(Team.id == key), limit=2)
    first = family[1]
    assert family[1] is first
    for key in (2, 3):
        assert family[key] is not first
    assert family[1] is not first  # evicted by the two newer members, made again


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # SQLite's plan; PostgreSQL plans by its statistics
def test_a_contacts_child_lookup_reads_an_index_not_every_person(db):
    """Names are compared without case, which no index serves: (kind, date of birth) does (100,000 people: 18.7 -> 0.02 ms)."""
    from store.cases import _SAME_CHILD
    _query, sql, params, _server = _SAME_CHILD._statement()  # noqa: SLF001
    plan = database.execute_sql("EXPLAIN QUERY PLAN " + sql, ["x" if p is not None else p for p in params]).fetchall()
    assert any("person_kind_date_of_birth" in row[-1] for row in plan), plan


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # SQLite's plan; PostgreSQL plans by its statistics
def test_a_contacts_look_up_of_the_previous_case_stops_at_one_entry(db):
    """The child's newest case on or before the referral: along (child, referral date, id), with no
    sort of every case the child has had (a child with 4,000 cases: 9 ms a contact)."""
    from store.cases import _PREVIOUS_CASE
    _query, sql, bound = _PREVIOUS_CASE._sql({"child": 1, "referral_date": date(2026, 1, 1)})  # noqa: SLF001
    plan = database.execute_sql("EXPLAIN QUERY PLAN " + sql, bound).fetchall()
    assert any("case_child_id_referral_date_id" in row[-1] for row in plan), plan
    assert not any("TEMP B-TREE" in row[-1] for row in plan), plan
