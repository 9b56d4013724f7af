"""The tables of the schema, in the order they are created (a table after those it refers to).

Tables live beside the code that owns them (tokens, audit, idempotency keys, restrictions,
incidents, the history archive); this module gathers them, so ``store/models.py`` never has to
import its dependents back to have their tables made.
"""
from __future__ import annotations

from .access import CaseAccess, RestrictedCase
from .audit import AuditEntry, AuditHead
from .history import CaseArchive
from .idempotency import IdempotencyKey
from .incidents import Incident
from .models import (Case, CaseMigration, CaseState, ChronologyEntry, Conference, Contact, DiagramVersion,
                     LoginAttempt, Person, ReviewConference, Task, Team, User, UserRole)
from .tokens import ApiToken

ALL_MODELS = [Team, User, UserRole, LoginAttempt, DiagramVersion, Person, Contact, Case, CaseState, Task,
              ChronologyEntry, ReviewConference, Conference, CaseMigration, ApiToken, AuditEntry, AuditHead,
              IdempotencyKey, RestrictedCase, CaseAccess, Incident, CaseArchive]
