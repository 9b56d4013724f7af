"""The statutory deadlines, each declared once: everything else about a deadline derives from here.

A deadline's *timescale* lives in the diagrams, as a non-interrupting boundary timer whose id is
``<key>_deadline`` (or any id, with the extension property ``deadline`` set to the key), so a
process owner can change it without code. What this module declares is what the rest of the
system needs to know about the deadline once the timer has set it:

- the case column the engine fills with the due date when the timer is reached (``due_column``,
  always ``<key>_due``: ``store/models.py`` adds one indexed date column per deadline, and
  ``safeguarding migrate`` creates it in a running database);
- the case column recording the event that meets it (``done_column``), so a page can say "met"
  or "missed" without replaying the workflow;
- what stops it applying before it is met (a plan that ended, an ICPC found not to be needed);
- the words people read (the case page, the context beside a task, the team view, the API);
- which returns and dashboards count from it.

Adding one is this declaration, the diagram's timer and a test: ``docs/adding-a-deadline.md``.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Deadline:
    """One statutory deadline: its key (the timer's), the words people read, and its columns."""

    key: str                    # the timer is ``<key>_deadline``; the API and chronology name it by this
    label: str                  # the case page and the team view
    short_label: str            # beside a task form, where space is short
    timescale: str              # the shipped timescale in words (the diagram's timer is what counts)
    counts_from: str            # the case column of the event the timescale counts from
    done_column: str | None     # the case column recording when it was met (None: never "met", it recurs)
    stopped_by: tuple[str, str] | None = None  # (case column, status): once that column is set, it no longer runs
    used_by: tuple[str, ...] = ()  # the returns and dashboards counting from it (docs/process.md)

    @property
    def due_column(self) -> str:
        """The case column holding the due date (filled by the engine from the diagram's timer)."""
        return f"{self.key}_due"

    @property
    def long_label(self) -> str:
        """The label with the shipped timescale, for the case page."""
        return f"{self.label} ({self.timescale})" if self.timescale else self.label


DEADLINES: tuple[Deadline, ...] = (
    Deadline("cads_decision", "CADS decision", "CADS decision", "1 working day", counts_from="referral_date",
             done_column="cads_decision_on", used_by=("timeliness dashboard", "process figures")),
    Deadline("assessment", "Assessment", "Assessment", "45 working days", counts_from="referral_date",
             done_column="assessment_authorised_on",
             used_by=("timeliness dashboard", "CIN census", "Annex A", "process figures")),
    Deadline("icpc", "Initial child protection conference", "Initial conference (ICPC)", "15 working days",
             counts_from="initiating_strategy_discussion_on", done_column="icpc_held_on",
             stopped_by=("icpc_not_required", "ICPC not required"),
             used_by=("timeliness dashboard", "CIN census", "Annex A", "conference booking", "process figures")),
    Deadline("first_core_group", "First core group", "First core group", "10 working days",
             counts_from="icpc_held_on", done_column="first_core_group_on", used_by=("process figures",)),
    Deadline("next_review", "Next review conference", "Next review conference", "",
             counts_from="icpc_held_on", done_column=None, stopped_by=("cp_plan_ended_on", "plan ended"),
             used_by=("timeliness dashboard", "conference booking", "process figures")),
)

DEADLINE_KEYS: tuple[str, ...] = tuple(d.key for d in DEADLINES)
DEADLINES_BY_KEY: dict[str, Deadline] = {d.key: d for d in DEADLINES}
DUE_COLUMNS: dict[str, str] = {d.key: d.due_column for d in DEADLINES}
