"""The process owner's area: diagram and form versions, the modeler, checks, publishing and migration.

Views are thin: every check, save and publish is ``store.versions`` (which uses ``engine.checks``);
this module parses the request and maps the problems it reports onto the page.
"""
from __future__ import annotations

import json
import re
from typing import Any, Iterable

from flask import (Blueprint, Response, abort, flash, jsonify, redirect, render_template, request,
                   url_for)
from flask_login import current_user, login_required
from werkzeug.exceptions import RequestEntityTooLarge

from engine import DiagramError, EngineError, Form, ValidationFailed
from engine.checks import Problem

from store import versions

from .context import service
from .formrender import build_form

bp = Blueprint("diagrams", __name__, url_prefix="/diagrams")
BPMN_NAME = re.compile(r"^[A-Za-z0-9_\-]{1,80}\.bpmn$")
FORM_NAME = re.compile(r"^[A-Za-z0-9_\-]{1,80}\.json$")
NEW_FORM = json.dumps({  # where a new task form starts: one date and one long answer
    "$schema": "https://json-schema.org/draft/2020-12/schema", "title": "New form",
    "description": "What this task records", "type": "object", "additionalProperties": False,
    "required": ["held_on", "notes"],
    "properties": {"held_on": {"type": "string", "format": "date", "title": "Date it happened"},
                   "notes": {"type": "string", "minLength": 1, "maxLength": 10000, "x-widget": "textarea",
                             "title": "What happened"}}}, indent=2)
MAX_UPLOAD_BYTES = 2 * 1024 * 1024  # the same limit as engine.diagrams.MAX_FILE_BYTES


@bp.before_request
@login_required
def _process_owners_only():
    if not current_user.has("process_owner"):
        abort(403)


# -- helpers ---------------------------------------------------------------------------------
def _version_row(version: str):
    """The stored version or 404."""
    if not re.match(r"^[0-9a-f]{1,32}$", version):
        abort(404, f"There is no diagram version {version}")
    return versions.get_version(version)


def _files(version: str) -> dict[str, str]:
    _version_row(version)
    return dict(versions.download(version))


def _newest_published() -> Any | None:
    """The version new cases start on (the shipped set is stored as the first, as on a first contact)."""
    newest = versions.current_version()
    if newest is None:
        service().current_diagrams()
        newest = versions.current_version()
    return newest


def _check(files: dict[str, str]) -> list:
    return versions.check_version(files, service=service())


def _save(files: dict[str, str], note: str, replaces: str | None = None) -> str:
    """Store files as a draft (replacing the draft they were edited from); the new version's hash."""
    return versions.save_draft(files, current_user.username, note=note, replaces=replaces,
                                 service=service()).version


def _draft_replaced(version: str) -> str | None:
    """Saving an edited draft supersedes it; a published or retired version is never touched."""
    return version if _version_row(version).status == "draft" else None


def _problems_of(exc: EngineError) -> list:
    """The problems a refused publish or save reports, whatever form they take."""
    found = getattr(exc, "problems", None)
    if found:
        return list(found)
    if isinstance(exc, DiagramError):
        return [Problem(exc.file or "-", exc.element, exc.reason)]
    if isinstance(exc, ValidationFailed):
        return [Problem("-", e.field or "-", e.message) for e in exc.errors]
    return [Problem("-", "-", str(exc))]


def _grouped(problems: Iterable) -> dict[str, list]:
    groups: dict[str, list] = {}
    for problem in problems:
        groups.setdefault(problem.file or "-", []).append(problem)
    return groups


def _check_upload(name: str, data: bytes) -> tuple[str | None, str | None]:
    """The upload's text, or a message saying why it cannot be read."""
    if not BPMN_NAME.match(name or ""):
        return None, "Choose a .bpmn file (letters, numbers, '-' and '_' in its name)"
    if len(data) > MAX_UPLOAD_BYTES:
        return None, f"The file must be smaller than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB"
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError:
        return None, "The file must be BPMN 2.0 XML in UTF-8 text"


# -- list, upload, new, download -------------------------------------------------------------
@bp.route("/")
def index():
    """Every version with its status, author and open cases; the newest published files."""
    return _index()


def _index(upload_error: str | None = None, problems: list | None = None, new_error: str | None = None,
           status: int = 200):
    newest = _newest_published()
    rows = list(versions.list_versions())
    files = sorted(versions.download(newest.version)) if newest is not None else []
    cases = {r.version: versions.open_cases(r.version) for r in rows}
    return render_template("diagrams/index.html", rows=rows, newest=newest, files=files, cases=cases,
                           upload_error=upload_error, problems=_grouped(problems or []),
                           new_error=new_error), status


