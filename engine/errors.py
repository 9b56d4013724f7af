"""The errors the engine boundary raises; each carries a message fit to show a user."""
from __future__ import annotations

from dataclasses import dataclass


class EngineError(Exception):
    """Base class: a refused or failed operation that changed nothing."""

    code = "engine_error"

    def __str__(self) -> str:  # one clear line, never a traceback
        return self.args[0] if self.args else self.code


class DiagramError(EngineError):
    """A diagram or form is invalid or misbehaved; names the element concerned."""

    code = "diagram_error"

    def __init__(self, element: str, reason: str, file: str | None = None) -> None:
        self.element, self.reason, self.file = element, reason, file
        where = f"{file}: " if file else ""
        super().__init__(f"{where}{element}: {reason}")


class TaskNotFound(EngineError):
    code = "task_not_found"


class TaskNotReady(EngineError):
    """The task exists but cannot be completed now (already done, cancelled or not yet reached)."""

    code = "task_not_ready"


class TaskChanged(EngineError):
    """The task moved on since the form was offered (stale page)."""

    code = "conflict"


class NotPermitted(EngineError):
    code = "forbidden"


@dataclass(frozen=True)
class FieldError:
    """One problem with one form field; ``field`` is a dotted path ('' for the whole form)."""

    field: str
    message: str


class ValidationFailed(EngineError):
    """Form data does not match the task's schema; ``errors`` lists each field's problem."""

    code = "invalid"

    def __init__(self, errors: list[FieldError], title: str = "The form has errors") -> None:
        self.errors = errors
        detail = "; ".join(f"{e.field or 'form'}: {e.message}" for e in errors)
        super().__init__(f"{title}: {detail}")


class CaseNotFound(EngineError):
    code = "not_found"


class CaseConflict(EngineError):
    """Someone else changed the case first; nothing was changed by this request."""

    code = "conflict"
