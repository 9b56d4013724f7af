"""Recording a contact: the GOV.UK form generated from forms/contact.json, then one case per child.

The form is drawn and read by ``webui.formrender`` like every task form (dotted field names,
three-part dates, yes/no booleans, 'Add another' rows). What is particular to contacts lives here:
who may record one, today's date as the default, and the check for children already known:
before saving, possible existing records of each child are offered, and a child chosen as known
joins that child's history. Each page carries a submission key, so a form sent twice (a double
click, a refresh after a slow answer) records the contact once and answers with the same confirmation
(store/idempotency.py); the page's address names the key, so going back to it says it was recorded.
"""
from __future__ import annotations

import json
import re
import uuid
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from engine import FieldError, ValidationFailed
from store.access import not_hidden
from store.casepage import possible_matches
from store.db import database
from store.idempotency import Stored, remember, reserve, stored_answer
from store.models import Case

from .access import can_see_case, viewer
from .context import clock, keep_in_history, service
from .formrender import FormView, Parsed, build_form, page_errors, parse_form, to_values

bp = Blueprint("contacts", __name__)

CONTACT_ROLES = ("contact_officer", "cads_social_worker", "cads_manager")
FIRST_ROWS = 1  # one child and one family member at first; 'Add another' offers more
FORM_ID = "contact-form"


@bp.route("/contacts/new", methods=["GET", "POST"])
@login_required
def new_contact():
    """Show the contact form; on 'Save' validate, offer known children, then record the contact."""
    if not current_user.has(*CONTACT_ROLES):
        abort(403)
    schema = service().current_diagrams().forms["contact.json"].schema
    if request.method == "GET":
        earlier = _recorded(request.args.get("submission", ""))
        if earlier is not None:  # back to a page already sent: say so, rather than offer it again
            return _recorded_page(earlier)
        values = to_values(schema, {"received_on": clock().now().date().isoformat()})
        return _page(schema, build_form(schema, values, blank_rows=FIRST_ROWS, form_id=FORM_ID))
    parsed = parse_form(schema, request.form)
    group = request.form.get("_add_row")
    if group:  # one more blank row; nothing is checked or saved
        parsed.add_row(group)
        return _page(schema, _redisplay(schema, parsed), carried=_choices(parsed))
    errors = page_errors(schema, parsed)
    if errors:
        return _page(schema, _redisplay(schema, parsed, errors), carried=_choices(parsed), status=422)
    key = _submission_key()
    earlier = stored_answer(current_user.user.id, key, clock().now()) if key else None
    if earlier is not None:  # sent again after it was recorded: its children are known by now
        return _already_recorded(earlier)
    matches, links, undecided = _match_children(parsed)
    if undecided:
        return _page(schema, _redisplay(schema, parsed), matches=matches)
    try:
        with database.atomic():  # the key is kept with the contact, or neither is
            earlier = reserve(current_user.user.id, key, SUBMISSION_PRINT, clock().now()) if key else None
            if earlier is None:
                cases = service().record_contact(parsed.data, current_user.username, links)
                answer = _answer(cases)
                if key:
                    remember(current_user.user.id, key, 302, json.dumps(answer))
    except ValidationFailed as exc:
        errors = [FieldError(parsed.display_path(e.field), e.message) for e in exc.errors] or [FieldError("", str(exc))]
        return _page(schema, _redisplay(schema, parsed, errors), matches=matches, status=422)
    if earlier is not None:
        return _already_recorded(earlier)
    flash(answer["message"])
    return redirect(url_for("cases.case_page", case_id=answer["cases"][0]))


def _answer(cases) -> dict[str, Any]:
    """The cases made and the confirmation shown, kept with the submission key to be shown again."""
    listed = ", ".join(f"{c.reference} {c.child.display_name}" + (" (re-referral)" if c.re_referral else "")
                       for c in cases)
    return {"cases": [c.id for c in cases],
            "message": f"Contact recorded. {'Cases' if len(cases) > 1 else 'Case'} created: {listed}"}


