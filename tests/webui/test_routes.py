"""Every route of the application refuses a visitor who is not signed in (so a new route cannot forget)."""
from __future__ import annotations

import pytest

PUBLIC = {"auth.login", "static", "vendor", "govuk_assets"}
SAMPLE_ARGS = {"case_id": 1, "task_id": "00000000-0000-0000-0000-000000000000", "username": "sw.priya",
               "conference_id": 1, "package": "govuk", "filename": "x", "id": 1}


def routes(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC:
            continue
        args = {name: SAMPLE_ARGS.get(name, 1) for name in rule.arguments}
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            yield rule.endpoint, method, rule.rule, args


def test_every_route_refuses_a_visitor(web_app):
    client = web_app.test_client()
    checked = 0
    with web_app.test_request_context():
        from flask import url_for
        for endpoint, method, rule, args in routes(web_app):
            url = url_for(endpoint, **args)
            response = client.open(url, method=method)
            if rule.startswith("/api/"):
                assert response.status_code == 401, (method, url, response.status_code)
                assert response.is_json
            else:
                assert response.status_code == 302 and "/login" in response.headers["Location"], \
                    (method, url, response.status_code)
            checked += 1
    assert checked >= 25


@pytest.mark.parametrize("path", ["/vendor/govuk/govuk-frontend.min.css", "/vendor/bpmn-js/bpmn-navigated-viewer.production.min.js"])
def test_front_end_packages_are_served(client, path):
    response = client.get(path)
    assert response.status_code == 200
    response.close()


def test_vendor_serves_only_the_named_packages(client):
    assert client.get("/vendor/jquery/jquery.js").status_code == 404
    assert client.get("/vendor/govuk/../../package.json").status_code == 404
