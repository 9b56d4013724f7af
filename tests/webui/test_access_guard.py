"""The task guard's race: a task that is not open (never was, or was completed a moment ago) is
left to the view, which explains what became of it; a refusal still stands."""
from __future__ import annotations

import pytest
from werkzeug.exceptions import Forbidden, NotFound

from store.audit import AuditEntry
from store.models import Task
from webui.access import GUARDS, TaskGone, _open_task_guard


@pytest.fixture
def open_task_id(web_app):
    from store.demo import SCENARIOS, contact_payload
    service = web_app.extensions["safeguarding"].service
    scenario = next(s for s in SCENARIOS if s.name == "nfa")
    with web_app.app_context():
        [case] = service.record_contact(contact_payload(scenario, service.clock.now().date()), "contact.officer")
        return Task.get(Task.case == case.id).id


def test_a_task_gone_since_it_was_listed_is_left_to_the_view(web_app, open_task_id):
    def gone_meanwhile(task_id):
        raise TaskGone("completed by someone else a moment ago")

    with web_app.app_context():
        _open_task_guard(gone_meanwhile)(open_task_id)  # no 404 from the guard: the view answers (409 or its page)


@pytest.mark.parametrize("refusal", [Forbidden, NotFound])  # a restricted case's task is hidden with a 404
def test_a_refusal_by_the_guard_still_stands(web_app, open_task_id, refusal):
    def refused(task_id):
        raise refusal()

    with web_app.app_context(), pytest.raises(refusal):
        _open_task_guard(refused)(open_task_id)


def test_a_task_that_never_existed_passes_the_guard_unrecorded(web_app):
    """(The guard runs for signed-in users only: webui/access.py guard_routes.)"""
    from flask_login import login_user

    from store.models import User
    from webui.session import CurrentUser
    with web_app.test_request_context("/tasks/" + "0" * 36):
        login_user(CurrentUser(User.get(User.username == "cads.sw")))
        before = AuditEntry.select().count()
        GUARDS["task_id"]("0" * 36)  # the view answers 404 for it
        assert AuditEntry.select().count() == before
