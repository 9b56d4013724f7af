"""Hot-path statements whose SQL is built once, not on every call.

peewee builds a query's SQL in Python each time it runs, and for the statements of a task
completion that costs more than the database takes to run them (bench/: building a case read
took about 0.3 ms, the access rule's query 0.6 ms; SQLite answers either in under 0.1 ms). A
``Prepared`` statement is an ordinary peewee query written once with named slots for its
values; its SQL is compiled the first time it runs on a kind of database and reused after, and
rows come back through peewee's own row conversion, so the results are the same objects the
query would give.

On PostgreSQL the statement is also prepared on the server (PREPARE, once per connection), so
the server plans it once too: planning the access rule's query took 0.7 ms, longer than running it.
"""
from __future__ import annotations

import itertools
import re
import threading
import weakref
from collections import OrderedDict
from typing import Any, Callable, Hashable

from peewee import Field, PostgresqlDatabase, Value

from .db import database

_NAMES = itertools.count(1)  # server-side statement names, unique in this process
_ON_SERVER: "weakref.WeakKeyDictionary[Any, set[str]]" = weakref.WeakKeyDictionary()  # connection -> names
_ON_SERVER_LOCK = threading.Lock()


class _Slot:
    """Where a named value goes in a compiled statement (and how the value is stored)."""

    __slots__ = ("name", "convert")

    def __init__(self, name: str, convert: Callable[[Any], Any] | None) -> None:
        self.name, self.convert = name, convert


def slot(name: str, field: Field | None = None) -> Value:
    """A named value in a prepared statement; ``field`` converts it as the field stores values."""
    return Value(_Slot(name, field.db_value if field is not None else None), converter=False, unpack=False)


class Prepared:
    """A peewee query built once by ``build(slot)``, compiled once per kind of database."""

    def __init__(self, build: Callable[[Callable[..., Value]], Any]) -> None:
        self._build = build
        self._compiled: dict[type, tuple[Any, str, list, str | None]] = {}
        self._lock = threading.Lock()
        self._name = f"sgw_{next(_NAMES)}"

    def _statement(self) -> tuple[Any, str, list, str | None]:
        kind = type(database.obj)
        found = self._compiled.get(kind)
        if found is None:
            with self._lock:
                query = self._build(slot)
                sql, params = database.get_sql_context().sql(query).query()
                server = _numbered(sql) if issubclass(kind, PostgresqlDatabase) else None
                found = self._compiled.setdefault(kind, (query, sql, params, server))
        return found

    def _sql(self, values: dict[str, Any]) -> tuple[Any, str, list]:
        """The query, the statement to send and its parameters (PREPAREd on the server first)."""
        query, sql, params, server = self._statement()
        bound = [_bind(p, values) if isinstance(p, _Slot) else p for p in params]
        if server is None:
            return query, sql, bound
        connection = database.connection()
        with _ON_SERVER_LOCK:
            known = _ON_SERVER.setdefault(connection, set())
        if self._name not in known:  # a prepared statement outlives a rolled-back transaction
            database.execute_sql(f"PREPARE {self._name} AS {server}")
            known.add(self._name)
        arguments = f" ({', '.join(['%s'] * len(bound))})" if bound else ""
        return query, f"EXECUTE {self._name}{arguments}", bound

    def _cursor(self, values: dict[str, Any]):
        query, sql, bound = self._sql(values)
        return query, database.execute_sql(sql, bound)

    def rows(self, **values) -> list[Any]:
        """Every row, as the query's row type (model instances, dicts, ...)."""
        query, cursor = self._cursor(values)
        return list(query._get_cursor_wrapper(cursor))

    def tuples(self, **values) -> list[tuple]:
        """Every row as the database returns it (no conversion: for callers that build their own)."""
        _query, cursor = self._cursor(values)
        return cursor.fetchall()

    def first(self, **values) -> Any | None:
        found = self.rows(**values)
        return found[0] if found else None

    def scalar(self, **values) -> Any | None:
        """The first column of the first row (raw, as the database returns it)."""
        _query, cursor = self._cursor(values)
        row = cursor.fetchone()
        return row[0] if row else None

    def execute(self, **values) -> int:
        """Run an INSERT, UPDATE or DELETE; the number of rows it touched."""
        _query, cursor = self._cursor(values)
        return cursor.rowcount

    def later(self, **values) -> None:
        """Run an INSERT, UPDATE or DELETE whose answer is not read. On PostgreSQL, inside a
        transaction, it is sent with the next statement whose answer is (store/db.py
        BatchingPostgresqlDatabase); elsewhere it runs at once."""
        _query, sql, bound = self._sql(values)
        hold = getattr(database.obj, "later", None)
        if hold is None:
            database.execute_sql(sql, bound)
        else:
            hold(sql, bound)


def _numbered(sql: str) -> str:
    """psycopg2's %s placeholders as PostgreSQL's $1, $2, ... (a literal %% as %)."""
    counter = itertools.count(1)
    return re.sub(r"%%|%s", lambda m: "%" if m.group() == "%%" else f"${next(counter)}", sql)


def _bind(place: _Slot, values: dict[str, Any]) -> Any:
    value = values[place.name]
    return place.convert(value) if place.convert is not None and value is not None else value


class PreparedFamily:
    """Prepared statements that differ by a small key (the columns an update sets, the number of
    rows an insert writes, the viewer an access rule is for); the most recent ``limit`` are kept."""

    def __init__(self, build: Callable[[Hashable, Callable[..., Value]], Any], limit: int = 256) -> None:
        self._build = build
        self._limit = limit
        self._members: OrderedDict[Hashable, Prepared] = OrderedDict()
        self._lock = threading.Lock()

    def __getitem__(self, key: Hashable) -> Prepared:
        with self._lock:
            found = self._members.get(key)
            if found is None:
                found = self._members[key] = Prepared(lambda place, key=key: self._build(key, place))
                while len(self._members) > self._limit:
                    self._members.popitem(last=False)
            else:
                self._members.move_to_end(key)
            return found
