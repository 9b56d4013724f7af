"""Timers that ask the engine's injected clock instead of ``datetime.now()``.

SpiffWorkflow 3.2.0 compares timers with the machine's clock. Our statutory timers must fire
for the "now" the worker is given (and never early in a test that replays past dates), so the
parsed specs' timer definitions are switched to these subclasses when a diagram set loads.
"""
from __future__ import annotations

from datetime import datetime, timezone

from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    DurationTimerEventDefinition, TimeDateEventDefinition, TimerEventDefinition)

from .clock import as_utc
from .errors import DiagramError


def _now(my_task) -> datetime:
    clock = getattr(my_task.workflow.script_engine, "clock", None)
    return clock.now() if clock is not None else datetime.now(timezone.utc)


def timer_due(event_value: str) -> datetime:
    """The UTC moment a stored timer value stands for."""
    return as_utc(TimerEventDefinition.get_datetime(event_value))


class ClockTimeDate(TimeDateEventDefinition):
    """A timeDate timer; fires once the clock reaches the date its expression gave."""

    def has_fired(self, my_task):
        event_value = my_task._get_internal_data("event_value")
        if event_value is None:
            event_value = my_task.workflow.script_engine.evaluate(my_task, self.expression)
            if not isinstance(event_value, str):
                raise DiagramError(my_task.task_spec.bpmn_id or my_task.task_spec.name,
                                   f"timer expression must give an ISO date string, got {event_value!r}")
            timer_due(event_value)  # refuse a malformed value before it is stored
            my_task._set_internal_data(event_value=event_value)
        if timer_due(event_value) <= _now(my_task):
            my_task._set_internal_data(event_fired=True)
        return my_task._get_internal_data("event_fired", False)


class ClockDurationTimer(DurationTimerEventDefinition):
    """A duration timer measured from the injected clock."""

    def has_fired(self, my_task):
        event_value = my_task._get_internal_data("event_value")
        now = _now(my_task)
        if event_value is None:
            expression = my_task.workflow.script_engine.evaluate(my_task, self.expression)
            parsed = TimerEventDefinition.parse_iso_duration(expression)
            event_value = (now + TimerEventDefinition.get_timedelta_from_start(parsed, now)).isoformat()
            my_task._set_internal_data(event_value=event_value)
        if timer_due(event_value) <= now:
            my_task._set_internal_data(event_fired=True)
        return my_task._get_internal_data("event_fired", False)
