"""The route guard's race: a task completed between the guard's two reads is left to the view."""
from __future__ import annotations

import pytest
from werkzeug.exceptions import Forbidden, NotFound

from store.models import Task
from webui.access import TaskGone, _if_open


@pytest.fixture
def open_task_id(web_app):
    from store.demo import SCENARIOS, contact_payload
    service = web_app.extensions["safeguarding"].service
    scenario = next(s for s in SCENARIOS if s.name == "nfa")
    with web_app.app_context():
        [case] = service.record_contact(contact_payload(scenario, service.clock.now().date()), "contact.officer")
        return Task.get(Task.case == case.id).id


def test_a_task_gone_between_the_guards_reads_is_left_to_the_view(web_app, open_task_id):
    def gone_meanwhile(task_id):
        raise TaskGone("completed by someone else a moment ago")

    with web_app.app_context():
        _if_open(Task, gone_meanwhile)(open_task_id)  # no 404 from the guard: the view answers (409 or its page)


@pytest.mark.parametrize("refusal", [Forbidden, NotFound])  # a restricted case's task is hidden with a 404
def test_a_refusal_by_the_guard_still_stands(web_app, open_task_id, refusal):
    def refused(task_id):
        raise refusal()

    with web_app.app_context(), pytest.raises(refusal):
        _if_open(Task, refused)(open_task_id)


def test_a_task_that_never_existed_is_not_checked(web_app):
    calls = []
    with web_app.app_context():
        _if_open(Task, calls.append)("0" * 36)
    assert calls == []
