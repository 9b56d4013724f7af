"""The Department for Education's Children in Need census (XML) from the statutory columns.

One ``Child`` per child, one ``CINdetails`` per referral (case) open at some point in the
collection year. What happened after the reference date is left out (the episode is still open
at 31 March), and modules that ended before the year began are left out too, as the census
rules require. A case holds one assessment, section 47 enquiry, child in need plan and child
protection plan (the latest of each), so each episode carries at most one of each module.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from ..models import Case, Contact, Person, ReviewConference
from . import collection_period, is_referral, within

SEX_CODES = {"male": "M", "female": "F"}  # anything else (unknown, indeterminate, unborn) is U
SOFTWARE = "Safeguarding Workflow"


@dataclass
class Episode:
    """One CINdetails module: a referral and what happened under it, clipped to the year."""

    case_id: int
    referral_date: date
    referral_source: str | None
    primary_need: str | None
    nfa: bool
    closed_on: date | None = None
    closure_reason: str | None = None
    assessment: dict[str, Any] | None = None
    cin_plan: tuple[date, date | None] | None = None
    section47: dict[str, Any] | None = None
    cp_plan: dict[str, Any] | None = None


@dataclass
class ChildRecord:
    """One Child: identifiers, characteristics and episodes (referral order)."""

    la_child_id: str
    upn: str | None
    upn_unknown: str | None
    birth_date: date | None
    expected_birth_date: date | None
    sex: str
    ethnicity: str | None
    disabilities: list[str]
    episodes: list[Episode] = field(default_factory=list)


@dataclass
class Census:
    """A census ready to write: header values, children, and fields the records lack."""

    year: int
    reference_date: date
    la_code: str
    children: list[ChildRecord]
    gaps: list[str]

    @property
    def episode_count(self) -> int:
        return sum(len(c.episodes) for c in self.children)


def build_census(year: int, la_code: str) -> Census:
    """Gather the census of the collection year ending 31 March ``year`` (a handful of queries)."""
    start, end = collection_period(year)
    still_open = Case.closed_on.is_null() | (Case.closed_on >= start)
    nfa_in_year = ~Case.nfa_at_referral | (Case.referral_date >= start)
    cases = list(Case.select(Case, Person, Contact).join(Person, on=(Case.child == Person.id)).switch(Case)
                 .join(Contact).where(is_referral(), Case.referral_date <= end, still_open, nfa_in_year)
                 .order_by(Case.child, Case.referral_date, Case.id))
    previous_plans = plan_starts({c.child_id for c in cases})
    reviews = _reviews([c.id for c in cases if c.cp_plan_started_on])
    children: dict[int, ChildRecord] = {}
    gaps: list[str] = []
    for case in cases:
        record = children.get(case.child_id)
        if record is None:
            record = children[case.child_id] = _child(case.child, gaps)
        record.episodes.append(_episode(case, start, end, previous_plans, reviews.get(case.id, []), gaps))
    return Census(year, end, la_code, list(children.values()), gaps)


def _child(person: Person, gaps: list[str]) -> ChildRecord:
    details = person.details or {}
    disabilities = list(details.get("disability") or [])
    la_child_id = f"CH{person.id}"
    unborn = person.date_of_birth is None and person.expected_date_of_birth is not None
    if not person.ethnicity and not unborn:
        gaps.append(f"{la_child_id} ({person.display_name}): ethnicity not recorded (exported as NOBT)")
    if not disabilities:
        gaps.append(f"{la_child_id} ({person.display_name}): disability not recorded")
    return ChildRecord(la_child_id=la_child_id, upn=person.upn or None,
                       upn_unknown=None if person.upn else details.get("upn_unknown"),
                       birth_date=person.date_of_birth, expected_birth_date=None if person.date_of_birth
                       else person.expected_date_of_birth,
                       sex="U" if unborn else SEX_CODES.get(person.gender or "", "U"),
                       ethnicity=person.ethnicity or "NOBT", disabilities=disabilities)


def _episode(case: Case, start: date, end: date, previous_plans: dict[int, list[date]],
             reviews: list[date], gaps: list[str]) -> Episode:
    source = (case.contact.payload or {}).get("referral_source")
    episode = Episode(case.id, case.referral_date, source, case.primary_need, bool(case.nfa_at_referral))
    if not source:
        gaps.append(f"{case.reference}: referral source not recorded")
    if not case.primary_need and not episode.nfa:
        gaps.append(f"{case.reference}: primary need not recorded")
    # A referral with no further action is reported by its flag alone: the front door records its
    # closure as RC8, which the DfE reserves for closures after an assessment (rule 8825Q), and the
    # rules allow NFA episodes without a closure date (8815).
    if within(case.closed_on, start, end) and not episode.nfa:
        episode.closed_on, episode.closure_reason = case.closed_on, case.closure_reason
    episode.assessment = _assessment(case, start, end)
    episode.cin_plan = _span(case.cin_plan_started_on, case.cin_plan_ended_on, start, end)
    episode.section47 = _section47(case, start, end)
    plan = _span(case.cp_plan_started_on, case.cp_plan_ended_on, start, end)
    if plan is not None:
        episode.cp_plan = {
            "start": plan[0], "end": plan[1], "initial": case.initial_category, "latest": case.latest_category,
            "previous": sum(1 for other in previous_plans.get(case.child_id, []) if other < plan[0]),
            "reviews": sorted(d for d in reviews if plan[0] < d <= (plan[1] or end) and d >= start)}
    return episode


def _assessment(case: Case, start: date, end: date) -> dict[str, Any] | None:
    """The assessment, if it started by the reference date and was not authorised before the year."""
    begun, authorised = case.assessment_started_on, case.assessment_authorised_on
    if begun is None or begun > end or (authorised is not None and authorised < start):
        return None
    done = authorised is not None and authorised <= end
    return {"start": begun, "authorised": authorised if done else None,
            "factors": list(case.assessment_factors or []) if done else []}


def _span(first: date | None, last: date | None, start: date, end: date) -> tuple[date, date | None] | None:
    """A plan's (start, end) as at the reference date, or None if it began later or ended before the year."""
    if first is None or first > end or (last is not None and last < start):
        return None
    return first, last if last is not None and last <= end else None


