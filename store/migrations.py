"""Schema migrations: upgrade a database in place, from the first released schema to this code's.

``migrate()`` runs in order:

1. the generic step: every table, column and index the peewee models declare (``ALL_MODELS``, so
   a module that adds a model or a field is covered without registering anything) is created when
   missing, never dropped or changed. A new column on a table with rows gets its default (a NOT
   NULL column needs one).
2. the numbered migrations after the database's ``schema_version``, each in its own transaction
   and recorded in that table: data changes that adding columns cannot express.

A database without ``schema_version`` but with tables is the first released schema (version 1).
A database whose version is newer than the code is refused. A second run changes nothing.
On PostgreSQL an advisory lock makes concurrent starts (several gunicorn workers) take turns.
"""
from __future__ import annotations

from dataclasses import dataclass, field as dataclass_field
from datetime import date, datetime
from typing import Callable

from peewee import CharField, DatabaseError, DateTimeField, Entity, IntegerField, PostgresqlDatabase

from engine.errors import EngineError

from .db import database
from .access import backfill_case_teams
from .chronology import backfill_happened_on
from .models import BaseModel, DiagramVersion
from .repair import repair_stored_text
from .schema import ALL_MODELS

ADVISORY_LOCK = 0x5AFE_9A4D  # PostgreSQL: one migrating process at a time


class SchemaTooNew(EngineError):
    """The database was migrated by newer code than this."""


class SchemaVersion(BaseModel):
    version = IntegerField(primary_key=True)
    description = CharField(max_length=200)
    applied_at = DateTimeField(null=True)


def _backfill_publication(now: datetime) -> None:
    """Versions published before publishing was recorded: published when and by whom they were made."""
    DiagramVersion.update(published_at=DiagramVersion.created_at).where(
        DiagramVersion.status == "published", DiagramVersion.published_at.is_null()).execute()
    DiagramVersion.update(published_by=DiagramVersion.created_by).where(
        DiagramVersion.status == "published", DiagramVersion.published_by.is_null()).execute()


# Written at every step of a case (its whole workflow state) or often (pruned history).
LARGE_TEXT = (("case_state", "state"), ("case_archive", "content"))


def _lz4_for_large_text(now: datetime | None = None) -> None:
    """PostgreSQL: compress the large text written at every step with lz4, not the default pglz
    (writing a 47 KB state: 1.7 ms with pglz, 0.9 ms with lz4). Rows already stored keep theirs;
    a server built without lz4 keeps pglz."""
    if not isinstance(database.obj, PostgresqlDatabase):
        return
    for table, column in LARGE_TEXT:
        try:
            with database.atomic():
                database.execute_sql(f'ALTER TABLE "{table}" ALTER COLUMN "{column}" SET COMPRESSION lz4')
        except DatabaseError:
            pass


# Indexes whose column leads a composite index of the same table: they served no query the
# composite does not, and every step paid for them (a task row's insert and delete, a chronology
# entry's insert).
COVERED_INDEXES = {"task_assignee_id": ("task", "assignee_id"),  # by (assignee_id, due, created_at, id)
                   "chronology_entry_case_id": ("chronology_entry", "case_id"),  # by (case_id, at)
                   "case_child_id": ("case", "child_id"),  # by (child_id, cp_plan_started_on)
                   "case_referral_date": ("case", "referral_date")}  # by the returns' (referral_date, team_id, ...)


def _drop_covered_indexes(now: datetime | None = None) -> None:
    for name in COVERED_INDEXES:
        database.execute_sql(f'DROP INDEX IF EXISTS "{name}"')


# (number, description, data change or None). Append only; never renumber a released migration.
MIGRATIONS: list[tuple[int, str, Callable[[datetime], None] | None]] = [
    (1, "first released schema", None),
    (2, "versions published before publishing was recorded", _backfill_publication),
    (3, "cases allocated before cases had teams: the allocated worker's team", backfill_case_teams),
    (4, "workflow state and archive compressed with lz4 on PostgreSQL", _lz4_for_large_text),
    (5, "indexes a composite index already covers dropped", _drop_covered_indexes),
    (6, "control characters and lone surrogates in stored text repaired", repair_stored_text),
    (7, "chronology entries: the day each thing happened", backfill_happened_on),
]
LATEST = MIGRATIONS[-1][0]


@dataclass
class MigrationReport:
    from_version: int | None  # None: an empty database
    to_version: int
    added_tables: list[str] = dataclass_field(default_factory=list)
    added_columns: list[str] = dataclass_field(default_factory=list)
    applied: list[str] = dataclass_field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.added_tables or self.added_columns or self.applied or self.from_version is None)


def models() -> list:
    return [SchemaVersion, *ALL_MODELS]


def schema_version() -> int | None:
    """The database's schema version: None when empty, 1 for a database from before migrations."""
    tables = _tables()
    if SchemaVersion._meta.table_name in tables:
        latest = SchemaVersion.select().order_by(SchemaVersion.version.desc()).first()
        if latest is not None:
            return latest.version
    return 1 if tables else None


