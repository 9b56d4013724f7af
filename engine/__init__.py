"""The safeguarding process: diagram sets, case workflows, tasks, deadlines, working days.

The only package that imports SpiffWorkflow; everything else uses the names exported here.
"""
from .calendar import WorkingDayCalendar, add_months, end_of_day_utc, local_date, parse_date
from .cases import STAGES, STRATEGY_MESSAGE, CaseEngine, case_seed
from .clock import Clock, FixedClock, SystemClock, as_utc
from .diagrams import (DEFAULT_DIAGRAM_DIR, KNOWN_ROLES, DiagramRegistry, DiagramSet, load_diagram_set,
                       read_diagram_files, version_of)
from .errors import (CaseConflict, CaseNotFound, DiagramError, EngineError, FieldError, NotPermitted,
                     TaskChanged, TaskNotFound, TaskNotReady, ValidationFailed)
from .forms import Form
from .deadlines import DEADLINE_KEYS, DEADLINES, DEADLINES_BY_KEY, Deadline
from .types import Actor, ChronologyEvent, StepOutcome, TaskView

__all__ = [
    "WorkingDayCalendar", "add_months", "end_of_day_utc", "local_date", "parse_date", "STAGES",
    "STRATEGY_MESSAGE", "CaseEngine", "case_seed", "Clock", "FixedClock", "SystemClock", "as_utc",
    "DEFAULT_DIAGRAM_DIR", "KNOWN_ROLES", "DiagramRegistry", "DiagramSet", "load_diagram_set",
    "read_diagram_files", "version_of", "CaseConflict", "CaseNotFound", "DiagramError", "EngineError",
    "FieldError", "NotPermitted", "TaskChanged", "TaskNotFound", "TaskNotReady", "ValidationFailed",
    "Form", "DEADLINE_KEYS", "DEADLINES", "DEADLINES_BY_KEY", "Deadline", "Actor", "ChronologyEvent", "StepOutcome", "TaskView",
]
from .progress import ProcessInfo, case_progress, process_index  # noqa: E402
__all__ += ["ProcessInfo", "case_progress", "process_index"]
