"""Statutory returns for managers: the Children in Need census and Ofsted's Annex A, as downloads.

Both contain every child's personal data, so each download is written to the audit."""
from __future__ import annotations

from datetime import date

from dateutil.relativedelta import relativedelta
from flask import Blueprint, Response, abort, render_template, request
from flask_login import current_user, login_required

from store import audit
from store.returns import LA_CODE_DEFAULT, collection_period
from store.returns.annexa import annex_a_workbook
from store.returns.cin import build_census, census_xml

from .context import clock
from .dashboards import require_manager

bp = Blueprint("returns", __name__)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _latest_year(today: date) -> int:
    """The newest collection year that has ended (or is ending) by today."""
    return today.year if today >= collection_period(today.year)[1] else today.year - 1


@bp.route("/returns")
@login_required
def index():
    require_manager()
    today = clock().now().date()
    latest = _latest_year(today) + 1
    return render_template("returns/index.html", years=list(range(latest, latest - 6, -1)),
                           default_from=today - relativedelta(months=6),
                           today=today)


@bp.route("/returns/cin.xml")
@login_required
def cin():
    """The census of the collection year ending 31 March ``?year=``."""
    require_manager()
    year = request.args.get("year", "")
    if not year.isdigit() or not 2000 <= int(year) <= 2100:
        abort(400, "Choose a collection year, for example 2026 for the year ending 31 March 2026")
    census = build_census(int(year), LA_CODE_DEFAULT)
    audit.record(current_user.username, "export", "return", f"cin-{year}", None,
                 {"return": "CIN census", "year": int(year), "children": len(census.children)})
    return Response(census_xml(census, clock().now()), mimetype="application/xml",
                    headers={"Content-Disposition": f'attachment; filename="cin_census_{year}.xml"'})


@bp.route("/returns/annex-a.xlsx")
@login_required
def annex_a():
    """Annex A lists 1 to 7 for ``?from=`` to ``?to=``."""
    require_manager()
    try:
        first, last = date.fromisoformat(request.args["from"]), date.fromisoformat(request.args["to"])
    except (KeyError, ValueError):
        abort(400, "Give the period as two dates (from and to)")
    if first > last:
        abort(400, "The period must start on or before its last day")
    content, counts = annex_a_workbook(first, last)
    audit.record(current_user.username, "export", "return", f"annex-a-{first}-{last}", None,
                 {"return": "Annex A", "from": first.isoformat(), "to": last.isoformat(), "rows": counts})
    return Response(content, mimetype=XLSX,
                    headers={"Content-Disposition": f'attachment; filename="annex_a_{first}_{last}.xlsx"'})
