"""Subject access: everything held about one person, third parties redacted, each with its reason.

The pack holds the person's record, the contacts and cases about them (contact, chronology, the
form data of completed tasks, conferences, plans) and who has viewed those cases (from the audit).
Other people named in it are redacted as ``{"redacted": true, "reason": "third party: ..."}``:
the referrer always (an anonymous referrer says so), other children of the same contact, family
members, and everyone named in forms who is not the subject or a member of staff (the
authority's own staff acting in their work are disclosed, as is usual in subject access). Free
text is kept as recorded, with a note that it must be read before release. Producing a pack is
audited.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from engine import EngineError

from . import audit
from .audit import case_viewers
from .models import Case, Conference, Contact, Person, ReviewConference, User
from .timeutil import from_db
from .views import STATUTORY_FIELDS, chronology

NAME_KEYS = {"name": None, "adult_name": "the adult an allegation is about", "manager_name": "manager"}
CONTACT_KEYS = ("phone", "email", "address", "postcode")  # redacted with a third party's name
FREE_TEXT_NOTE = ("Free-text fields (the concern, reasons, analysis, actions, plans) are included as recorded and "
                  "may mention other people: read them and redact what is about others before release.")


def redacted(reason: str) -> dict[str, Any]:
    """The marker that replaces withheld information."""
    return {"redacted": True, "reason": reason}


# -- finding the subject -------------------------------------------------------------------
def find_subject(person: str | int | None = None, name: str | None = None, born: str | date | None = None) -> Person:
    """The person by id, or by name and date of birth; a clear error when none or several match."""
    if person not in (None, ""):
        text = str(person).strip()
        found = Person.get_or_none(Person.id == int(text)) if text.isdigit() else None
        if found is None:
            raise EngineError(f"there is no person {text}: give a person id (a number), or a name and date of birth")
        return found
    if not (name or "").strip() or not born:
        raise EngineError("give a person id, or a name and a date of birth (YYYY-MM-DD)")
    try:
        day = born if isinstance(born, date) else date.fromisoformat(str(born).strip())
    except ValueError:
        raise EngineError(f"{born!r} is not a date: give it as YYYY-MM-DD") from None
    words = name.lower().split()
    matches = [p for p in Person.select().where((Person.date_of_birth == day) | (Person.expected_date_of_birth == day))
               .order_by(Person.id) if all(w in p.display_name.lower().split() for w in words)]
    if not matches:
        raise EngineError(f"no one called {name.strip()} born {day.isoformat()} is recorded")
    if len(matches) > 1:
        listed = "; ".join(f"{p.id} ({p.display_name}, {p.kind})" for p in matches)
        raise EngineError(f"{len(matches)} people called {name.strip()} were born on {day.isoformat()}: {listed}. "
                          "Give the person id")
    return matches[0]


# -- the pack ------------------------------------------------------------------------------
def subject_access_pack(person_id: int, produced_by: str, now: datetime) -> dict[str, Any]:
    """Everything held about the person, redacted; appends the export to the audit."""
    person = find_subject(person_id)
    staff = {n.strip().lower() for u in User.select(User.username, User.full_name) for n in (u.username, u.full_name) if n}
    redactor = _Redactor(staff, {person.display_name.lower()})
    cases = list(Case.select().where(Case.child == person).order_by(Case.referral_date, Case.id))
    pack = {
        "subject": _person(person),
        "produced_at": now.isoformat(), "produced_by": produced_by,
        "cases": [_case(case, redactor) for case in cases],
        "referrals_made": [_referral(contact) for contact in
                           Contact.select().where(Contact.referrer == person).order_by(Contact.id)],
        "review_notes": [FREE_TEXT_NOTE] + ([] if person.kind == "child" else [
            "Family members and referrers are recorded inside contacts; cases where this person is named but "
            "is not the child are not searched by name: check them by hand."]),
    }
    audit.record(produced_by, "export", "subject_access", person.id, now,
                 {"cases": [c.id for c in cases], "redactions": redactor.count})
    for case in cases:
        audit.record(produced_by, "export", "case", case.id, now, {"subject_access": person.id}, case_id=case.id)
    return pack


def _person(person: Person) -> dict[str, Any]:
    return {"person_id": person.id, "kind": person.kind, "given_name": person.given_name,
            "family_name": person.family_name, "date_of_birth": _plain(person.date_of_birth),
            "expected_date_of_birth": _plain(person.expected_date_of_birth), "gender": person.gender,
            "ethnicity": person.ethnicity, "upn": person.upn,
            "details": {k: v for k, v in (person.details or {}).items() if k != "existing_person_id"}}


def _case(case: Case, redactor: "_Redactor") -> dict[str, Any]:
    entries = chronology(case)
    return {
        "reference": case.reference, "status": case.status, "stage": case.stage,
        "referral_date": _plain(case.referral_date), "re_referral": case.re_referral,
        "allocated_worker": case.allocated_worker.full_name if case.allocated_worker_id else None,
        "statutory": {f: _plain(getattr(case, f)) for f in STATUTORY_FIELDS},
        "contact": _contact(case, redactor),
        "chronology": [{"happened_on": _plain(e.happened), "at": _plain(from_db(e.at)), "by": e.actor,
                        "kind": e.kind, "summary": e.summary} for e in entries],
        "completed_tasks": [{"task": e.details.get("task"), "completed_at": _plain(from_db(e.at)), "by": e.actor,
                             "form": redactor.walk(e.details.get("form") or {})}
                            for e in entries if e.kind == "task_completed"],
        "conferences": [{"kind": c.kind, "status": c.status, "scheduled_for": _plain(c.scheduled_for),
                         "held_on": _plain(c.held_on), "venue": c.venue, "outcome": c.outcome,
                         "chair": c.chair.full_name if c.chair_id else None, "details": redactor.walk(c.details or {})}
                        for c in Conference.select().where(Conference.case == case).order_by(Conference.id)],
        "plans": {"child_protection": {"started_on": _plain(case.cp_plan_started_on),
                                       "ended_on": _plain(case.cp_plan_ended_on),
                                       "initial_category": case.initial_category,
                                       "latest_category": case.latest_category,
                                       "reviews": [_plain(r.held_on) for r in ReviewConference.select()
                                                   .where(ReviewConference.case == case).order_by(ReviewConference.held_on)]},
                  "child_in_need": {"started_on": _plain(case.cin_plan_started_on),
                                    "ended_on": _plain(case.cin_plan_ended_on)}},
        "viewed_by": [{"username": v["username"], "name": v["name"], "views": v["views"],
                       "last_viewed": _plain(v["last_at"])} for v in case_viewers(case.id)],
    }


def _contact(case: Case, redactor: "_Redactor") -> dict[str, Any]:
    """The contact as recorded, with the referrer, other children and family members redacted."""
    contact = case.contact
    payload = dict(contact.payload or {})
    if payload.get("referrer") or contact.referrer_id:
        payload["referrer"] = redactor.mark("anonymous referrer" if contact.referrer_anonymous
                                            else "third party: referrer")
    ids = [c.id for c in Case.select(Case.id).where(Case.contact == contact.id).order_by(Case.id)]
    mine = ids.index(case.id) if case.id in ids else 0
    payload["children"] = [child if index == mine else redactor.mark("third party: another child named in the contact")
                           for index, child in enumerate(payload.get("children") or [])]
    payload["family_members"] = [redactor.walk(m, default=f"third party: family member ({m.get('relationship') or 'relationship not recorded'})")
                                 for m in payload.get("family_members") or []]
    return {"received_on": _plain(contact.received_on), "channel": contact.channel, "recorded": payload}


def _referral(contact: Contact) -> dict[str, Any]:
    """A contact the subject made as referrer: when and how; the children are others' information."""
    children = (contact.payload or {}).get("children") or []
    return {"received_on": _plain(contact.received_on), "channel": contact.channel,
            "children": [redacted("third party: child named in the referral") for _ in children]}


