"""Statutory returns and timeliness: the Children in Need census, Ofsted's Annex A, indicators.

Everything here reads the statutory date columns of ``Case`` (and conferences), never workflows.
"""
from __future__ import annotations

import os
from datetime import date

# The council's three-digit DfE local authority code, as the census header carries it.
LA_CODE_DEFAULT = os.environ.get("SAFEGUARDING_LA_CODE", "926")


def collection_period(year: int) -> tuple[date, date]:
    """The collection year ending 31 March ``year``: 1 April ``year - 1`` to 31 March ``year``."""
    return date(year - 1, 4, 1), date(year, 3, 31)


def within(day: date | None, first: date, last: date) -> bool:
    """Whether ``day`` is known and falls on or between ``first`` and ``last``."""
    return day is not None and first <= day <= last


# Front-door decisions that accept a contact as a referral to children's social care; the other
# outcomes (advice, early help, Family Help, LADO) close the contact without a referral.
REFERRAL_DECISIONS = ("nfa", "assessment", "strategy_discussion", "contextual")


def is_referral():
    """SQL condition: the case is a referral (an immediate-danger contact goes straight to a strategy
    discussion and MASH checks end in another decision, so those are caught by their dates)."""
    from ..models import Case
    return (Case.cads_decision.in_(REFERRAL_DECISIONS) | Case.last_strategy_discussion_on.is_null(False)
            | Case.assessment_started_on.is_null(False))
