"""Managers' timeliness dashboard: the indicators of docs/process.md by month and team, drawn as SVG,
each figure a link to the cases behind it (which the access rules then filter)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask import Blueprint, abort, render_template, request
from flask_login import current_user, login_required

from store.access import case_condition
from store.models import Case, Person
from store.returns.indicators import INDICATORS, cases_behind, figures, month_bounds, percent, team_names

from .access import viewer
from .context import clock

bp = Blueprint("dashboards", __name__)
MANAGERS = ("team_manager", "cads_manager", "admin")
CHART = {"width": 720, "height": 220, "left": 44, "bottom": 40, "top": 12}
NO_TEAM = "none"
TEAM_LABEL = 190  # width kept for team names on the by-team charts


@dataclass
class Bar:
    month: str
    total: int
    met: int
    x: float
    y: float
    width: float
    height: float

    @property
    def percent(self) -> float | None:
        return percent(self.met, self.total)


def require_manager() -> None:
    """Managers' pages: 403 for everyone else."""
    if not current_user.has(*MANAGERS):
        abort(403)


def _months(last: date, count: int) -> list[str]:
    year, month = last.year, last.month
    found = []
    for _ in range(count):
        found.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return found[::-1]


def _team_arg() -> tuple[bool, int | None]:
    """(any team?, team id) from ?team= ('' any team, 'none' cases without a team, or an id)."""
    raw = request.args.get("team", "")
    if raw == "":
        return True, None
    if raw == NO_TEAM:
        return False, None
    if not raw.isdigit():
        abort(400, "team must be a team id")
    return False, int(raw)


def bars(months: list[str], cells: dict[str, tuple[int, int]]) -> list[Bar]:
    """Bar geometry: one bar per month, its height the percentage met."""
    plot_w = CHART["width"] - CHART["left"] - 8
    plot_h = CHART["height"] - CHART["bottom"] - CHART["top"]
    step = plot_w / max(len(months), 1)
    drawn = []
    for i, month in enumerate(months):
        total, met = cells.get(month, (0, 0))
        height = plot_h * met / total if total else 0
        drawn.append(Bar(month, total, met, CHART["left"] + i * step + step * 0.15,
                         CHART["top"] + plot_h - height, step * 0.7, height))
    return drawn


def team_bars(teams: list[tuple[int | None, str, tuple[int, int]]]) -> list[dict]:
    """Horizontal bar geometry: one bar per team, its length the percentage met."""
    span = CHART["width"] - TEAM_LABEL - 70
    return [{"team": tid if tid else NO_TEAM, "name": name, "total": total, "met": met, "y": 6 + i * 26,
             "length": span * met / total if total else 0, "percent": percent(met, total)}
            for i, (tid, name, (total, met)) in enumerate(teams)]


@bp.route("/dashboards/timeliness")
@login_required
def timeliness():
    """Every indicator for the last 12 months (``?months=`` 1 to 36), all teams or ``?team=``."""
    require_manager()
    try:
        count = min(max(int(request.args.get("months", 12)), 1), 36)
    except ValueError:
        abort(400, "months must be a number from 1 to 36")
    any_team, team_id = _team_arg()
    months = _months(clock().now().date(), count)
    first, last = month_bounds(months[0])[0], month_bounds(months[-1])[1]
    names = team_names()
    panels = []
    for key, indicator in INDICATORS.items():
        rows = [f for f in figures(key, first, last) if any_team or f.team_id == team_id]
        by_month: dict[str, tuple[int, int]] = {}
        by_team: dict[int | None, tuple[int, int]] = {}
        for f in rows:
            t, m = by_month.get(f.month, (0, 0))
            by_month[f.month] = (t + f.total, m + f.met)
            t, m = by_team.get(f.team_id, (0, 0))
            by_team[f.team_id] = (t + f.total, m + f.met)
        teams = sorted(((tid, names.get(tid, "No team") if tid else "No team", tm) for tid, tm in by_team.items()),
                       key=lambda item: item[1])
        panels.append({"key": key, "indicator": indicator, "bars": bars(months, by_month), "team_bars": team_bars(teams),
                       "total": sum(t for t, _m in by_month.values()), "met": sum(m for _t, m in by_month.values())})
        panels[-1]["percent"] = percent(panels[-1]["met"], panels[-1]["total"])
    return render_template("dashboards/timeliness.html", panels=panels, months=months, chart=CHART,
                           team_arg=request.args.get("team", ""), count=count, names=names, team_label=TEAM_LABEL,
                           first=first, last=last)


@bp.route("/dashboards/timeliness/<key>")
@login_required
def cases(key: str):
    """The cases behind one figure: ``?month=YYYY-MM`` (or ``from``/``to``), ``?team=``, ``?met=1|0``."""
    require_manager()
    indicator = INDICATORS.get(key)
    if indicator is None:
        abort(404, f"There is no indicator {key}")
    try:
        if request.args.get("month"):
            first, last = month_bounds(request.args["month"])
        else:
            first, last = date.fromisoformat(request.args["from"]), date.fromisoformat(request.args["to"])
    except (KeyError, ValueError):
        abort(400, "Give a month as YYYY-MM, or from and to as dates")
    met = {"1": True, "0": False}.get(request.args.get("met", ""))
    any_team, team_id = _team_arg()
    ids = cases_behind(key, first, last, team_id=team_id, met=met, any_team=any_team)
    # The figure counts every case; the list shows only those the access rules let this user see.
    found = {c.id: c for c in Case.select(Case, Person).join(Person, on=(Case.child == Person.id))
             .where(Case.id.in_(ids), case_condition(viewer()))} if ids else {}
    visible = [found[i] for i in ids if i in found]
    return render_template("dashboards/cases.html", indicator=indicator, key=key, cases=visible,
                           hidden=len(ids) - len(visible), first=first, last=last, met=met,
                           team=("All teams" if any_team else team_names().get(team_id, "No team")))
