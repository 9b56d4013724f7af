"""peewee models: people, contacts, cases with their workflow and statutory dates, tasks, users."""
from __future__ import annotations

import json
from datetime import date

from peewee import (AutoField, BooleanField, CharField, DateField, DateTimeField, ForeignKeyField,
                    IntegerField, Model, TextField)

from engine.calendar import local_date
from engine.deadlines import DEADLINES

from .db import database
from .timeutil import from_db


class JSONField(TextField):
    """JSON stored as text: portable across SQLite and PostgreSQL."""

    def db_value(self, value):
        return None if value is None else json.dumps(value, separators=(",", ":"), default=str)

    def python_value(self, value):
        return None if value is None else json.loads(value)


class BaseModel(Model):
    class Meta:
        database = database
        legacy_table_names = False


class Team(BaseModel):
    name = CharField(unique=True)


class User(BaseModel):
    username = CharField(unique=True, max_length=80)
    full_name = CharField(max_length=200)
    email = CharField(null=True, max_length=200)
    password_hash = CharField(null=True, max_length=300)
    active = BooleanField(default=True)
    team = ForeignKeyField(Team, null=True, backref="members", on_delete="SET NULL")
    created_at = DateTimeField()
    session_epoch = IntegerField(null=True, default=0)  # bumped to end every session of the user


class LoginAttempt(BaseModel):
    """A failed sign-in, kept for the throttling window; key is 'user:NAME' or 'addr:ADDRESS'."""

    key = CharField(max_length=200, index=True)
    at = DateTimeField(index=True)


class UserRole(BaseModel):
    user = ForeignKeyField(User, backref="role_rows", on_delete="CASCADE")
    role = CharField(max_length=60, index=True)

    class Meta:
        indexes = ((("user", "role"), True),)


class DiagramVersion(BaseModel):
    """An immutable set of diagram and form files; cases name the version they run on."""

    version = CharField(primary_key=True, max_length=32)
    files = JSONField()
    created_at = DateTimeField()
    created_by = CharField(null=True)
    status = CharField(default="published", max_length=20)  # draft, published, retired
    note = TextField(null=True)
    published_at = DateTimeField(null=True)
    published_by = CharField(null=True, max_length=80)

    @property
    def label(self) -> str:
        """The owner's note for the version, or its short hash."""
        return (self.note or "").strip().splitlines()[0] if (self.note or "").strip() else self.version


class Person(BaseModel):
    """A child, family member or referrer."""

    kind = CharField(max_length=20, index=True)  # child, family_member, referrer
    given_name = CharField(null=True, max_length=120)
    family_name = CharField(null=True, max_length=120)
    date_of_birth = DateField(null=True)
    expected_date_of_birth = DateField(null=True)
    gender = CharField(null=True, max_length=20)
    ethnicity = CharField(null=True, max_length=10)
    upn = CharField(null=True, max_length=20)
    details = JSONField(default=dict)
    created_at = DateTimeField()

    class Meta:
        # A contact looks its children up by name and date of birth, names compared without case
        # (which no index serves): (kind, date of birth) narrows 100,000 people to a handful.
        indexes = ((("family_name", "given_name", "date_of_birth"), False), (("kind", "date_of_birth"), False))

    @property
    def display_name(self) -> str:
        name = " ".join(p for p in (self.given_name, self.family_name) if p)
        return name or "(name not known)"


class Contact(BaseModel):
    received_on = DateField(index=True)
    recorded_at = DateTimeField()
    recorded_by = CharField(max_length=80)
    channel = CharField(max_length=40)
    referrer = ForeignKeyField(Person, null=True, on_delete="SET NULL")
    referrer_anonymous = BooleanField(default=False)
    immediate_danger = BooleanField(default=False)
    consent = CharField(null=True, max_length=60)
    payload = JSONField()


