"""Backup and restore of the whole database.

SQLite is copied with SQLite's online backup API: a consistent copy while the service keeps
running (readers and the WAL writer are not stopped). PostgreSQL (or SQLite with ``portable``)
is written as JSON lines from one REPEATABLE READ snapshot: a header line, then for each table a
``{"table", "columns"}`` line followed by one ``{"row": [...]}`` line per row. Dates and times are
ISO text, which both databases read back into their columns.

Restore refuses a database that already holds data unless forced, brings the schema up to this
code's (an older backup is migrated), and verifies the audit hash chain afterwards.
"""
from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator

from peewee import AutoField, PostgresqlDatabase, SqliteDatabase, sort_models

from engine.errors import EngineError

from .db import database
from .migrations import LATEST, SchemaVersion, migrate, models, schema_version

FORMAT = "safeguarding-backup"
SQLITE_MAGIC = b"SQLite format 3\x00"


class BackupError(EngineError):
    """A backup could not be written or restored; nothing was changed."""


@dataclass
class RestoreReport:
    tables: dict[str, int] = field(default_factory=dict)  # table -> rows restored
    skipped: list[str] = field(default_factory=list)  # tables in the backup this code does not know
    audit_entries: int = 0


def backup(path: str | Path, portable: bool = False) -> str:
    """Write a backup of the connected database to ``path``; returns its kind ('sqlite' or 'jsonl')."""
    path = Path(path)
    partial = path.with_name(path.name + ".partial")
    try:
        if isinstance(database.obj, SqliteDatabase) and not portable:
            target = sqlite3.connect(partial)
            with target:
                database.connection().backup(target)
            target.close()
            kind = "sqlite"
        else:
            with partial.open("w", encoding="utf-8") as out:
                for line in _dump_lines():
                    out.write(line + "\n")
            kind = "jsonl"
        os.replace(partial, path)  # a crash never leaves a half-written file under the real name
    except (OSError, sqlite3.Error) as exc:
        partial.unlink(missing_ok=True)
        raise BackupError(f"cannot write {path}: {getattr(exc, 'strerror', None) or exc}") from None
    return kind


def _dump_lines() -> Iterator[str]:
    with database.atomic():
        if isinstance(database.obj, PostgresqlDatabase):
            database.execute_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        yield json.dumps({"format": FORMAT, "schema_version": schema_version()})
        for table in _tables_in_order():
            cursor = database.execute_sql(f'SELECT * FROM "{table}" ORDER BY 1')
            yield json.dumps({"table": table, "columns": [d[0] for d in cursor.description]})
            for row in iter(lambda: cursor.fetchmany(500), []):
                for values in row:
                    yield json.dumps({"row": list(values)}, default=_plain, ensure_ascii=False)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat(" ")  # as peewee writes DateTimeField to SQLite
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (bytes, memoryview)):
        return bytes(value).hex()
    raise TypeError(f"cannot back up a {type(value).__name__}")


def _schema() -> str | None:
    if isinstance(database.obj, PostgresqlDatabase):
        return database.execute_sql("SELECT current_schema()").fetchone()[0]
    return None


def _tables_in_order() -> list[str]:
    """Every table: the models' in foreign-key order (parents first), then any others."""
    present = set(database.get_tables(schema=_schema()))
    known = [m._meta.table_name for m in sort_models(models()) if m._meta.table_name in present]
    return known + sorted(present - set(known))


# -- restoring ---------------------------------------------------------------------------------
def has_data() -> bool:
    """Whether the connected database holds any row (the schema's own version record aside)."""
    present = set(database.get_tables(schema=_schema()))
    return any(database.execute_sql(f'SELECT 1 FROM "{t}" LIMIT 1').fetchone()
               for t in present if t != SchemaVersion._meta.table_name)


