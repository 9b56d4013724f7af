"""The process owner's view of the process: figures over the published diagram, and two versions compared."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from flask import Blueprint, abort, render_template, request
from flask_login import current_user, login_required

from engine.diffview import (DiagramElement, changed_forms, deadline_timers, diagram_elements,
                             diff_diagram_sets)
from store.processstats import ProcessStats, list_versions, process_stats

from .context import clock, service

bp = Blueprint("processview", __name__, url_prefix="/process")
TOP_FILE = "safeguarding_case.bpmn"
LOAD_MANY = 5  # cases waiting at one task from which its load shows as "many"


@bp.before_request
@login_required
def _process_owners_only():
    if "process_owner" not in current_user.roles:
        abort(403)


def load_level(cases: int) -> str:
    """How busy a task is: none, some or many cases waiting."""
    return "none" if cases == 0 else ("many" if cases >= LOAD_MANY else "some")


def duration_text(spent: timedelta | None) -> str:
    """A time spent in words a manager reads at a glance: '2 days 3 hours', '5 hours', '40 minutes'."""
    if spent is None:
        return "No completions"
    minutes = int(spent.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = []
    if days:
        parts.append(f"{days} day{'s' if days != 1 else ''}")
    if hours:
        parts.append(f"{hours} hour{'s' if hours != 1 else ''}")
    if mins and not days:
        parts.append(f"{mins} minute{'s' if mins != 1 else ''}")
    return " ".join(parts) or "Under a minute"


def _bpmn_files(files: dict[str, str]) -> list[str]:
    return sorted((n for n in files if n.endswith(".bpmn")), key=lambda n: (n != TOP_FILE, n))


@dataclass
class TaskFigures:
    id: str
    name: str
    cases: int
    tasks: int
    median: str
    completions: int
    level: str
    missed: int = 0


@bp.route("/")
def stats():
    """Cases waiting, median time and missed deadlines, drawn over a file of the published diagrams."""
    diagrams = service().current_diagrams()
    files = _bpmn_files(diagrams.files)
    chosen = request.args.get("file") or files[0]
    if chosen not in files:
        abort(404, f"The published diagrams have no file called {chosen}.")
    figures = process_stats(clock().now())
    elements = {name: diagram_elements(name, diagrams.files[name]) for name in files}
    totals = {name: sum(figures.waiting[i].cases for i, e in elements[name].items()
                        if e.type == "userTask" and i in figures.waiting) for name in files}
    tasks = [_task_figures(element, figures) for element in elements[chosen].values() if element.type == "userTask"]
    deadlines = _deadline_rows(chosen, diagrams.files[chosen], elements[chosen], figures)
    return render_template("processview/stats.html", version=diagrams.version, files=files, chosen=chosen,
                           totals=totals, tasks=tasks, deadlines=deadlines, figures=figures, load_many=LOAD_MANY,
                           data={"xml": diagrams.files[chosen], "overlays": _overlays(tasks, deadlines)})


def _task_figures(element: DiagramElement, figures: ProcessStats) -> TaskFigures:
    waiting = figures.waiting.get(element.id)
    spent = figures.time_spent.get(element.id)
    cases = waiting.cases if waiting else 0
    return TaskFigures(element.id, element.name or element.id, cases, waiting.tasks if waiting else 0,
                       duration_text(spent.median if spent else None), spent.completions if spent else 0,
                       load_level(cases))


def _deadline_rows(name: str, text: str, elements: dict[str, DiagramElement], figures: ProcessStats) -> list[dict]:
    rows = []
    for key, timer in deadline_timers(name, text).items():
        attached = elements.get(timer.attached_to or "")
        rows.append({"key": key, "timer_id": timer.timer_id,
                     "timer_name": elements[timer.timer_id].name or timer.timer_id,
                     "attached_to": timer.attached_to, "attached_name": (attached.name or attached.id) if attached else "",
                     "missed": figures.deadlines_missed.get(key, 0)})
    return rows


def _overlays(tasks: list[TaskFigures], deadlines: list[dict]) -> dict[str, dict]:
    """What the script draws on each element: figures on tasks, missed counts on timers and what they watch."""
    overlays: dict[str, dict] = {t.id: {"kind": "task", "cases": t.cases, "tasks": t.tasks, "median": t.median,
                                        "completions": t.completions, "level": t.level} for t in tasks}
    for row in deadlines:
        overlays[row["timer_id"]] = {"kind": "deadline", "missed": row["missed"], "key": row["key"]}
        if row["attached_to"]:
            overlays.setdefault(row["attached_to"], {"kind": "attached"})["missed"] = row["missed"]
    return overlays


@bp.route("/compare")
def compare():
    """Two versions side by side: added, changed and removed elements of one file, and a table of differences."""
    versions = list_versions()
    if len(versions) < 2:
        return render_template("processview/compare.html", versions=versions, errors=[], single=True)
    by_name = {v.version: v for v in versions}
    to_name = request.args.get("to") or versions[0].version
    from_name = request.args.get("from") or (versions[1].version if len(versions) > 1 else to_name)
    errors = []
    for field, name in (("from", from_name), ("to", to_name)):
        if name not in by_name:
            errors.append({"field": field, "text": f"There is no diagram version {name}"})
    if not errors and from_name == to_name:
        errors.append({"field": "to", "text": "Choose two different versions to compare"})
    context = {"versions": versions, "from_name": from_name, "to_name": to_name, "errors": errors}
    if errors:
        return render_template("processview/compare.html", **context), 422
    older, newer = sorted((by_name[from_name], by_name[to_name]), key=lambda v: (v.created_at, v.version))
    diffs = diff_diagram_sets(older.files, newer.files)
    files = _bpmn_files({**older.files, **newer.files})
    chosen = request.args.get("file") or next((n for n in files if not diffs[n].empty), files[0])
    if chosen not in diffs:
        abort(404, f"Neither version has a file called {chosen}.")
    diff = diffs[chosen]
    rows = ([{"status": "added", "element": e, "changes": []} for e in diff.added]
            + [{"status": "changed", "element": diff.changed_elements[i], "changes": c} for i, c in diff.changed.items()]
            + [{"status": "removed", "element": e, "changes": []} for e in diff.removed])
    data = {"new_xml": newer.files.get(chosen), "old_xml": older.files.get(chosen),
            "added": [e.id for e in diff.added], "changed": list(diff.changed), "removed": [e.id for e in diff.removed]}
    return render_template("processview/compare.html", older=older, newer=newer, diffs=diffs, files=files,
                           chosen=chosen, diff=diff, rows=rows, forms=changed_forms(older.files, newer.files),
                           data=data, **context)
