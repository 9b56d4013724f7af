"""How each process that runs steps is tuned: gunicorn's web workers (a configuration module,
``-c python:webui.serving``; ``safeguarding serve`` applies the same hook), the timer worker, and
the benchmark's own process when it completes tasks in process.
"""
from __future__ import annotations

import gc

# A step restores, runs and drops a workflow of thousands of objects held in reference cycles
# (tasks and their workflow), which only the cyclic collector frees. At Python's default
# first-generation threshold (700 allocations) it ran about twice per API completion, each
# time walking the live workflow mid-step and promoting it towards the old generation: 1.0 ms of a
# 5 ms completion (bench/). Every 10,000 allocations it runs between steps, on garbage: 0.23 ms.
GC_THRESHOLD = (10_000, 10, 10)


def tune_worker() -> None:
    """Freeze what start-up made (the parsed diagrams, the app) out of every collection and
    collect the young generation less often."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLD)


def post_worker_init(worker) -> None:  # gunicorn hook: the worker has loaded the app
    tune_worker()
