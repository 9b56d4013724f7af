"""A long queue is shown a page at a time, in due order (the inbox stays quick at any caseload)."""
from __future__ import annotations

import re

from bench.seed import Copier
from store.queues import list_tasks
from store.models import Task
from tests.webui.test_work import record_contact


def task_rows(page: str) -> list[str]:
    return re.findall(r'data-task="cads_decision"', page)


def test_a_long_queue_comes_a_page_at_a_time(client, auth, web_app, db):
    [case] = record_contact(web_app)
    Copier().copy(case.id, 61, day_spread=30)  # 62 open CADS decisions, due on different days
    auth.login_as("cads_social_worker")
    first = client.get("/?role=cads_social_worker").get_data(as_text=True)
    assert len(task_rows(first)) == 50 and "Open tasks 1 to 50" in first
    assert "Next page" in first and "Previous page" not in first
    second = client.get("/?role=cads_social_worker&page=2").get_data(as_text=True)
    assert len(task_rows(second)) == 12 and "Open tasks 51 to 62" in second
    assert "Previous page" in second and "Next page" not in second
    ordered = list_tasks(role="cads_social_worker", limit=None)
    assert [t.due for t in ordered] == sorted(t.due for t in Task.select())
    assert ordered[0].case.reference in first and ordered[-1].case.reference in second


def test_a_short_queue_has_no_pages(client, auth, web_app, db):
    record_contact(web_app)
    auth.login_as("cads_social_worker")
    page = client.get("/?page=0").get_data(as_text=True)
    assert "1 open task" in page and "Next page" not in page and "Previous page" not in page
