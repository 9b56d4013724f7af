"""Posted form fields read back as JSON data, for the task page and the contact page alike.

Input names are the fields' dotted paths (``attendees.0.name``); a date posts ``<path>-day``,
``-month`` and ``-year``; a repeating group posts ``_rows:<path>`` with how many rows it showed.
Blank rows are dropped when parsing, so data indices and row numbers on the page can differ:
``Parsed.display_path`` maps an error's data path back to the row the user typed it in.
Which widget shows a schema node (``kind_of``) is decided here too: reading needs it first.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Mapping

from engine import FieldError, Form
from engine.forms import too_many_message

MAX_ROWS = 100
RADIO_LIMIT = 6  # more options than this become a select
ROWS_PREFIX = "_rows:"
DATE_PARTS = ("day", "month", "year")
_MISSING = object()


@dataclass
class Parsed:
    """Posted fields read back: JSON data, what to show again, errors in page terms, rows shown."""

    data: dict[str, Any]
    values: dict[str, Any]
    errors: list[FieldError]
    rows: dict[str, int]
    date_parts: dict[str, tuple[str, ...]]
    paths: dict[str, str] = field(default_factory=dict)

    def add_row(self, group: str) -> None:
        """Offer one more blank row in the repeating group at page path ``group`` (ignored if unknown)."""
        if group in self.rows:
            self.rows[group] = min(self.rows[group] + 1, MAX_ROWS)

    def display_path(self, data_path: str) -> str:
        """The page path of a data path (row numbers on the page count the blank rows too)."""
        parts = data_path.split(".") if data_path else []
        for cut in range(len(parts), 0, -1):
            prefix = ".".join(parts[:cut])
            if prefix in self.paths:
                return ".".join([self.paths[prefix], *parts[cut:]])
        return data_path


def kind_of(schema: Mapping[str, Any]) -> str:
    """Which widget shows a schema node."""
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind == "object":
        return "fieldset"
    if kind == "array":
        items = schema.get("items") or {}
        if items.get("type") == "object":
            return "group"
        return "checkboxes" if "enum" in items else "lines"
    if kind == "boolean":
        return "yesno"
    if kind in ("integer", "number"):
        return "number"
    if "enum" in schema:
        return "radios" if len(schema["enum"]) <= RADIO_LIMIT else "select"
    if schema.get("format") == "date":
        return "date"
    return "textarea" if schema.get("x-widget") == "textarea" else "text"


def join_path(prefix: str, name: str | int) -> str:
    """``prefix.name``, or ``name`` at the top."""
    return f"{prefix}.{name}" if prefix else str(name)


def field_label(name: str, schema: Mapping[str, Any]) -> str:
    """The title a field shows (its name in words when it has none)."""
    return str(schema.get("title") or name.replace("_", " ").capitalize())


def row_limit(schema: Mapping[str, Any]) -> int:
    """How many rows a repeating group may hold: its maxItems, and never more than MAX_ROWS."""
    limit = schema.get("maxItems")
    return min(MAX_ROWS, limit) if isinstance(limit, int) and limit >= 0 else MAX_ROWS


# -- what was posted -> data ---------------------------------------------------------------
def parse_form(schema: Mapping[str, Any], form) -> Parsed:
    """Read a posted form (a werkzeug MultiDict) against ``schema``; blank answers are left out."""
    reader = _Reader(form)
    data, values = reader.object(schema, "", "")
    return Parsed(data, values, reader.errors, reader.rows, reader.date_parts, reader.paths)


class _Reader:
    def __init__(self, form) -> None:
        self.form = form
        self.errors: list[FieldError] = []
        self.rows: dict[str, int] = {}
        self.date_parts: dict[str, tuple[str, ...]] = {}
        self.paths: dict[str, str] = {}

    def object(self, schema: Mapping[str, Any], prefix: str, dprefix: str) -> tuple[dict, dict]:
        data, values = {}, {}
        for name, prop in schema.get("properties", {}).items():
            value, shown = self.value(name, prop, join_path(prefix, name), join_path(dprefix, name))
            values[name] = shown
            if value is not _MISSING:
                data[name] = value
        return data, values

    def value(self, name: str, prop: Mapping[str, Any], path: str, dpath: str) -> tuple[Any, Any]:
        kind, label = kind_of(prop), field_label(name, prop)
        if kind == "fieldset":
            data, shown = self.object(prop, path, dpath)
            return (data or _MISSING), shown
        if kind == "group":
            return self.group(prop, path, dpath, label)
        if kind == "checkboxes":
            chosen = [v for v in self.form.getlist(path) if v]
            return (chosen or _MISSING), chosen
        if kind == "date":
            return self.date(label, path)
        raw = (self.form.get(path) or "").replace("\r\n", "\n")
        text = raw.strip()
        if not text:
            return _MISSING, raw
        if kind == "lines":
            return [line.strip() for line in text.split("\n") if line.strip()], raw
        if kind == "yesno":
            if text not in ("yes", "no"):
                self.errors.append(FieldError(path, f"{label}: choose yes or no"))
                return _MISSING, ""
            return text == "yes", text
        if kind == "number":
            return self.number(prop, label, path, text), raw
        return text, raw

    def number(self, prop: Mapping[str, Any], label: str, path: str, text: str) -> Any:
        try:
            return int(text) if prop.get("type") == "integer" else float(text) if "." in text else int(text)
        except ValueError:
            words = "a whole number" if prop.get("type") == "integer" else "a number"
            self.errors.append(FieldError(path, f"{label} must be {words}"))
            return _MISSING

    def date(self, label: str, path: str) -> tuple[Any, dict[str, str]]:
        parts = {part: (self.form.get(f"{path}-{part}") or "").strip() for part in DATE_PARTS}
        if not any(parts.values()):
            return _MISSING, parts
        missing = tuple(p for p in DATE_PARTS if not parts[p])
        if missing:
            return self._bad_date(path, f"{label} must include a {' and '.join(missing)}", missing), parts
        if not all(parts[p].isdigit() for p in DATE_PARTS):
            wrong = tuple(p for p in DATE_PARTS if not parts[p].isdigit())
            return self._bad_date(path, f"{label} must be a real date, in numbers", wrong), parts
        if len(parts["year"]) != 4:
            return self._bad_date(path, f"{label}: the year must have 4 numbers", ("year",)), parts
        try:
            when = date(int(parts["year"]), int(parts["month"]), int(parts["day"]))
        except ValueError:
            return self._bad_date(path, f"{label} must be a real date", DATE_PARTS), parts
        return when.isoformat(), parts

    def _bad_date(self, path: str, message: str, parts: tuple[str, ...]) -> Any:
        self.errors.append(FieldError(path, message))
        self.date_parts[path] = parts
        return _MISSING

    def group(self, prop: Mapping[str, Any], path: str, dpath: str, label: str) -> tuple[Any, list]:
        items, limit = prop["items"], row_limit(prop)
        count, beyond = _row_count(self.form, path, limit)
        if beyond:  # rows past the limit were sent (the page never offers them): say so, never drop them silently
            self.errors.append(FieldError(path, too_many_message(prop, label, limit)))
        rows, shown_rows = [], []
        for index in range(count):
            row_path, row_dpath = join_path(path, index), join_path(dpath, len(rows))
            errors_before = len(self.errors)
            data, shown = self.object(items, row_path, row_dpath)
            shown_rows.append(shown)
            if _blank(shown) and len(self.errors) == errors_before:
                continue  # an empty row offered for adding someone: not an answer
            self.paths[row_dpath] = row_path
            rows.append(data)
        self.rows[path] = count
        return (rows or _MISSING), shown_rows


def _row_count(form, path: str, limit: int) -> tuple[int, bool]:
    """Rows the page showed (the hidden count, or the highest row number posted), at most ``limit``;
    and whether anything was typed in a row past the limit."""
    hidden = form.get(ROWS_PREFIX + path) or ""
    count = int(hidden) if hidden.isdecimal() and len(hidden) <= 6 else 0
    start, beyond = path + ".", False
    for key, value in form.items(multi=True):
        if key.startswith(start):
            head = key[len(start):].split(".")[0].split("-")[0]
            if not head.isdecimal():
                continue
            row = int(head) if len(head) <= 6 else limit + 1  # a row number no page has
            count = max(count, row + 1)
            beyond = beyond or (row >= limit and bool(str(value).strip()))
    return max(0, min(count, limit)), beyond


def _blank(value: Any) -> bool:
    if isinstance(value, dict):
        return all(_blank(v) for v in value.values())
    if isinstance(value, list):
        return all(_blank(v) for v in value)
    return not str(value or "").strip()


def schema_errors(schema: Mapping[str, Any], data: Any) -> list[FieldError]:
    """The schema's own per-field errors for ``data`` (data paths)."""
    return Form(str(schema.get("$id") or "form"), schema).errors(data)


def page_errors(schema: Mapping[str, Any], parsed: Parsed) -> list[FieldError]:
    """Answers that could not be read, plus the schema's view of the rest (page paths, so all show at once)."""
    errors = list(parsed.errors)
    taken = {e.field for e in errors}
    for problem in schema_errors(schema, parsed.data):
        path = parsed.display_path(problem.field)
        if not any(path == t or path.startswith(t + ".") for t in taken):
            errors.append(FieldError(path, problem.message))
    return errors