def _kept(earlier: Stored) -> dict[str, Any]:
    kept = json.loads(earlier.body)
    if isinstance(kept, list):  # kept before the confirmation was kept with it
        return {"cases": kept, "message": "Contact recorded."}
    return kept


def _already_recorded(earlier: Stored):
    """The same page sent again (a double click, a reload): the first answer, with its confirmation."""
    kept = _kept(earlier)
    flash(kept["message"])
    return redirect(url_for("cases.case_page", case_id=kept["cases"][0]))


def _recorded(submission: str) -> Stored | None:
    """What this user's page ``submission`` recorded, if it was sent and recorded."""
    if not SUBMISSION.fullmatch(submission):
        return None
    return stored_answer(current_user.user.id, f"contact-form:{submission}", clock().now())


def _recorded_page(earlier: Stored):
    """A page already recorded, reached again (Back): the cases it made that this user may see."""
    ids = _kept(earlier)["cases"]
    cases = [c for c in Case.select().where(Case.id.in_(ids)).order_by(Case.id) if can_see_case(c)]
    return render_template("contacts/recorded.html", cases=cases, title="This contact has been recorded")


SUBMISSION = re.compile(r"[0-9a-f]{32}")  # a page's key, made when the form is first shown
SUBMISSION_PRINT = "contact form"  # one page records once, whatever it holds when sent again


def _posted_submission() -> str | None:
    """The page's key: as posted, or named in its address (a page reached again from the history)."""
    value = request.form.get("_submission", "") if request.method == "POST" else request.args.get("submission", "")
    return value if SUBMISSION.fullmatch(value) else None


def _submission_key() -> str | None:
    """The idempotency key of the posted page, or None from a page made before keys existed."""
    posted = _posted_submission()
    return f"contact-form:{posted}" if posted else None


def _redisplay(schema: dict, parsed: Parsed, errors: list[FieldError] | None = None) -> FormView:
    return build_form(schema, parsed.values, errors or [], parsed.rows, parsed.date_parts,
                      blank_rows=FIRST_ROWS, form_id=FORM_ID)


def _page(schema: dict, form: FormView, matches: list[dict[str, Any]] | None = None,
          carried: dict[str, str] | None = None, status: int = 200):
    """The contact page; ``carried`` keeps choices about known children made before a re-render."""
    heading = str(schema.get("title") or "Record a contact")
    submission = _posted_submission() or uuid.uuid4().hex  # kept across re-displays of one page
    keep_in_history(url_for("contacts.new_contact", submission=submission))  # Back finds what became of it
    return render_template("contacts/new.html", form=form, matches=matches or [], carried=carried or {},
                           submission=submission, heading=heading, lede=schema.get("description"), form_id=FORM_ID,
                           title=("Error: " if form.errors else "") + heading), status


def _choices(parsed: Parsed) -> dict[str, str]:
    """The posted 'is this a known child' choices of the rows still on the page (names as posted)."""
    return {f"children.{row}.existing": request.form[f"children.{row}.existing"]
            for row in range(parsed.rows.get("children", 0)) if request.form.get(f"children.{row}.existing")}


# -- possible existing records -------------------------------------------------------------
def _match_children(parsed: Parsed) -> tuple[list[dict[str, Any]], dict[int, int | None], bool]:
    """Possible known records per child (by row on the page), the user's choices, and whether any is undecided."""
    matches: list[dict[str, Any]] = []
    links: dict[int, int | None] = {}
    undecided = False
    for index, child in enumerate(parsed.data["children"]):
        found = possible_matches(child, where=not_hidden(viewer()))  # a known child is offered unless restricted
        if not found:
            continue
        row = int(parsed.display_path(f"children.{index}").split(".")[1])
        choice = request.form.get(f"children.{row}.existing", "")
        name = " ".join(child.get(k, "") for k in ("given_name", "family_name")).strip()
        matches.append({"row": row, "name": name, "found": found, "chosen": choice})
        if choice == "new":
            links[index] = None  # the user says this is a different child: never merge
        elif choice in {str(m["person"].id) for m in found}:
            links[index] = int(choice)
        else:
            undecided = True
    return matches, links, undecided
