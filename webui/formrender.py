"""Task forms in the browser: a JSON Schema becomes GOV.UK form fields, and posted fields become JSON data.

Input names are the fields' dotted paths (``attendees.0.name``); a date posts ``<path>-day``,
``-month`` and ``-year``; a repeating group posts ``_rows:<path>`` with how many rows it showed.
Blank rows are dropped when parsing, so data indices and row numbers on the page can differ:
``Parsed.display_path`` maps an error's data path back to the row the user typed it in.
Used by the task page and the contact page alike.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Iterable, Mapping

from engine import FieldError, Form

BLANK_ROWS = 3  # empty rows offered after the existing ones of a repeating group (by default)
MAX_ROWS = 100
RADIO_LIMIT = 6  # more options than this become a select
ROWS_PREFIX = "_rows:"
DATE_PARTS = ("day", "month", "year")
_MISSING = object()


@dataclass
class Field:
    """One question on the page (or a fieldset / repeating group holding others)."""

    kind: str  # text, textarea, lines, number, date, radios, yesno, select, checkboxes, fieldset, group, row
    path: str
    label: str
    hint: str | None = None
    optional: bool = False
    depth: int = 0
    value: Any = ""
    errors: list[str] = field(default_factory=list)
    options: list[tuple[str, str]] = field(default_factory=list)
    children: list["Field"] = field(default_factory=list)
    input_type: str = "text"
    width: str | None = None
    error_parts: tuple[str, ...] = ()
    item_label: str = "row"

    @property
    def id(self) -> str:
        return self.path.replace(".", "-")

    @property
    def anchor(self) -> str:
        """The id an error summary link jumps to (the first input of the question)."""
        if self.kind == "date":
            return f"{self.id}-{(self.error_parts or DATE_PARTS)[0]}"
        return self.id


@dataclass
class FormView:
    """What a template draws: the fields, and the error summary in page order."""

    fields: list[Field]
    errors: list[dict[str, str]]


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


def _join(prefix: str, name: str | int) -> str:
    return f"{prefix}.{name}" if prefix else str(name)


def _label(name: str, schema: Mapping[str, Any]) -> str:
    return str(schema.get("title") or name.replace("_", " ").capitalize())


def _required(schema: Mapping[str, Any]) -> tuple[set[str], set[str]]:
    """Fields always required, and those some if/then rule may require."""
    sometimes: set[str] = set()
    for rule in schema.get("allOf", []) + [schema]:
        for branch in ("then", "else"):
            sometimes.update((rule.get(branch) or {}).get("required", []))
    return set(schema.get("required", [])), sometimes


# -- data -> what the page shows ------------------------------------------------------------
def to_values(schema: Mapping[str, Any], data: Mapping[str, Any] | None) -> dict[str, Any]:
    """Form values to show for existing JSON data (for example a task's prefill)."""
    data = data or {}
    return {name: _shown(prop, data[name]) for name, prop in schema.get("properties", {}).items() if name in data}


def _shown(schema: Mapping[str, Any], value: Any) -> Any:
    kind = kind_of(schema)
    if kind == "fieldset":
        return to_values(schema, value if isinstance(value, dict) else {})
    if kind == "group":
        return [to_values(schema["items"], row if isinstance(row, dict) else {}) for row in value or []]
    if kind == "checkboxes":
        return [str(v) for v in value or []]
    if kind == "lines":
        return "\n".join(str(v) for v in value or [])
    if kind == "yesno":
        return {True: "yes", False: "no"}.get(value, "")
    if kind == "date":
        try:
            when = date.fromisoformat(str(value))
        except ValueError:
            return {part: "" for part in DATE_PARTS}
        return {"day": str(when.day), "month": str(when.month), "year": str(when.year)}
    return "" if value is None else str(value)


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
            value, shown = self.value(name, prop, _join(prefix, name), _join(dprefix, name))
            values[name] = shown
            if value is not _MISSING:
                data[name] = value
        return data, values

    def value(self, name: str, prop: Mapping[str, Any], path: str, dpath: str) -> tuple[Any, Any]:
        kind, label = kind_of(prop), _label(name, prop)
        if kind == "fieldset":
            data, shown = self.object(prop, path, dpath)
            return (data or _MISSING), shown
        if kind == "group":
            return self.group(prop, path, dpath)
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

    def group(self, prop: Mapping[str, Any], path: str, dpath: str) -> tuple[Any, list]:
        items = prop["items"]
        count = _row_count(self.form, path)
        rows, shown_rows = [], []
        for index in range(count):
            row_path, row_dpath = _join(path, index), _join(dpath, len(rows))
            errors_before = len(self.errors)
            data, shown = self.object(items, row_path, row_dpath)
            shown_rows.append(shown)
            if _blank(shown) and len(self.errors) == errors_before:
                continue  # an empty row offered for adding someone: not an answer
            self.paths[row_dpath] = row_path
            rows.append(data)
        self.rows[path] = count
        return (rows or _MISSING), shown_rows


def _row_count(form, path: str) -> int:
    """Rows the page showed: the hidden count, or the highest row number posted."""
    try:
        count = int(form.get(ROWS_PREFIX + path) or 0)
    except ValueError:
        count = 0
    start = path + "."
    for key in form.keys():
        if key.startswith(start):
            head = key[len(start):].split(".")[0].split("-")[0]
            if head.isdigit():
                count = max(count, int(head) + 1)
    return max(0, min(count, MAX_ROWS))


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


# -- what the page shows -> fields ---------------------------------------------------------
def build_form(schema: Mapping[str, Any], values: Mapping[str, Any] | None = None,
               errors: Iterable[FieldError] = (), rows: Mapping[str, int] | None = None,
               date_parts: Mapping[str, tuple[str, ...]] | None = None, *,
               blank_rows: int = BLANK_ROWS, form_id: str = "task-form") -> FormView:
    """The fields of ``schema`` showing ``values``, each error placed on its field (page paths).

    ``blank_rows``: empty rows a repeating group offers after its own when ``rows`` does not say;
    ``form_id``: where the error summary points for a problem with no field.
    """
    builder = _Builder(rows or {}, date_parts or {}, blank_rows)
    fields = builder.object(schema, values or {}, "", 0)
    summary = []
    for problem in errors:
        message = _friendly(schema, problem.field, problem.message)  # however the error was found
        message = message[:1].upper() + message[1:]
        target = builder.nearest(problem.field)
        if target is None:
            summary.append((-1, {"href": f"#{form_id}", "text": message}))
            continue
        target.errors.append(message)
        row = builder.row_of(target)
        text = f"{row.label}: {message}" if row is not None else message
        summary.append((builder.order[target.path], {"href": f"#{target.anchor}", "text": text}))
    summary.sort(key=lambda item: item[0])
    return FormView(fields, [entry for _order, entry in summary])


def _friendly(schema: Mapping[str, Any], path: str, message: str) -> str:
    """'Enter the last name', 'Choose the gender', 'Add at least one child' for a missing answer."""
    node: Any = schema
    for part in path.split(".") if path else []:
        step = (node.get("items") if part.isdigit() else node.get("properties", {}).get(part))
        node = step if isinstance(step, dict) else {}
    kind, title = kind_of(node), str(node.get("title") or "")
    if kind == "group" and message.endswith((" is required", ": give at least 1")):
        return f"Add at least one {str(node['items'].get('title') or 'row').lower()}"
    if not title or not message.endswith(" is required"):
        return message
    if title.endswith("?"):
        return f"Answer the question: {title}"
    verb = "Choose" if kind in ("radios", "select", "yesno", "checkboxes") else "Enter"
    keep_case = title[1:2].isupper()  # an initialism such as 'NHS number'
    return f"{verb} the {title if keep_case else title[:1].lower() + title[1:]}"


class _Builder:
    def __init__(self, rows: Mapping[str, int], date_parts: Mapping[str, tuple[str, ...]], blank_rows: int) -> None:
        self.rows, self.date_parts, self.blank_rows = rows, date_parts, blank_rows
        self.by_path: dict[str, Field] = {}
        self.order: dict[str, int] = {}

    def nearest(self, path: str) -> Field | None:
        parts = path.split(".") if path else []
        for cut in range(len(parts), 0, -1):
            found = self.by_path.get(".".join(parts[:cut]))
            if found is not None:
                return found
        return None

    def row_of(self, item: Field) -> Field | None:
        """The repeating-group row a field sits in (to say which person an error is about)."""
        parts = item.path.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            found = self.by_path.get(".".join(parts[:cut]))
            if found is not None and found.kind == "row":
                return found
        return None

    def add(self, item: Field) -> Field:
        self.by_path[item.path] = item
        self.order[item.path] = len(self.order)
        return item

    def object(self, schema: Mapping[str, Any], values: Mapping[str, Any], prefix: str, depth: int) -> list[Field]:
        always, sometimes = _required(schema)
        fields = []
        for name, prop in schema.get("properties", {}).items():
            item = self.field(name, prop, values.get(name), _join(prefix, name), depth)
            item.optional = name not in always and name not in sometimes
            fields.append(item)
        return fields

    def field(self, name: str, prop: Mapping[str, Any], value: Any, path: str, depth: int) -> Field:
        kind = kind_of(prop)
        item = self.add(Field(kind, path, _label(name, prop), prop.get("description"), depth=depth))
        if kind == "fieldset":
            item.children = self.object(prop, value if isinstance(value, dict) else {}, path, depth + 1)
        elif kind == "group":
            self.group(item, prop, value if isinstance(value, list) else [], depth)
        elif kind in ("radios", "select"):
            labels = prop.get("x-enumLabels") or {}
            item.options = [(str(v), str(labels.get(v, v))) for v in prop["enum"]]
            item.value = value or ""
        elif kind == "checkboxes":
            labels = prop["items"].get("x-enumLabels") or {}
            item.options = [(str(v), str(labels.get(v, v))) for v in prop["items"]["enum"]]
            item.value = value if isinstance(value, list) else []
        elif kind == "yesno":
            item.options, item.value = [("yes", "Yes"), ("no", "No")], value or ""
        elif kind == "date":
            item.value = value if isinstance(value, dict) else {part: "" for part in DATE_PARTS}
            item.error_parts = tuple(self.date_parts.get(path, ()))
        else:
            item.value = value or ""
            item.input_type = "email" if prop.get("format") == "email" else "text"
            if kind == "number":
                item.width = "govuk-input--width-5"
            elif kind == "text" and (prop.get("maxLength") or 1000) <= 20:
                item.width = "govuk-input--width-10"
        return item

    def group(self, item: Field, prop: Mapping[str, Any], rows: list, depth: int) -> None:
        items = prop["items"]
        item.item_label = str(items.get("title") or "Row")
        count = self.rows.get(item.path, len(rows) + self.blank_rows)
        count = max(len(rows), min(count, MAX_ROWS))
        for index in range(count):
            row_path = _join(item.path, index)
            row = self.add(Field("row", row_path, f"{item.item_label} {index + 1}", depth=depth + 1))
            row_values = rows[index] if index < len(rows) and isinstance(rows[index], dict) else {}
            row.children = self.object(items, row_values, row_path, depth + 1)
            item.children.append(row)
