"""Independent chairs: their conferences as a list and a week/month calendar, requests to schedule, a conference."""
from __future__ import annotations

from datetime import date, timedelta

from dataclasses import dataclass
from typing import Any, Callable

from dateutil.relativedelta import relativedelta
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from engine import CaseConflict, EngineError, FieldError, ValidationFailed, parse_date
from store import conferences as rules
from store import rebooking
from store.booking import NAMES, booking_window
from store.models import Conference, User

from store.access import case_condition

from .access import get_case_or_404, viewer
from .context import clock, service, status_for
from .formrender import build_form, page_errors, parse_form, to_values

bp = Blueprint("chairs", __name__, url_prefix="/conferences")
CHAIR, SUPPORT = "conference_chair", "business_support"


@bp.context_processor
def _helpers() -> dict:
    return {"rules": rules, "long_date": long_date, "may_change": _may_change, "needs_new_date": rebooking.needs_new_date}


def _may_change(conference: Conference) -> bool:
    return rebooking.may_change(current_user.user, current_user.roles, conference)


def long_date(value: date | str | None, empty: str = "Not recorded") -> str:
    """'16 October 2025' from a date or an ISO date string (as stored in a conference's details)."""
    if not value:
        return empty
    try:
        return parse_date(value).strftime("%-d %B %Y")
    except ValueError:
        return str(value)


def _scope() -> User | None:
    """Whose conferences this user sees: a chair their own, business support everyone's (None); else 403."""
    if current_user.has(SUPPORT):
        return None
    if current_user.has(CHAIR):
        return current_user.user
    abort(403)


def _today() -> date:
    return clock().now().date()


def _date_arg(name: str) -> date:
    """The date in query parameter ``name`` (today when absent); 400 for anything else."""
    value = request.args.get(name)
    if not value:
        return _today()
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        parsed = None
    if parsed is None or not 1900 <= parsed.year <= 2999:
        abort(400, f"'{value}' is not a date: give it as YYYY-MM-DD, for example 2027-01-12")
    return parsed


@bp.route("/")
@login_required
def conferences():
    """The chair's conferences, upcoming then past."""
    scope = _scope()
    upcoming, past = rules.split_upcoming(rules.conferences_for(scope, case_condition(viewer())), _today())
    return render_template("chairs/conferences.html", upcoming=upcoming, past=past, everyone=scope is None)


@bp.route("/calendar")
@login_required
def calendar():
    """A week or month of the chair's conferences, with previous and next links."""
    scope = _scope()
    view = request.args.get("view", "month")
    if view not in ("week", "month"):
        abort(400, "Choose a week or a month view")
    anchor = _date_arg("on")
    if view == "week":
        days = rules.week_of(anchor)
        first, last = days[0], days[-1]
        previous, following, weeks = first - timedelta(days=7), first + timedelta(days=7), [days]
    else:
        first = anchor.replace(day=1)
        last = first + relativedelta(months=1, days=-1)
        previous, following, weeks = first - relativedelta(months=1), first + relativedelta(months=1), rules.month_grid(anchor)
    by_day = rules.conferences_between(scope, first, last, case_condition(viewer()))
    return render_template("chairs/calendar.html", view=view, anchor=anchor, first=first, last=last, weeks=weeks,
                           by_day=by_day, previous=previous, following=following, everyone=scope is None,
                           working_day=service().engine.calendar.is_working_day)


@bp.route("/requests")
@login_required
def requests():
    """Conferences waiting to be scheduled, each with its statutory window and dates offered inside it."""
    _scope()
    chair = current_user.user if current_user.has(CHAIR) else None  # business support sees every request
    waiting = rules.scheduling_requests(chair, _today(), service().engine.calendar, case_condition(viewer()))
    return render_template("chairs/requests.html", waiting=waiting, offering=chair is not None)


@bp.route("/<int:conference_id>")
@login_required
def conference_page(conference_id: int):
    """One conference: booking, invitations, and once held the attendance, decision and next review."""
    scope = _scope()
    conference = rules.get_conference(conference_id)
    if conference is None:
        abort(404, f"There is no conference {conference_id}")
    case = get_case_or_404(conference.case_id)
    if scope is not None and conference.chair_id != scope.id:
        abort(403)
    labels = rules.form_labels(service().diagrams_for(case.diagram_version_id).forms, conference.kind)
    details = conference.details or {}
    linked = [c for c in (details.get("replaces"), details.get("replaced_by")) if c]  # the same case's bookings
    others = {c.id: c for c in Conference.select().where(Conference.id.in_(linked))} if linked else {}
    return render_template("chairs/conference.html", conference=conference, case=case, labels=labels,
                           invitations=rules.invitation_groups(conference), others=others,
                           changes=details.get("changes") or [],
                           attendance=rules.attendance_counts(conference), task=rules.holding_task(conference))