class Case(BaseModel):
    """One child's case: workflow position, optimistic-lock version and statutory dates."""

    id = AutoField()
    # Indexed by (child, cp_plan_started_on) and (child, referral_date, id); referral_date by the
    # returns' index that starts with it: an index of their own would only cost writes (store/migrations.py,
    # migration 5).
    child = ForeignKeyField(Person, backref="cases", on_delete="RESTRICT", index=False)
    contact = ForeignKeyField(Contact, backref="cases", on_delete="RESTRICT")
    sibling_group = CharField(max_length=40, index=True)
    status = CharField(default="open", max_length=20, index=True)
    stage = CharField(max_length=80)
    diagram_version = ForeignKeyField(DiagramVersion, on_delete="RESTRICT")
    version = IntegerField(default=1)
    created_at = DateTimeField()
    updated_at = DateTimeField()
    next_timer_at = DateTimeField(null=True, index=True)
    allocated_worker = ForeignKeyField(User, null=True, on_delete="SET NULL")
    team = ForeignKeyField(Team, null=True, on_delete="SET NULL")  # set on allocation: who may see it (store/access.py)
    re_referral = BooleanField(default=False)
    previous_case = ForeignKeyField("self", null=True, on_delete="SET NULL")
    # Statutory record (docs/process.md#records-the-returns-need): each date its own column, so returns
    # never replay diagrams.
    referral_date = DateField()
    cads_decision_on = DateField(null=True)
    cads_decision = CharField(null=True, max_length=40)
    primary_need = CharField(null=True, max_length=4)
    nfa_at_referral = BooleanField(default=False)
    assessment_started_on = DateField(null=True)
    assessment_authorised_on = DateField(null=True)
    assessment_factors = JSONField(null=True)
    assessment_outcome = CharField(null=True, max_length=40)
    last_strategy_discussion_on = DateField(null=True)
    initiating_strategy_discussion_on = DateField(null=True)
    s47_started_on = DateField(null=True)
    s47_outcome = CharField(null=True, max_length=40)
    icpc_held_on = DateField(null=True)
    icpc_outcome = CharField(null=True, max_length=20)
    icpc_not_required = BooleanField(default=False)
    cp_plan_started_on = DateField(null=True)
    cp_plan_ended_on = DateField(null=True)
    initial_category = CharField(null=True, max_length=4)
    latest_category = CharField(null=True, max_length=4)
    first_core_group_on = DateField(null=True)
    cin_plan_started_on = DateField(null=True)
    cin_plan_ended_on = DateField(null=True)
    closed_on = DateField(null=True)
    closure_reason = CharField(null=True, max_length=4)
    # ... and one due-date column per statutory deadline (``<key>_due``), added below from engine/deadlines.py.

    class Meta:  # the timeliness indicators count from these alone (store/returns/indicators.py)
        indexes = ((("cads_decision_on", "team", "cads_decision_due"), False),
                   (("assessment_authorised_on", "team", "assessment_due"), False),
                   (("icpc_held_on", "team", "icpc_due"), False),
                   (("referral_date", "team", "re_referral", "cads_decision", "last_strategy_discussion_on",
                     "assessment_started_on"), False),
                   (("cp_plan_ended_on", "team", "cp_plan_started_on"), False),
                   (("cp_plan_started_on", "team", "child"), False),
                   (("child", "cp_plan_started_on"), False),
                   # a contact's look-up of the child's previous case (re-referral) stops at one entry,
                   # however many cases the child has had (no sort of them all: 9 ms at 4,000)
                   (("child", "referral_date", "id"), False),
                   (("id", "team"), False))  # a conference's case's team without reading the row

    @property
    def reference(self) -> str:
        return f"C{self.id:06d}"


# The due date of each statutory deadline, declared once in engine/deadlines.py; the engine fills it
# from the diagram's timer. Added after the class so they stay the last columns, where they always were.
for _deadline in DEADLINES:
    Case._meta.add_field(_deadline.due_column, DateField(null=True, index=True))


