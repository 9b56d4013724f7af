"""Task forms in the browser: a JSON Schema becomes GOV.UK form fields (``build_form``), each error on
its field; posted fields become JSON data in ``webui.formread`` (re-exported here, as the task page
and the contact page use both). Used by the task page, the contact page and the form editor's preview.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Iterable, Mapping

from engine import FieldError
from engine.forms import required_message

from .formread import (DATE_PARTS, MAX_ROWS, Parsed, field_label, join_path, kind_of, page_errors, parse_form, row_limit,
                       schema_errors)

BLANK_ROWS = 3  # empty rows offered after the existing ones of a repeating group (by default)
INPUT_TYPES = {"email": "email", "uk-phone": "tel"}  # formats the browser has a keyboard for
CODES = {"uk-postcode", "nhs-number", "upn"}  # identifiers: no spelling to check
DETERMINERS = ("the ", "your ", "their ", "his ", "her ", "its ", "our ", "a ", "an ")


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
    max_length: int | None = None  # a text area's limit, counted as the person types (GOV.UK character count)
    max_rows: int = 100  # a repeating group's limit: 'Add another' gives way to ``limit_text`` at it
    limit_text: str = ""
    spellcheck: bool = True

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
    missing = message.endswith(" is required") or (bool(title) and message == required_message(title))
    if kind == "group" and (missing or message.endswith(": give at least 1")):
        least = node.get("minItems") if isinstance(node.get("minItems"), int) else 1
        if least > 1:
            return f"{title}: add at least {least}"
        return f"Add at least one {str(node['items'].get('title') or 'row').lower()}"
    if not title or not message.endswith(" is required"):
        return message
    if title.endswith("?"):
        return f"Answer the question: {title}"
    verb = "Choose" if kind in ("radios", "select", "yesno", "checkboxes") else "Enter"
    keep_case = title[1:2].isupper()  # an initialism such as 'NHS number'
    words = title if keep_case else title[:1].lower() + title[1:]
    article = "" if words.startswith(DETERMINERS) else "the "  # 'Enter the plan', not 'the the plan'
    return f"{verb} {article}{words}"


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
            item = self.field(name, prop, values.get(name), join_path(prefix, name), depth)
            item.optional = name not in always and name not in sometimes
            fields.append(item)
        return fields

    def field(self, name: str, prop: Mapping[str, Any], value: Any, path: str, depth: int) -> Field:
        kind = kind_of(prop)
        item = self.add(Field(kind, path, field_label(name, prop), prop.get("description"), depth=depth))
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
            item.input_type = INPUT_TYPES.get(str(prop.get("format")), "text")
            item.spellcheck = prop.get("format") not in INPUT_TYPES and prop.get("format") not in CODES
            limit = prop.get("maxLength")
            if kind == "textarea" and isinstance(limit, int):
                item.max_length = limit
            if kind == "number":
                item.width = "govuk-input--width-5"
            elif kind == "text" and (limit or 1000) <= 20:
                item.width = "govuk-input--width-10" if limit <= 10 else "govuk-input--width-20"
        return item

    def group(self, item: Field, prop: Mapping[str, Any], rows: list, depth: int) -> None:
        items = prop["items"]
        item.item_label = str(items.get("title") or "Row")
        item.max_rows = row_limit(prop)
        own = (prop.get("x-errorMessages") or {}).get("maxItems")
        item.limit_text = str(own) if own else f"{item.label}: this form takes at most {item.max_rows}"
        count = self.rows.get(item.path, len(rows) + self.blank_rows)
        count = max(len(rows), min(count, item.max_rows))
        for index in range(count):
            row_path = join_path(item.path, index)
            row = self.add(Field("row", row_path, f"{item.item_label} {index + 1}", depth=depth + 1))
            row_values = rows[index] if index < len(rows) and isinstance(rows[index], dict) else {}
            row.children = self.object(items, row_values, row_path, depth + 1)
            item.children.append(row)


__all__ = ["BLANK_ROWS", "MAX_ROWS", "Field", "FormView", "Parsed", "build_form", "kind_of", "page_errors",
           "parse_form", "schema_errors", "to_values"]