def migrate(now: datetime | None = None) -> MigrationReport:
    """Bring the connected database up to this code's schema; see the module docstring."""
    if _complete():
        return MigrationReport(LATEST, LATEST)
    with database.atomic():
        _lock()
        start = schema_version()
        if start is not None and start > LATEST:
            raise SchemaTooNew(f"the database is at schema version {start}, newer than this code "
                               f"(version {LATEST}): run the newer code, or restore a backup made with this one")
        report = MigrationReport(start, LATEST)
        _sync_models(report)
        if start is None:  # a new database is created at the latest version
            _lz4_for_large_text(now)
            _record(LATEST, "created", now)
    for number, description, change in MIGRATIONS:
        if start is None or number <= start:
            continue
        with database.atomic():
            _lock()
            if schema_version() >= number:  # another process ran it meanwhile
                continue
            if change is not None:
                change(now)
            _record(number, description, now)
            report.applied.append(f"{number}: {description}")
    return report


def _record(number: int, description: str, now: datetime | None) -> None:
    SchemaVersion.insert(version=number, description=description, applied_at=now).on_conflict_ignore().execute()


def _lock() -> None:
    if isinstance(database.obj, PostgresqlDatabase):
        database.execute_sql("SELECT pg_advisory_xact_lock(%s)", (ADVISORY_LOCK,))


def _schema() -> str | None:
    if isinstance(database.obj, PostgresqlDatabase):
        return database.execute_sql("SELECT current_schema()").fetchone()[0]
    return None


def _tables() -> set[str]:
    return set(database.get_tables(schema=_schema()))


def _columns() -> dict[str, set[str]]:
    """Every table's columns, in one query (peewee's per-table introspection is slow on PostgreSQL)."""
    if isinstance(database.obj, PostgresqlDatabase):
        rows = database.execute_sql("SELECT table_name, column_name FROM information_schema.columns "
                                    "WHERE table_schema = current_schema()")
    else:
        rows = database.execute_sql("SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p "
                                    "WHERE m.type = 'table'")
    found: dict[str, set[str]] = {}
    for table, column in rows:
        found.setdefault(table, set()).add(column)
    return found


def _indexes() -> set[str]:
    if isinstance(database.obj, PostgresqlDatabase):
        rows = database.execute_sql("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()")
    else:
        rows = database.execute_sql("SELECT name FROM sqlite_master WHERE type = 'index'")
    return {name for (name,) in rows}


def _complete() -> bool:
    """Whether the database is at the latest version with every table, column and index of the models."""
    columns = _columns()
    if SchemaVersion._meta.table_name not in columns or schema_version() != LATEST:
        return False
    indexes = _indexes()
    return all({f.column_name for f in m._meta.sorted_fields} <= columns.get(m._meta.table_name, set())
               and {i._name for i in m._meta.fields_to_index()} <= indexes for m in models())


def _sync_models(report: MigrationReport) -> None:
    """Create missing tables, then missing columns of existing tables, then every missing index."""
    existing = _columns()
    for model in models():
        table = model._meta.table_name
        if table not in existing:
            report.added_tables.append(table)
            continue
        for column in model._meta.sorted_fields:
            if column.column_name not in existing[table]:
                _add_column(model, column)
                report.added_columns.append(f"{table}.{column.column_name}")
    database.create_tables(models(), safe=True)  # new tables, and CREATE INDEX IF NOT EXISTS for all


def _add_column(model, column) -> None:
    """ALTER TABLE ADD COLUMN from the field's own DDL; a NOT NULL column takes its default."""
    from playhouse.migrate import SchemaMigrator
    migrator = SchemaMigrator.from_database(database.obj)
    table = model._meta.table_name
    default = None
    if not column.null:
        if column.default is None:
            raise EngineError(f"cannot add {table}.{column.column_name}: it is NOT NULL without a default; "
                              "give the field a default or null=True, or write a numbered migration")
        value = column.default() if callable(column.default) else column.default
        default = _literal(column.db_value(value))
    # peewee's own column DDL (type, NOT NULL, inline REFERENCES); unwrapped to read its SQL
    ctx = type(migrator).alter_add_column.__wrapped__(migrator, table, column.column_name, column,
                                                      allow_not_null=True)
    sql, params = ctx.query()
    if default is not None:
        sql += f" DEFAULT {default}"
    database.execute_sql(sql, params)
    if default is not None and isinstance(database.obj, PostgresqlDatabase):  # as a fresh table has it
        database.execute_sql(database.obj.get_sql_context().literal("ALTER TABLE ").sql(Entity(table))
                             .literal(" ALTER COLUMN ").sql(Entity(column.column_name))
                             .literal(" DROP DEFAULT").query()[0])


def _literal(value) -> str:
    """A SQL literal for a column default (DDL takes no parameters)."""
    if isinstance(value, bool):
        return ("TRUE" if value else "FALSE") if isinstance(database.obj, PostgresqlDatabase) else str(int(value))
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (date, datetime)):
        value = value.isoformat(" ") if isinstance(value, datetime) else value.isoformat()
    return "'" + str(value).replace("'", "''") + "'"


__all__ = ["LATEST", "MIGRATIONS", "MigrationReport", "SchemaTooNew", "SchemaVersion", "migrate", "schema_version"]


def create_schema() -> None:
    """Create or upgrade the schema in place: missing tables, columns and indexes (``migrate``)."""
    migrate()