class CaseState(BaseModel):
    """The serialized workflow (without its spec), kept apart so case lists stay light."""

    case = ForeignKeyField(Case, primary_key=True, backref="state_row", on_delete="CASCADE")
    state = TextField()


class Task(BaseModel):
    """Projection of READY user tasks for inboxes: reading a queue never loads a workflow."""

    id = CharField(primary_key=True, max_length=36)  # the workflow task's UUID
    case = ForeignKeyField(Case, backref="tasks", on_delete="CASCADE")
    bpmn_id = CharField(max_length=100)
    name = CharField(max_length=200)
    role = CharField(max_length=60)
    assignee = ForeignKeyField(User, null=True, backref="tasks", on_delete="SET NULL", index=False)  # (assignee, due, ...)
    due = DateField(null=True)
    token = CharField(max_length=60)
    form_name = CharField(max_length=120)
    created_at = DateTimeField()

    class Meta:
        # The whole inbox order (due, then created, then id) is in the index, so a first page
        # stops after its rows even where thousands of tasks share a due date (bench/).
        indexes = ((("role", "due", "created_at", "id"), False), (("assignee", "due", "created_at", "id"), False))


class ChronologyEntry(BaseModel):
    case = ForeignKeyField(Case, backref="chronology", on_delete="CASCADE", index=False)  # (case, at)
    at = DateTimeField()
    actor = CharField(null=True, max_length=80)
    kind = CharField(max_length=40)
    element = CharField(null=True, max_length=100)
    task_id = CharField(null=True, max_length=36, index=True)  # the completed task, for "already done" answers
    summary = TextField()
    details = JSONField(default=dict)
    # The day it happened (the form's date), where ``at`` is when it was recorded: engine/chronology.py.
    happened_on = DateField(null=True)

    class Meta:
        indexes = ((("case", "at"), False),)

    @property
    def happened(self) -> date:
        """The day it happened; for an entry written without one, the day it was recorded in England."""
        return self.happened_on or local_date(from_db(self.at))


class ReviewConference(BaseModel):
    case = ForeignKeyField(Case, backref="reviews", on_delete="CASCADE")
    held_on = DateField()


class Conference(BaseModel):
    """An ICPC, review or contextual conference: requested, scheduled, held."""

    case = ForeignKeyField(Case, backref="conferences", on_delete="CASCADE")
    kind = CharField(max_length=20)  # icpc, review, contextual
    status = CharField(max_length=20, default="scheduled")
    scheduled_for = DateField(null=True, index=True)
    start_time = CharField(null=True, max_length=5)  # 'HH:MM' in England; no time books the whole day
    duration_minutes = IntegerField(default=90)
    venue = CharField(null=True, max_length=200)
    chair = ForeignKeyField(User, null=True, on_delete="SET NULL")
    due = DateField(null=True)
    outside_timescale = BooleanField(default=False)
    reason_outside_timescale = TextField(null=True)
    held_on = DateField(null=True)
    outcome = CharField(null=True, max_length=40)
    details = JSONField(default=dict)  # invitees when scheduled; attendees, categories, core group when held

    class Meta:  # reviews on time (store/returns/indicators.py)
        indexes = ((("kind", "held_on", "due", "case"), False),)

    @property
    def invitations(self) -> list[dict]:
        """Who was invited (parents, child or advocate, professionals), as the schedule form recorded them."""
        return list((self.details or {}).get("invitees") or [])


class CaseMigration(BaseModel):
    """A case moved to another diagram version: enough to move it back."""

    case = ForeignKeyField(Case, backref="migrations", on_delete="CASCADE")
    from_version = CharField(max_length=32)
    to_version = CharField(max_length=32)
    previous_state = TextField()
    case_version = IntegerField()  # the case row's version right after the move
    previous_dates = JSONField(null=True)  # the deadlines' due dates before the move, put back by a rollback
    at = DateTimeField()
    by = CharField(max_length=80)
    rolled_back_at = DateTimeField(null=True)