def _section47(case: Case, start: date, end: date) -> dict[str, Any] | None:
    """The section 47 enquiry as at the reference date (left out if its conference was before the year)."""
    begun = case.s47_started_on
    if begun is None or begun > end:
        return None
    held = case.icpc_held_on if case.icpc_held_on is not None and case.icpc_held_on <= end else None
    if held is not None and held < start:
        return None
    not_required = bool(case.icpc_not_required) and held is None
    return {"start": begun, "target": case.icpc_due, "held": held, "not_required": not_required}


def plan_starts(child_ids: set[int]) -> dict[int, list[date]]:
    """Every child protection plan start of these children (any year), to count previous plans."""
    starts: dict[int, list[date]] = {}
    if not child_ids:
        return starts
    rows = (Case.select(Case.child, Case.cp_plan_started_on)
            .where(Case.child.in_(list(child_ids)), Case.cp_plan_started_on.is_null(False)).tuples())
    for child_id, started in rows:
        starts.setdefault(child_id, []).append(started)
    return starts


def _reviews(case_ids: list[int]) -> dict[int, list[date]]:
    found: dict[int, list[date]] = {}
    if case_ids:
        rows = ReviewConference.select(ReviewConference.case, ReviewConference.held_on) \
            .where(ReviewConference.case.in_(case_ids)).tuples()
        for case_id, held_on in rows:
            found.setdefault(case_id, []).append(held_on)
    return found


# -- XML ---------------------------------------------------------------------------------
def census_xml(census: Census, now: datetime, release: str = "1") -> bytes:
    """The census as the DfE's XML (no namespace, ISO dates, lowercase booleans)."""
    root = ET.Element("Message")
    header = _sub(root, "Header")
    details = _sub(header, "CollectionDetails")
    _leaves(details, Collection="CIN", Year=str(census.year), ReferenceDate=census.reference_date)
    source = _sub(header, "Source")
    _leaves(source, SourceLevel="L", LEA=census.la_code, SoftwareCode=SOFTWARE, Release=release,
            SerialNo="001", DateTime=now.replace(microsecond=0, tzinfo=None).isoformat())
    children = _sub(root, "Children")
    for record in census.children:
        _child_xml(_sub(children, "Child"), record)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _child_xml(element: ET.Element, record: ChildRecord) -> None:
    identifiers = _sub(element, "ChildIdentifiers")
    _leaves(identifiers, LAchildID=record.la_child_id, UPN=record.upn, UPNunknown=record.upn_unknown,
            PersonBirthDate=record.birth_date, ExpectedPersonBirthDate=record.expected_birth_date, Sex=record.sex)
    characteristics = _sub(element, "ChildCharacteristics")
    _leaves(characteristics, Ethnicity=record.ethnicity)
    if record.disabilities:
        disabilities = _sub(characteristics, "Disabilities")
        for code in record.disabilities:
            _leaves(disabilities, Disability=code)
    for episode in record.episodes:
        _episode_xml(_sub(element, "CINdetails"), episode)


def _episode_xml(element: ET.Element, episode: Episode) -> None:
    _leaves(element, CINreferralDate=episode.referral_date, ReferralSource=episode.referral_source,
            PrimaryNeedCode=episode.primary_need, CINclosureDate=episode.closed_on,
            ReasonForClosure=episode.closure_reason, ReferralNFA=episode.nfa)
    if episode.assessment:
        assessment = _sub(element, "Assessments")
        _leaves(assessment, AssessmentActualStartDate=episode.assessment["start"],
                AssessmentAuthorisationDate=episode.assessment["authorised"])
        if episode.assessment["factors"]:
            factors = _sub(assessment, "FactorsIdentifiedAtAssessment")
            for code in episode.assessment["factors"]:
                _leaves(factors, AssessmentFactors=code)
    if episode.cin_plan:
        _leaves(_sub(element, "CINPlanDates"), CINPlanStartDate=episode.cin_plan[0],
                CINPlanEndDate=episode.cin_plan[1])
    if episode.section47:
        s47 = episode.section47
        _leaves(_sub(element, "Section47"), S47ActualStartDate=s47["start"], InitialCPCtarget=s47["target"],
                DateOfInitialCPC=s47["held"], ICPCnotRequired=s47["not_required"])
    if episode.cp_plan:
        plan = episode.cp_plan
        cpp = _sub(element, "ChildProtectionPlans")
        _leaves(cpp, CPPstartDate=plan["start"], CPPendDate=plan["end"], InitialCategoryOfAbuse=plan["initial"],
                LatestCategoryOfAbuse=plan["latest"], NumberOfPreviousCPP=plan["previous"])
        for held_on in plan["reviews"]:
            _leaves(_sub(cpp, "Reviews"), CPPreviewDate=held_on)


def _sub(parent: ET.Element, tag: str) -> ET.Element:
    return ET.SubElement(parent, tag)


def _leaves(parent: ET.Element, **values: Any) -> None:
    """Child elements in the order given; None is left out, booleans lowercase, dates ISO."""
    for tag, value in values.items():
        if value is None:
            continue
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, date):
            text = value.isoformat()
        else:
            text = str(value)
        ET.SubElement(parent, tag).text = text
