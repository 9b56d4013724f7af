"""Migration 6: text stored before the forms and the API refused it, repaired so every page and
subject access pack can show it.

A JSON escape such as ``\\ud800`` gave Python a lone surrogate, which the JSON columns kept (as
the escape) but which UTF-8 cannot encode: the page or pack holding it failed with a 500.
Control characters were kept too (NUL only in JSON: PostgreSQL refuses it in text). Each is
replaced as engine/inputs.py ``repaired`` says: a vertical tab or form feed (Word's line and page
breaks) becomes a line break, anything else the replacement character, so a reader sees that
something unreadable was there. Tab, line feed and carriage return are left alone. Each repaired
row is written to the audit.
"""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from peewee import SQL, Field, Model

from engine.inputs import repaired

from . import audit
from .access import CaseAccess, RestrictedCase
from .db import database, is_postgres
from .history import CaseArchive
from .models import CaseMigration, CaseState, ChronologyEntry, Conference, Contact, JSONField, Person, User

# The text people typed (directly, through a form, or through the API), column by column. The
# workflow state and its archive hold the same form data again. The audit is left as written:
# its entries are hash-chained and never change.
REPAIRED: tuple[tuple[type[Model], tuple[str, ...]], ...] = (
    (Person, ("given_name", "family_name", "upn", "details")),
    (Contact, ("payload",)),
    (ChronologyEntry, ("summary", "details")),
    (Conference, ("venue", "outcome", "reason_outside_timescale", "details")),
    (CaseState, ("state",)),
    (CaseArchive, ("content",)),
    (CaseMigration, ("previous_state",)),
    (RestrictedCase, ("reason",)),
    (CaseAccess, ("reason",)),
    (User, ("full_name",)),
)
JSON_TEXT = {(CaseState, "state"), (CaseArchive, "content"), (CaseMigration, "previous_state")}  # JSON in a text column
BATCH = 500
# Control characters as a character class; NUL is looked for apart (it cannot sit in a pattern).
_CONTROLS = "\x01-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"


def repair_stored_text(now: datetime | None = None) -> int:
    """Repair every stored text holding a character that cannot be shown; returns the rows changed."""
    changed = 0
    for model, columns in REPAIRED:
        for name in columns:
            changed += _repair_column(model, model._meta.fields[name], now)
    return changed


def _repair_column(model: type[Model], field: Field, now: datetime | None) -> int:
    is_json = isinstance(field, JSONField) or (model, field.name) in JSON_TEXT
    key = model._meta.primary_key
    ids = [row[0] for row in model.select(key).where(_suspect(field, is_json)).tuples()]
    changed = 0
    for start in range(0, len(ids), BATCH):
        batch = ids[start:start + BATCH]
        rows = database.execute(model.select(key, SQL(_quoted(field))).where(key.in_(batch)))
        for row_id, stored in list(rows):
            fixed = _fixed(stored, field, is_json)
            if fixed is None:
                continue
            model.update({field: fixed}).where(key == row_id).execute()
            case_id = row_id if model is CaseState else getattr(model.get_by_id(row_id), "case_id", None)
            audit.record("migration", "change", model._meta.table_name, row_id, now,
                         {"action": "unreadable characters replaced (schema migration 6)", "column": field.column_name},
                         case_id=case_id)
            changed += 1
    return changed


def _quoted(field: Field) -> str:
    return f'"{field.column_name}"'  # each query reads one table


def _suspect(field: Field, is_json: bool):
    """A cheap first look in SQL: rows that may hold such a character (Python then makes sure)."""
    column = _quoted(field)
    if is_json:  # written escaped: \uXXXX (every non-ASCII character too), \b or \f
        patterns = ["%\\u%", "%\\b%", "%\\f%"]
        return SQL(" OR ".join(f"{column} LIKE {database.param} ESCAPE '!'" for _ in patterns), patterns)
    if is_postgres():
        return SQL(f"{column} ~ {database.param}", [f"[{_CONTROLS}]"])
    return SQL(f"({column} GLOB {database.param} OR instr({column}, char(0)) > 0)", [f"*[{_CONTROLS}]*"])


def _fixed(stored: Any, field: Field, is_json: bool) -> Any:
    """The repaired value to write (as the field takes it), or None when nothing needs repair."""
    if stored is None:
        return None
    if not is_json:
        fixed = repaired(stored)
        return fixed if fixed != stored else None
    value = json.loads(stored, strict=False)
    fixed = _walk(value)
    if fixed == value:
        return None
    return fixed if isinstance(field, JSONField) else json.dumps(fixed, separators=(",", ":"))


def _walk(value: Any) -> Any:
    if isinstance(value, str):
        return repaired(value)
    if isinstance(value, list):
        return [_walk(item) for item in value]
    if isinstance(value, dict):
        return {repaired(key): _walk(item) for key, item in value.items()}
    return value
