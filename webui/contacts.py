"""Recording a contact: the GOV.UK form generated from forms/contact.json, then one case per child.

Field names are the schema's dotted paths (``children.0.family_name``), so each validation error
lands on its field. Repeating groups (children, family members) grow with 'Add another' buttons
that re-render the page, and a date is the GOV.UK three-part date input. Before saving, possible
existing records of each child are offered; a child chosen as known joins that child's history.
"""
from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.datastructures import MultiDict

from engine import ValidationFailed
from store.casepage import possible_matches

from .app import clock, service

bp = Blueprint("contacts", __name__)

CONTACT_ROLES = ("contact_officer", "cads_social_worker", "cads_manager")
REPEATING = {"children": 1, "family_members": 1}  # repeating group -> rows shown at first
MAX_ROWS = 20
MISSING = object()


@bp.route("/contacts/new", methods=["GET", "POST"])
@login_required
def new_contact():
    """Show the contact form; on 'Save' validate, offer known children, then record the contact."""
    if not current_user.has(*CONTACT_ROLES):
        abort(403)
    form = service().current_diagrams().forms["contact.json"]
    if request.method == "GET":
        today = clock().now().date()
        values = MultiDict({"received_on-day": str(today.day), "received_on-month": str(today.month),
                            "received_on-year": str(today.year)})
        return _render(form.schema, values, _counts(values))
    values = request.form
    counts = _counts(values)
    action = values.get("action", "save")
    if action.startswith("add:") and action[4:] in counts:
        counts[action[4:]] = min(counts[action[4:]] + 1, MAX_ROWS)
        return _render(form.schema, values, counts)
    errors: dict[str, str] = {}
    kept: dict[str, list[int]] = {}
    payload = _read(form.schema, "", values, errors, kept, counts)
    for problem in form.errors(payload):
        errors.setdefault(_html_name(problem.field, kept), _friendly(form.schema, problem.field, problem.message))
    if errors:
        return _render(form.schema, values, counts, errors=_in_page_order(errors, form.schema, values, counts)), 422
    matches, links, undecided = _match_children(payload, values, kept)
    if undecided:
        return _render(form.schema, values, counts, matches=matches)
    try:
        cases = service().record_contact(payload, current_user.username, links)
    except ValidationFailed as exc:
        errors = {_html_name(e.field, kept): e.message[:1].upper() + e.message[1:] for e in exc.errors}
        errors = errors or {"": str(exc)}
        return _render(form.schema, values, counts, errors=errors, matches=matches), 422
    listed = ", ".join(f"{c.reference} {c.child.display_name}" + (" (re-referral)" if c.re_referral else "")
                       for c in cases)
    flash(f"Contact recorded. {'Cases' if len(cases) > 1 else 'Case'} created: {listed}")
    return redirect(url_for("cases.case_page", case_id=cases[0].id))


def _render(schema: dict, values, counts: dict[str, int], errors: dict[str, str] | None = None,
            matches: dict[int, list] | None = None):
    return render_template("contacts/new.html", schema=schema, values=values, counts=counts,
                           errors=errors or {}, matches=matches or {},
                           first_errors=_ids(errors or {}))


def _counts(values) -> dict[str, int]:
    counts = {}
    for name, default in REPEATING.items():
        try:
            counts[name] = max(1, min(int(values.get(f"{name}-count", default)), MAX_ROWS))
        except ValueError:
            counts[name] = default
    return counts


def _in_page_order(errors: dict[str, str], schema: dict, values, counts: dict[str, int]) -> dict[str, str]:
    """The errors sorted as their fields appear on the page (for the error summary)."""
    order: list[str] = []
    _read(schema, "", values, {}, {}, counts, order)

    def position(name: str) -> int:
        return next((i for i, seen in enumerate(order) if seen == name or seen.startswith(name + ".")), len(order))
    return dict(sorted(errors.items(), key=lambda item: position(item[0])))