def restore(path: str | Path, force: bool = False) -> RestoreReport:
    """Replace the connected database's contents with the backup at ``path``."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            magic = handle.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise BackupError(f"cannot read {path}: {exc.strerror or exc}") from None
    if has_data() and not force:
        raise BackupError("the database already holds data: restore refuses to overwrite it "
                          "(use --force to replace everything in it with the backup)")
    report = RestoreReport()
    if magic == SQLITE_MAGIC and isinstance(database.obj, SqliteDatabase):
        _restore_sqlite_file(path)
    else:
        with database.atomic():
            migrate()
            _clear()
            source = _sqlite_rows(path) if magic == SQLITE_MAGIC else _jsonl_rows(path)
            for table, columns, rows in source:
                _insert(table, columns, rows, report)
            _reset_sequences()
    migrate()  # an older backup is brought up to this code's schema
    from .audit import verify_chain
    report.audit_entries, breaks = verify_chain()
    if breaks:
        raise BackupError(f"restored, but the audit chain does not verify: entry {breaks[0].entry_id}: "
                          f"{breaks[0].reason}")
    report.tables = report.tables or {t: database.execute_sql(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0]
                                      for t in _tables_in_order()}
    return report


def _open_sqlite(path: Path) -> sqlite3.Connection:
    """A SQLite backup, read-only, checked undamaged and not newer than this code."""
    source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        if source.execute("PRAGMA quick_check").fetchone()[0] != "ok":
            raise BackupError(f"{path} is a damaged SQLite file")
        try:
            version = source.execute("SELECT MAX(version) FROM schema_version").fetchone()[0]
        except sqlite3.OperationalError:
            version = 1  # from before migrations
        _check_version(version)
    except sqlite3.DatabaseError as exc:
        source.close()
        raise BackupError(f"{path} cannot be read as SQLite: {exc}") from None
    except BackupError:
        source.close()
        raise
    return source


def _restore_sqlite_file(path: Path) -> None:
    source = _open_sqlite(path)
    try:
        source.backup(database.connection())
    finally:
        source.close()


def _check_version(version: int | None) -> None:
    if version is not None and version > LATEST:
        raise BackupError(f"the backup is at schema version {version}, newer than this code (version {LATEST})")


def _sqlite_rows(path: Path) -> Iterator[tuple[str, list[str], Iterator[list]]]:
    source = _open_sqlite(path)
    try:
        names = {r[0] for r in source.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        known = [m._meta.table_name for m in sort_models(models()) if m._meta.table_name in names]
        for table in known + sorted(names - set(known) - {"sqlite_sequence"}):
            cursor = source.execute(f'SELECT * FROM "{table}" ORDER BY 1')
            yield table, [d[0] for d in cursor.description], (list(r) for r in cursor)
    finally:
        source.close()


def _jsonl_rows(path: Path) -> Iterator[tuple[str, list[str], Iterator[list]]]:
    """Each table of a JSON-lines backup with its rows, streamed (each table's rows read before the next)."""
    with path.open(encoding="utf-8") as handle:
        items = (_line(line, n, path) for n, line in enumerate(handle, start=1) if line.strip())
        try:
            header = next(items, {})
        except BackupError:
            header = {}
        if header.get("format") != FORMAT:
            raise BackupError(f"{path} is not a safeguarding backup (neither SQLite nor its JSON lines)")
        _check_version(header.get("schema_version"))
        item = next(items, None)
        while item is not None:
            if "table" not in item or not isinstance(item.get("columns"), list):
                raise BackupError(f"{path}: a row before any table")
            after: list[dict] = []

            def rows():
                for following in items:
                    if "row" not in following:
                        after.append(following)
                        return
                    yield following["row"]
            yield item["table"], item["columns"], rows()
            item = after[0] if after else None


def _line(line: str, number: int, path: Path) -> dict:
    try:
        item = json.loads(line)
    except json.JSONDecodeError as exc:
        raise BackupError(f"{path}: line {number} is not JSON ({exc.msg})") from None
    if not isinstance(item, dict):
        raise BackupError(f"{path}: line {number} is not a table or a row")
    return item


def _clear() -> None:
    """Empty every table of the models (children first), so the backup's rows replace them."""
    present = set(database.get_tables(schema=_schema()))
    for model in reversed(sort_models(models())):
        if model._meta.table_name in present and model is not SchemaVersion:
            model.delete().execute()


def _insert(table: str, columns: list[str], rows: Iterator[list], report: RestoreReport) -> None:
    model = next((m for m in models() if m._meta.table_name == table), None)
    if model is None or model is SchemaVersion:
        for _ in rows:  # consume them: the next table follows
            pass
        if model is None:
            report.skipped.append(table)
        return
    fields = {f.column_name: f for f in model._meta.sorted_fields}
    keep = [i for i, c in enumerate(columns) if c in fields]
    missing = [f for c, f in fields.items() if c not in columns and f.default is not None]  # added since the backup
    names = [columns[i] for i in keep] + [f.column_name for f in missing]
    defaults = [f.db_value(f.default() if callable(f.default) else f.default) for f in missing]
    quoted = ", ".join(f'"{n}"' for n in names)
    marks = ", ".join([database.param] * len(names))
    sql = f'INSERT INTO "{table}" ({quoted}) VALUES ({marks})'
    count = 0
    for row in rows:
        database.execute_sql(sql, [_value(fields[columns[i]], row[i]) for i in keep] + defaults)
        count += 1
    report.tables[table] = count


def _value(column, value):
    """A JSON value back as the column takes it (booleans stay booleans on PostgreSQL)."""
    if isinstance(database.obj, PostgresqlDatabase) and column.field_type == "BOOL" and isinstance(value, int):
        return bool(value)
    return value


def _reset_sequences() -> None:
    if not isinstance(database.obj, PostgresqlDatabase):
        return
    for model in models():
        key = model._meta.primary_key
        if isinstance(key, AutoField):
            table, column = model._meta.table_name, key.column_name
            database.execute_sql(f"SELECT setval(pg_get_serial_sequence('\"{table}\"', '{column}'), "
                                 f'COALESCE((SELECT MAX("{column}") FROM "{table}"), 0) + 1, false)')


__all__ = ["BackupError", "RestoreReport", "backup", "has_data", "restore"]
