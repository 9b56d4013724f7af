"""Independent chairs: their conferences as a list and a week/month calendar, requests to schedule, a conference."""
from __future__ import annotations

from datetime import date, timedelta

from dateutil.relativedelta import relativedelta
from flask import Blueprint, abort, render_template, request
from flask_login import current_user, login_required

from engine import parse_date
from store import conferences as rules
from store.models import User

from store.access import case_condition

from .access import get_case_or_404, viewer
from .context import clock, service

bp = Blueprint("chairs", __name__, url_prefix="/conferences")
CHAIR, SUPPORT = "conference_chair", "business_support"


@bp.context_processor
def _helpers() -> dict:
    return {"rules": rules, "long_date": long_date}


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
    return render_template("chairs/conference.html", conference=conference, case=case, labels=labels,
                           invitations=rules.invitation_groups(conference),
                           attendance=rules.attendance_counts(conference), task=rules.holding_task(conference))
