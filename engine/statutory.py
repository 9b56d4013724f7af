"""Statutory records taken from completed key tasks (the contract ids of docs/process.md).

Each completed contract task updates named columns of the case, so returns and reports read
dates directly instead of replaying diagrams.
"""
from __future__ import annotations

from datetime import date
from typing import Any, Mapping

from .calendar import parse_date

CATEGORY_CODES = {"neglect": "NEG", "physical": "PHY", "sexual": "SAB", "emotional": "EMO"}


def category_code(categories: list[str] | None) -> str | None:
    """The census category: one of NEG/PHY/SAB/EMO, or MUL when several apply."""
    if not categories:
        return None
    if len(categories) > 1:
        return "MUL"
    return CATEGORY_CODES.get(categories[0])


def _date(form: Mapping[str, Any], key: str) -> date | None:
    value = form.get(key)
    return parse_date(value) if value else None


def statutory_updates(bpmn_id: str, form: Mapping[str, Any], data: Mapping[str, Any]) -> dict[str, Any]:
    """Columns to set on the case after ``bpmn_id`` completed with ``form``.

    ``data`` is the workflow data after the step (for values set by scripts, such as the
    initiating strategy discussion date).
    """
    updates: dict[str, Any] = {}
    if bpmn_id == "cads_decision":
        updates.update(cads_decision_on=_date(form, "decided_on"), cads_decision=form.get("decision"))
        if form.get("primary_need"):
            updates["primary_need"] = form["primary_need"]
        updates["nfa_at_referral"] = form.get("decision") == "nfa"
    elif bpmn_id == "assessment":
        updates.update(assessment_started_on=_date(form, "started_on"),
                       assessment_authorised_on=_date(form, "authorised_on"),
                       assessment_factors=list(form.get("factors") or []),
                       assessment_outcome=form.get("outcome"), primary_need=form.get("primary_need"))
    elif bpmn_id == "strategy_discussion":
        updates.update(last_strategy_discussion_on=_date(form, "held_on"), primary_need=form.get("primary_need"))
        if data.get("initiating_strategy_discussion_on"):
            updates["initiating_strategy_discussion_on"] = parse_date(data["initiating_strategy_discussion_on"])
    elif bpmn_id == "section47_enquiry":
        updates.update(s47_started_on=_date(form, "started_on"), s47_outcome=form.get("outcome"))
        if data.get("initiating_strategy_discussion_on"):
            updates["initiating_strategy_discussion_on"] = parse_date(data["initiating_strategy_discussion_on"])
        if form.get("outcome") != "icpc":
            updates["icpc_not_required"] = True
    elif bpmn_id == "icpc":
        updates.update(icpc_held_on=_date(form, "held_on"), icpc_outcome=form.get("outcome"),
                       icpc_not_required=False)
        if form.get("outcome") == "cp_plan":
            code = category_code(form.get("categories"))
            updates.update(cp_plan_started_on=_date(form, "held_on"), cp_plan_ended_on=None,
                           initial_category=code, latest_category=code)
    elif bpmn_id == "core_group":
        updates["first_core_group_on"] = _date(form, "held_on")
    elif bpmn_id == "review_conference":
        if form.get("categories"):
            updates["latest_category"] = category_code(form.get("categories"))
        if form.get("outcome") == "end_plan":
            updates["cp_plan_ended_on"] = _date(form, "held_on")
    elif bpmn_id == "cin_plan":
        updates.update(cin_plan_started_on=_date(form, "started_on"), cin_plan_ended_on=None)
    elif bpmn_id == "end_cin_plan":
        updates["cin_plan_ended_on"] = _date(form, "ended_on")
    elif bpmn_id == "close_case":
        updates.update(closed_on=_date(form, "closed_on"), closure_reason=form.get("reason"))
    return {k: v for k, v in updates.items() if v is not None or k.endswith("_ended_on")}


def closure_from_data(data: Mapping[str, Any]) -> dict[str, Any]:
    """Closure recorded by a script (front-door closures) rather than the close_case form."""
    closure = data.get("close_case")
    if not isinstance(closure, dict) or not closure.get("closed_on"):
        return {}
    return {"closed_on": parse_date(closure["closed_on"]), "closure_reason": closure.get("reason")}