@bp.route("/upload", methods=["POST"])
def upload():
    """A .bpmn drawn elsewhere replaces or adds that file in a new draft of the newest published set."""
    try:
        upload_file = request.files.get("diagram")
    except RequestEntityTooLarge:
        return _index(f"The file must be smaller than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB", status=413)
    if upload_file is None or not upload_file.filename:
        return _index("Choose a .bpmn file to upload", status=422)
    data = upload_file.stream.read(MAX_UPLOAD_BYTES + 1)
    text, error = _check_upload(upload_file.filename, data)
    if error:
        return _index(error, status=413 if len(data) > MAX_UPLOAD_BYTES else 422)
    newest = _newest_published()
    files = dict(versions.download(newest.version)) if newest is not None else {}
    files[upload_file.filename] = text
    problems = _check(files)
    if problems:
        return _index(f"{upload_file.filename} was not stored: fix the problems listed", problems, status=422)
    try:
        saved = _save(files, f"uploaded {upload_file.filename}")
    except EngineError as exc:
        return _index(f"{upload_file.filename} was not stored", _problems_of(exc), status=422)
    flash(f"Uploaded {upload_file.filename} into draft {saved}")
    return redirect(url_for("diagrams.index"))




def new_diagram_xml(process_id: str, name: str) -> str:
    """A minimal valid BPMN file: a pool with one lane, a start and an end event, all drawn."""
    return render_template("diagrams/new.bpmn.xml", id=process_id, name=name)


@bp.route("/new", methods=["POST"])
def new():
    """Start a new diagram file in a draft based on the newest published set, then open the modeler."""
    process_id = (request.form.get("process_id") or "").strip()
    if not re.match(r"^[a-z][a-z0-9_]{1,60}$", process_id):
        return _index(new_error="Enter a process id of lower-case letters, numbers and '_' (for example "
                                "family_group_conference)", status=422)
    newest = _newest_published()
    files = dict(versions.download(newest.version)) if newest is not None else {}
    filename = f"{process_id}.bpmn"
    if filename in files:
        return _index(new_error=f"There is already a diagram {filename}", status=422)
    files[filename] = new_diagram_xml(process_id, process_id.replace("_", " ").capitalize())
    saved = _save(files, f"new diagram {filename}")
    flash(f"Started {filename} in draft {saved}")
    return redirect(url_for("diagrams.edit", version=saved, filename=filename))


@bp.route("/download/<version>/<path:filename>")
def download(version: str, filename: str):
    """One file of a version, as an attachment."""
    files = _files(version)
    if filename not in files:
        abort(404, f"Version {version} has no file {filename}")
    kind = "application/json" if filename.endswith(".json") else "application/xml"
    return Response(files[filename], mimetype=kind, headers={
        "Content-Disposition": f'attachment; filename="{version}-{filename.replace("/", "-")}"'})


@bp.route("/retire/<version>", methods=["POST"])
def retire(version: str):
    """Retire a version: no new cases start on it."""
    _version_row(version)
    versions.retire(version, current_user.username)
    flash(f"Retired version {version}")
    return redirect(url_for("diagrams.index"))



# -- the modeler -----------------------------------------------------------------------------
@bp.route("/edit/<version>/<filename>")
def edit(version: str, filename: str):
    """The bpmn-js modeler on one file; ``?problems=1`` marks the check's problems on the elements."""
    files = _files(version)
    if filename not in files or not filename.endswith(".bpmn"):
        abort(404, f"Version {version} has no diagram {filename}")
    problems = []
    if request.args.get("problems"):
        # the check names an element as process/id; the modeler knows it by its id
        problems = [{"element": p.element.rsplit("/", 1)[-1], "where": p.element, "reason": p.reason}
                    for p in _check(files) if p.file == filename]
    forms = sorted(name.split("/", 1)[1] for name in files if name.startswith("forms/"))
    return render_template("diagrams/edit.html", row=_version_row(version), filename=filename,
                           problems=problems, forms=forms)


@bp.route("/xml/<version>/<filename>")
def xml(version: str, filename: str):
    """The XML the modeler opens."""
    files = _files(version)
    if filename not in files or not filename.endswith(".bpmn"):
        abort(404, f"Version {version} has no diagram {filename}")
    return Response(files[filename], mimetype="application/xml")


@bp.route("/save/<version>/<filename>", methods=["POST"])
def save(version: str, filename: str):
    """The modeler's XML into a new draft (JSON answer: the draft, or the problems that stopped it)."""
    files = _files(version)
    if filename not in files:
        abort(404, f"Version {version} has no diagram {filename}")
    text = request.get_data(as_text=True)
    if not text.strip():
        return jsonify({"error": "The diagram is empty", "problems": []}), 422
    files[filename] = text
    try:
        saved = _save(files, f"edited {filename}", replaces=_draft_replaced(version))
    except EngineError as exc:
        return jsonify({"error": f"{filename} was not saved", "problems": [
            {"file": p.file, "element": p.element, "reason": p.reason} for p in _problems_of(exc)]}), 422
    remaining = [{"file": p.file, "element": p.element, "reason": p.reason} for p in _check(files)]
    return jsonify({"version": saved, "problems": remaining,
                    "edit_url": url_for("diagrams.edit", version=saved, filename=filename),
                    "check_url": url_for("diagrams.check", version=saved)})