def _ids(errors: dict[str, str]) -> list[tuple[str, str]]:
    """(element id, message) for the error summary, in the order the fields appear."""
    return [(name.replace(".", "-") or "contact-form", message) for name, message in errors.items()]


# -- reading the form into the schema's shape ----------------------------------------------
def _read(node: dict, name: str, values, errors: dict[str, str], kept: dict[str, list[int]],
          counts: dict[str, int], order: list[str] | None = None) -> Any:
    """The value of ``name`` as the schema node expects it, or MISSING when nothing was entered."""
    kind = node.get("type")
    if order is not None and kind != "object":
        order.append(name)
    if kind == "object":
        found = {}
        for key, child in node.get("properties", {}).items():
            value = _read(child, f"{name}.{key}" if name else key, values, errors, kept, counts, order)
            if value is not MISSING:
                found[key] = value
        return found
    if kind == "array" and node.get("items", {}).get("type") == "object":
        rows, indexes = [], []
        for index in range(counts.get(name, 1)):
            row = _read(node["items"], f"{name}.{index}", values, errors, kept, counts, order)
            if row:  # a row left blank is not a child or an adult
                rows.append(row)
                indexes.append(index)
        kept[name] = indexes
        return rows
    if kind == "array":
        chosen = [v for v in values.getlist(name) if v]
        return chosen or MISSING
    if kind == "boolean":
        return {"true": True, "false": False}.get(values.get(name, ""), MISSING)
    if node.get("format") == "date":
        return _read_date(node, name, values, errors)
    text = (values.get(name) or "").strip()
    return text or MISSING


def _read_date(node: dict, name: str, values, errors: dict[str, str]) -> Any:
    parts = [(values.get(f"{name}-{part}") or "").strip() for part in ("day", "month", "year")]
    if not any(parts):
        return MISSING
    title = node.get("title", "The date")
    try:
        day, month, year = (int(p) for p in parts)
        if year < 1900:
            raise ValueError
        return date(year, month, day).isoformat()
    except ValueError:
        errors[name] = f"{title} must be a real date, for example 27 3 2018"
        return MISSING


def _friendly(schema: dict, field: str, message: str) -> str:
    """GOV.UK wording for a missing answer ('Enter the last name', 'Choose the gender')."""
    node: Any = schema
    for part in field.split(".") if field else []:
        node = node.get("items", {}) if part.isdigit() else node.get("properties", {}).get(part, {})
    title = str(node.get("title") or "")
    if node.get("type") == "array" and message.endswith(": give at least 1"):
        return f"Add at least one {str(node.get('items', {}).get('title') or 'item').lower()}"
    if not title or not message.endswith(" is required"):
        return message
    if title.endswith("?"):
        return f"Answer the question: {title}"
    verb = "Choose" if node.get("enum") or node.get("type") in ("boolean", "array") else "Enter"
    return f"{verb} the {title[:1].lower()}{title[1:]}"


def _html_name(field: str, kept: dict[str, list[int]]) -> str:
    """A payload path (rows numbered after blank rows were dropped) as the field's name on the page."""
    parts = field.split(".") if field else []
    if len(parts) >= 2 and parts[0] in kept and parts[1].isdigit():
        index = int(parts[1])
        rows = kept[parts[0]]
        parts[1] = str(rows[index]) if index < len(rows) else parts[1]
    return ".".join(parts)


# -- possible existing records -------------------------------------------------------------
def _match_children(payload: dict, values, kept: dict[str, list[int]]):
    """Possible known records per child (by row on the page), the user's choices, and whether any is undecided."""
    matches: dict[int, list] = {}
    links: dict[int, int | None] = {}
    undecided = False
    for index, child in enumerate(payload["children"]):
        row = kept["children"][index]
        found = possible_matches(child)
        if not found:
            continue
        matches[row] = found
        choice = values.get(f"children.{row}.existing", "")
        ids = {str(m["person"].id) for m in found}
        if choice == "new":
            links[index] = None  # the user says this is a different child: never merge
            continue
        if choice in ids:
            links[index] = int(choice)
        else:
            undecided = True
    return matches, links, undecided

