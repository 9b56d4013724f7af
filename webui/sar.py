"""Subject access requests, for information governance: find the person, then the pack (JSON)."""
from __future__ import annotations

import json

from flask import Blueprint, Response, abort, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from engine import EngineError
from store.sar import find_subject, subject_access_pack

from .access import SAR_ROLES, get_person_or_404
from .context import clock

bp = Blueprint("sar", __name__, url_prefix="/sar")


@bp.route("/")
@login_required
def search():
    """Find the subject by person id, or by name and date of birth (ambiguity is an error)."""
    if not current_user.roles & SAR_ROLES:
        abort(403)
    args = {k: (request.args.get(k) or "").strip() for k in ("person", "name", "born")}
    error = None
    if any(args.values()):
        try:
            person = find_subject(args["person"] or None, args["name"], args["born"] or None)
            return redirect(url_for("sar.pack", person_id=person.id))
        except EngineError as exc:
            error = str(exc)
    return render_template("sar/search.html", args=args, error=error), 422 if error else 200


@bp.route("/<int:person_id>")
@login_required
def pack(person_id: int):
    """The subject access pack on a page, with its download (both audited)."""
    person = get_person_or_404(person_id)
    data = subject_access_pack(person.id, current_user.username, clock().now())
    return render_template("sar/pack.html", person=person, pack=data,
                           text=json.dumps(data, indent=2, ensure_ascii=False))


@bp.route("/<int:person_id>/download")
@login_required
def download(person_id: int):
    """The pack as a JSON file."""
    person = get_person_or_404(person_id)
    data = subject_access_pack(person.id, current_user.username, clock().now())
    return Response(json.dumps(data, indent=2, ensure_ascii=False), mimetype="application/json",
                    headers={"Content-Disposition": f'attachment; filename="subject-access-{person.id}.json"'})