# -- forms -----------------------------------------------------------------------------------
def _form_preview(text: str) -> tuple[Any, str | None]:
    """The preview of a form's JSON Schema text as the task page draws it, or why it cannot be drawn."""
    try:
        schema = json.loads(text)
    except RecursionError:
        return None, "The form is nested too deeply to be a form"
    except ValueError as exc:
        return None, f"The form is not valid JSON: {exc}"
    if not isinstance(schema, dict):
        return None, "The form must be a JSON object (a JSON Schema of type object)"
    try:
        Form("form", schema)
    except DiagramError as exc:
        return None, f"The form is not a valid JSON Schema: {exc.reason}"
    return build_form(schema, form_id="preview"), None


@bp.route("/forms/<version>/<formname>", methods=["GET", "POST"])
def form_editor(version: str, formname: str):
    """Edit a form's JSON Schema with a preview of the task page; Save stores it in a new draft."""
    files = _files(version)
    key = f"forms/{formname}"
    new_form = key not in files and request.values.get("new") == "1"
    if not FORM_NAME.match(formname) or (key not in files and not new_form):
        abort(404, f"Version {version} has no form {formname}")
    text, status, problems = (NEW_FORM if new_form else files[key]), 200, []
    if request.method == "POST":
        text = (request.form.get("schema") or "").replace("\r\n", "\n")
    preview, error = _form_preview(text)
    if error:
        status = 422
    elif request.method == "POST" and request.form.get("action") == "save":
        files[key] = text
        try:
            saved = _save(files, f"edited form {formname}", replaces=_draft_replaced(version))
        except EngineError as exc:
            problems, status = _problems_of(exc), 422
        else:
            flash(f"Saved {formname} into draft {saved}")
            return redirect(url_for("diagrams.form_editor", version=saved, formname=formname))
    return render_template("diagrams/form.html", row=_version_row(version), formname=formname, text=text,
                           preview=preview, error=error, problems=problems), status


@bp.route("/forms/new")
def new_form():
    """Open the form editor on a new form file in the newest published version."""
    formname = (request.args.get("formname") or "").strip()
    if not formname.endswith(".json"):
        formname += ".json"
    if not FORM_NAME.match(formname):
        abort(400, "A form file name uses letters, digits, '_' or '-' and ends in .json")
    version = _newest_published().version
    return redirect(url_for("diagrams.form_editor", version=version, formname=formname, new="1"))


@bp.route("/forms/preview", methods=["POST"])
def form_preview():
    """The preview alone (HTML fragment), refreshed by the page's script as the owner types."""
    preview, error = _form_preview(request.form.get("schema") or "")
    return render_template("diagrams/preview.html", preview=preview, error=error), (422 if error else 200)


# -- check, publish, migrate -----------------------------------------------------------------
@bp.route("/check/<version>")
def check(version: str):
    """Every problem of a version, grouped by file with the element it concerns."""
    files = _files(version)
    problems = _check(files)
    return render_template("diagrams/check.html", row=_version_row(version), problems=_grouped(problems),
                           count=len(problems), files=files, newest=_newest_published()), 200


@bp.route("/publish/<version>", methods=["POST"])
def publish(version: str):
    """Publish after every check; a refusal shows the problems, success shows the migration plan."""
    row = _version_row(version)
    try:
        versions.publish(version, current_user.username, service=service())
    except EngineError as exc:
        problems = _problems_of(exc)
        return render_template("diagrams/check.html", row=row, problems=_grouped(problems), count=len(problems),
                               files=_files(version), refused=True, newest=_newest_published()), 422
    flash(f"Published version {version}: new cases start on it")
    return redirect(url_for("diagrams.migration", version=version))


@bp.route("/migrate/<version>", methods=["GET", "POST"])
def migration(version: str):
    """Running cases that can and cannot move to this version; POST moves every movable one."""
    row = _version_row(version)
    if request.method == "POST":
        flash(_migrated(versions.migrate_all(version, current_user.username, service=service()), version))
        return redirect(url_for("diagrams.migration", version=version))
    plan = versions.migration_plan(version, service=service())
    return render_template("diagrams/migrate.html", row=row, plan=plan, moved=versions.moved_to(row.version))


SHOWN_FAILURES = 5  # the confirmation names a few cases that did not move; the page lists the rest


def _migrated(results: list, version: str) -> str:
    """The confirmation of 'Migrate all': how many moved, and which did not and why."""
    moved = sum(1 for r in results if r.migrated)
    failed = [r for r in results if not r.migrated]
    message = f"Moved {moved} case{'' if moved == 1 else 's'} to version {version}."
    if failed:
        named = "; ".join(f"{r.reference}: {r.reason}" for r in failed[:SHOWN_FAILURES])
        more = f"; and {len(failed) - SHOWN_FAILURES} more" if len(failed) > SHOWN_FAILURES else ""
        message += f" Not moved: {named}{more}."
    return message


@bp.route("/rollback/<int:case_id>", methods=["POST"])
def rollback(case_id: int):
    """Move a migrated case back to the version it was on."""
    versions.rollback_case(case_id, current_user.username, service=service())
    flash(f"Case {case_id} is back on its previous version")
    back = request.form.get("version")
    if back and re.match(r"^[0-9a-f]{1,32}$", back):
        return redirect(url_for("diagrams.migration", version=back))
    return redirect(url_for("diagrams.index"))
