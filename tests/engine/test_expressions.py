"""The restricted evaluator refuses imports, dunder access and unsafe builtins."""
import pytest

from engine.expressions import RestrictedCodeError, RestrictedEnvironment, compile_restricted, diagram_functions


@pytest.fixture
def env(calendar):
    return RestrictedEnvironment(diagram_functions(calendar))


@pytest.mark.parametrize("source", [
    "__import__('os').system('true')",
    "().__class__.__base__.__subclasses__()",
    "x.__class__",
    "'{0.__class__}'.format(x)",
    "getattr(x, 'a')",
    "eval('1')",
    "open('/etc/passwd')",
    "type(x)",
])
def test_expressions_refused(env, source):
    with pytest.raises(RestrictedCodeError):
        env.evaluate(source, {"x": 1})


@pytest.mark.parametrize("script", ["import os", "from os import path", "global x\nx = 1",
                                    "class A: pass", "def f(_a): return _a"])
def test_scripts_refused(env, script):
    with pytest.raises(RestrictedCodeError):
        env.execute(script, {})


def test_builtins_are_limited(env):
    with pytest.raises(NameError):
        env.evaluate("print('x')", {})


def test_allowed_expressions_and_functions(env):
    data = {"referral_date": "2026-12-18", "decision": {"outcome": "cp_plan"}}
    assert env.evaluate("decision['outcome'] == 'cp_plan'", data) is True
    assert env.evaluate("add_working_days(referral_date, 15)", data) == "2027-01-13"
    assert env.evaluate("end_of_day(add_working_days(referral_date, 1))", data) == "2026-12-21T23:59:59Z"
    assert env.evaluate("add_months('2027-01-13', 3)", data) == "2027-04-13"
    assert env.evaluate("len([a for a in range(3)])", data) == 3


def test_scripts_assign_top_level_keys(env):
    context = {"icpc": {"held_on": "2027-01-13"}}
    env.execute("plan_started_on = icpc['held_on']", context)
    assert context["plan_started_on"] == "2027-01-13"
    assert "add_working_days" not in context  # helper functions do not leak into task data


def test_syntax_errors_are_reported_clearly():
    with pytest.raises(RestrictedCodeError, match="syntax error"):
        compile_restricted("a ==", "eval")