class _Redactor:
    """Redacts the names (and their contact details) of people other than the subject and staff."""

    def __init__(self, staff: set[str], subject: set[str]) -> None:
        self.keep = staff | subject
        self.count = 0

    def mark(self, reason: str) -> dict[str, Any]:
        self.count += 1
        return redacted(reason)

    def walk(self, value: Any, default: str | None = None) -> Any:
        if isinstance(value, list):
            return [self.walk(v) for v in value]
        if not isinstance(value, dict):
            return value
        who = default or "third party: " + str(value.get("relationship") or value.get("type") or value.get("role")
                                                 or "person named in the record").replace("_", " ")
        out, third_party = {}, False
        for key, item in value.items():
            if key in NAME_KEYS and isinstance(item, str) and item.strip() and item.strip().lower() not in self.keep:
                out[key] = self.mark(f"third party: {NAME_KEYS[key]}" if NAME_KEYS[key] else who)
                third_party = True
            else:
                out[key] = self.walk(item)
        for key in CONTACT_KEYS:
            if third_party and isinstance(out.get(key), str) and out[key]:
                out[key] = self.mark(f"{who}: contact details")
        return out


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, (date, datetime)) else value


__all__ = ["find_subject", "subject_access_pack", "redacted", "FREE_TEXT_NOTE"]
