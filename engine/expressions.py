"""Restricted evaluation of diagram expressions and scripts.

A diagram is code (docs/engine-notes.md, trap 4): SpiffWorkflow evaluates conditions, timers and scripts
with plain ``eval``/``exec``. Everything here is checked first: no imports, no names or
attributes starting with an underscore (closing ``().__class__.__base__`` escapes), no
``str.format`` (which reaches attributes through format fields), and only a small list of
builtins. The checked code is compiled once and cached by its source text.
"""
from __future__ import annotations

import ast
import builtins
from functools import lru_cache
from types import CodeType
from typing import Any, Callable, Mapping

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment

from .calendar import WorkingDayCalendar, add_months, end_of_day_utc
from .errors import DiagramError

SAFE_BUILTIN_NAMES = (
    "abs", "all", "any", "bool", "dict", "enumerate", "float", "int", "isinstance", "len",
    "list", "max", "min", "range", "round", "set", "sorted", "str", "sum", "tuple", "zip",
    "True", "False", "None", "ValueError", "KeyError",
)
SAFE_BUILTINS = {name: getattr(builtins, name) for name in SAFE_BUILTIN_NAMES}

FORBIDDEN_NODES = (
    ast.Import, ast.ImportFrom, ast.Global, ast.Nonlocal, ast.ClassDef, ast.AsyncFunctionDef,
    ast.Await, ast.Yield, ast.YieldFrom, ast.With, ast.AsyncWith, ast.AsyncFor,
)
FORBIDDEN_NAMES = frozenset({
    "eval", "exec", "compile", "open", "getattr", "setattr", "delattr", "globals", "locals",
    "vars", "type", "object", "input", "breakpoint", "help", "memoryview", "super",
    "classmethod", "staticmethod", "property", "dir", "id", "exit", "quit",
})
FORBIDDEN_ATTRIBUTES = frozenset({"format", "format_map", "mro", "gi_frame", "f_globals"})


class RestrictedCodeError(ValueError):
    """Raised when an expression or script uses something the restricted evaluator refuses."""


def _check_tree(tree: ast.AST) -> None:
    for node in ast.walk(tree):
        if isinstance(node, FORBIDDEN_NODES):
            raise RestrictedCodeError(f"{type(node).__name__.lower()} statements are not allowed")
        if isinstance(node, ast.Name):
            if node.id.startswith("_"):
                raise RestrictedCodeError(f"name {node.id!r} is not allowed (leading underscore)")
            if node.id in FORBIDDEN_NAMES:
                raise RestrictedCodeError(f"name {node.id!r} is not allowed")
        elif isinstance(node, ast.Attribute):
            if node.attr.startswith("_"):
                raise RestrictedCodeError(f"attribute {node.attr!r} is not allowed (leading underscore)")
            if node.attr in FORBIDDEN_ATTRIBUTES:
                raise RestrictedCodeError(f"attribute {node.attr!r} is not allowed")
        elif isinstance(node, (ast.FunctionDef, ast.Lambda)):
            args = node.args
            for arg in args.posonlyargs + args.args + args.kwonlyargs:
                if arg.arg.startswith("_"):
                    raise RestrictedCodeError(f"argument {arg.arg!r} is not allowed")


@lru_cache(maxsize=4096)
def compile_restricted(source: str, mode: str) -> CodeType:
    """Check and compile ``source`` ('eval' for expressions, 'exec' for scripts)."""
    if not isinstance(source, str) or not source.strip():
        raise RestrictedCodeError("empty expression")
    try:
        tree = ast.parse(source.strip() if mode == "eval" else source, mode=mode)
    except SyntaxError as exc:
        raise RestrictedCodeError(f"syntax error: {exc.msg} (line {exc.lineno})") from None
    _check_tree(tree)
    return compile(tree, "<diagram>", mode)


def diagram_functions(calendar: WorkingDayCalendar) -> dict[str, Callable[..., Any]]:
    """The helper functions diagrams may call, bound to a working-day calendar."""

    def add_working_days(day: str, days: int) -> str:
        return calendar.add_working_days(day, int(days)).isoformat()

    def add_months_iso(day: str, months: int) -> str:
        return add_months(day, int(months)).isoformat()

    def end_of_day(day: str) -> str:
        # isoformat, not strftime("%Y"): that drops the zero padding of years before 1000
        return end_of_day_utc(day).isoformat(timespec="seconds").replace("+00:00", "Z")

    return {"add_working_days": add_working_days, "add_months": add_months_iso,
            "end_of_day": end_of_day}


class RestrictedEnvironment(TaskDataEnvironment):
    """SpiffWorkflow's task-data environment with every evaluation checked first."""

    def __init__(self, functions: Mapping[str, Callable[..., Any]]) -> None:
        super().__init__(dict(functions))

    def _globals(self, context: dict, external_context: dict | None) -> dict:
        scope = {"__builtins__": SAFE_BUILTINS}
        scope.update(self.globals)
        scope.update(external_context or {})
        return scope

    def evaluate(self, expression, context, external_context=None):
        code = compile_restricted(expression, "eval")
        scope = self._globals(context, external_context)
        scope.update(context)
        return eval(code, scope)  # noqa: S307 - checked by compile_restricted

    def execute(self, script, context, external_context=None):
        code = compile_restricted(script, "exec")
        self.check_for_overwrite(context, external_context or {})
        context.update(self._globals(context, external_context))
        try:
            exec(code, context)  # noqa: S102 - checked by compile_restricted
        finally:
            self._remove_globals_and_functions_from_context(context, external_context)
        return True


class RestrictedScriptEngine(PythonScriptEngine):
    """Script engine whose errors name the diagram element that caused them."""

    def __init__(self, calendar: WorkingDayCalendar, clock=None) -> None:
        super().__init__(environment=RestrictedEnvironment(diagram_functions(calendar)))
        self.clock = clock

    def evaluate(self, task, expression, external_context=None):
        try:
            return self.environment.evaluate(expression, task.data, external_context)
        except RestrictedCodeError as exc:
            raise DiagramError(_element(task), f"expression {expression!r} refused: {exc}") from None
        except Exception as exc:  # the diagram's own mistake: name the element
            raise DiagramError(_element(task),
                               f"expression {expression!r} failed: {type(exc).__name__}: {exc}") from None

    def execute(self, task, script, external_context=None):
        try:
            return self.environment.execute(script, task.data, external_context or {})
        except RestrictedCodeError as exc:
            raise DiagramError(_element(task), f"script refused: {exc}") from None
        except Exception as exc:
            raise DiagramError(_element(task), f"script failed: {type(exc).__name__}: {exc}") from None


def _element(task) -> str:
    spec = task.task_spec
    process = getattr(task.workflow.spec, "name", "?")
    return f"{process}/{getattr(spec, 'bpmn_id', None) or spec.name}"
