"""Timing helpers: samples, median and p95, and the engine floor (bare SpiffWorkflow, no database)."""
from __future__ import annotations

import statistics
import time
from typing import Any, Callable

from engine import CaseEngine, DiagramSet


def summary(samples: list[float]) -> dict[str, Any]:
    """Median, p95 and count of samples given in seconds, reported in milliseconds."""
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))] if ordered else None
    found = {"median_ms": round(statistics.median(ordered) * 1000, 3) if ordered else None,
             "p95_ms": round(p95 * 1000, 3) if p95 is not None else None, "samples": len(ordered)}
    cpu = getattr(samples, "cpu", None)
    if cpu:
        found["cpu_median_ms"] = round(statistics.median(cpu) * 1000, 3)
    return found


class Samples(list):
    """Wall-clock seconds of each run, with the process's CPU seconds of each run beside them.

    On a shared machine the wall clock includes waiting for a core; CPU time does not (it
    leaves out a database server's work, so it is reported beside the wall clock, not instead).
    """

    def __init__(self) -> None:
        super().__init__()
        self.cpu: list[float] = []


def timed(action: Callable[[], Any], repeat: int, into: Samples | None = None) -> Samples:
    """Run ``action`` ``repeat`` times; the wall-clock (and CPU) seconds of each run."""
    found = into if into is not None else Samples()
    for _ in range(repeat):
        start, cpu = time.perf_counter(), time.process_time()
        action()
        found.append(time.perf_counter() - start)
        found.cpu.append(time.process_time() - cpu)
    return found


def floor_step(engine: CaseEngine, diagrams: DiagramSet, state: str, task_id: str, form: dict, now,
               bpmn_id: str) -> Callable[[], None]:
    """One step of bare SpiffWorkflow on the same diagrams, state and task, in memory: restore,
    complete, engine steps, save. None of our checks, task views, deadlines, pruning or database.

    Restoring and saving use SpiffWorkflow's own converters and the json module
    (engine.serializer.SpiffCaseSerializer), without the spec: the state as the product stores it.
    The product's own serializer (CaseSerializer) is faster than that; SpiffWorkflow's stock
    serializer, which also writes the spec, is about two and a half times slower (bench/results)."""
    from engine.serializer import SpiffCaseSerializer
    serializer = SpiffCaseSerializer(diagrams)
    return _bare_step(serializer.loads, serializer.dumps, state, engine, task_id, form, now, bpmn_id)


def stock_step(engine: CaseEngine, diagrams: DiagramSet, state: str, task_id: str, form: dict, now,
               bpmn_id: str) -> Callable[[], None]:
    """The same step with SpiffWorkflow's stock serializer, which writes the spec into every saved
    workflow: what a project using SpiffWorkflow as shipped would pay (for comparison only)."""
    from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
    from SpiffWorkflow.bpmn.serializer.default.event_definition import TimerConditionalEventDefinitionConverter
    from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG

    from engine.serializer import SpiffCaseSerializer
    from engine.timers import ClockDurationTimer, ClockTimeDate
    config = dict(SPIFF_CONFIG)  # the diagrams' timers are our own event definitions: the one addition
    config[ClockTimeDate] = config[ClockDurationTimer] = TimerConditionalEventDefinitionConverter
    stock = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(config))
    text = stock.serialize_json(SpiffCaseSerializer(diagrams).loads(state))
    return _bare_step(stock.deserialize_json, stock.serialize_json, text, engine, task_id, form, now, bpmn_id)


def _bare_step(load, save, text: str, engine: CaseEngine, task_id: str, form: dict, now,
               bpmn_id: str) -> Callable[[], None]:
    """restore (``load``), complete the task, engine steps, save (``save``)."""
    from uuid import UUID

    def step() -> None:
        workflow = load(text)
        workflow.script_engine = engine._script_engine(now)
        task = workflow.get_task_from_id(UUID(task_id))
        task.set_data(**{bpmn_id: dict(form)})
        task.run()
        workflow.do_engine_steps()
        save(workflow)
    return step


def engine_floor(engine: CaseEngine, diagrams: DiagramSet, state: str, task_id: str, form: dict, now,
                 bpmn_id: str, repeat: int) -> list[float]:
    """``repeat`` timed floor steps (floor_step)."""
    return timed(floor_step(engine, diagrams, state, task_id, form, now, bpmn_id), repeat)