# -- moving, cancelling, booking again ----------------------------------------------------
@dataclass(frozen=True)
class Change:
    """One of the conference page's actions: its form, the store command, and the words around it."""

    form: dict
    command: Callable[..., Conference]
    history: str  # the action its history line records (to recognise a form sent twice)
    heading: str
    button: str
    available: Callable[[Conference], bool]


CHANGES = {
    "move": Change(rebooking.MOVE_FORM, rebooking.move, "moved", "Change the date", "Move the conference",
                   lambda c: c.status == "scheduled"),
    "cancel": Change(rebooking.CANCEL_FORM, rebooking.cancel, "cancelled", "Cancel the conference",
                     "Cancel the conference", lambda c: c.status == "scheduled"),
    "rebook": Change(rebooking.REBOOK_FORM, rebooking.rebook, "rebooked", "Book a new date", "Book the new date",
                     rebooking.needs_new_date),
}


@bp.route("/<int:conference_id>/move", methods=["GET", "POST"])
@login_required
def move(conference_id: int):
    """Move a booked conference to another date or time, with the reason."""
    return _change_page(conference_id, "move")


@bp.route("/<int:conference_id>/cancel", methods=["GET", "POST"])
@login_required
def cancel(conference_id: int):
    """Cancel a booked conference, with the reason."""
    return _change_page(conference_id, "cancel")


@bp.route("/<int:conference_id>/rebook", methods=["GET", "POST"])
@login_required
def rebook(conference_id: int):
    """Book a new date for a cancelled conference the case still needs."""
    return _change_page(conference_id, "rebook")


def _change_page(conference_id: int, action: str):
    _scope()
    conference = rules.get_conference(conference_id)
    if conference is None:
        abort(404, f"There is no conference {conference_id}")
    case = get_case_or_404(conference.case_id)
    if not _may_change(conference):
        abort(403)
    change = CHANGES[action]
    page = url_for("chairs.conference_page", conference_id=conference.id)
    if not change.available(conference):
        flash(f"This conference cannot be changed that way: it is {rebooking.describe_state(conference)}.")
        return redirect(page, 303)
    schema = change.form
    if request.method == "GET":
        return _change_form(conference, case, change, build_form(schema, to_values(schema, _prefill(conference)),
                                                                 form_id="change-form"))
    parsed = parse_form(schema, request.form)
    errors = page_errors(schema, parsed)
    if not errors:
        try:
            result = change.command(service(), conference.id, current_user.username, parsed.data,
                                    expected=request.form.get("_revision") or None)
        except ValidationFailed as exc:
            errors = [FieldError(parsed.display_path(e.field), e.message) for e in exc.errors] or [FieldError("", str(exc))]
        except CaseConflict as exc:  # changed since the page was shown: by this same form sent twice?
            result = rebooking.repeat_of_last(rules.get_conference(conference.id), change.history, parsed.data,
                                              current_user.username)
            if result is None:
                flash(f"Nothing was saved: {exc}.")
                return redirect(page, 303)
        except EngineError as exc:
            abort(status_for(exc), str(exc))
        if not errors:
            flash(_done(action, result))
            return redirect(url_for("chairs.conference_page", conference_id=result.id), 303)
    form = build_form(schema, parsed.values, errors, parsed.rows, parsed.date_parts, form_id="change-form")
    return _change_form(conference, case, change, form, status=422)


def _prefill(conference: Conference) -> dict[str, Any]:
    """The booking as it stands (a date offered by a link replaces its date)."""
    if conference.status == "scheduled" or rebooking.needs_new_date(conference):
        values = {"time": conference.start_time, "venue": conference.venue}
        suggested = request.args.get("scheduled_for")
        values["scheduled_for"] = suggested or (conference.scheduled_for if conference.status == "scheduled" else None)
        return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in values.items() if v}
    return {}


def _change_form(conference: Conference, case, change: Change, form, status: int = 200):
    title = f"{change.heading}: {rules.KIND_LABELS.get(conference.kind, conference.kind)} for {case.child.display_name}"
    return render_template("chairs/change.html", conference=conference, case=case, change=change, form=form,
                           window=booking_window(case, conference.kind), revision=rebooking.revision(conference),
                           title=("Error: " if form.errors else "") + title), status


def _done(action: str, conference: Conference) -> str:
    name = NAMES.get(conference.kind, conference.kind)
    when = long_date(conference.scheduled_for) + (f" at {conference.start_time}" if conference.start_time else "")
    if action == "cancel":
        return f"{name} of {long_date(conference.scheduled_for)} cancelled. The case still needs it: book a new date below."
    if action == "rebook":
        return f"{name} booked for {when}."
    return f"{name} moved to {when}."
