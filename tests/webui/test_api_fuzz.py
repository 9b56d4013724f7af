"""schemathesis against /api/openapi.json, in-process: no generated request (valid or not) gets a
500, and every answer matches the document (status code, content type, body schema).

Each operation is fuzzed with a valid bearer token (of a user holding every working role, so
requests get past authorisation into the handlers) and without one. Positive and negative
(schema-violating) data both.
"""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import (content_type_conformance, response_schema_conformance,
                                               status_code_conformance)

from store.demo import SCENARIOS, contact_payload

EXAMPLES = 25  # per operation and mode; about 600 requests in all

@pytest.fixture
def api_schema(web_app, web_clock):
    """The app's own OpenAPI document, calls going to the WSGI app; two cases to find."""
    from store.tokens import issue_token
    from store.users import add_user
    context = web_app.extensions["safeguarding"]
    with web_app.app_context():
        context.db.connect(reuse_if_open=True)
        add_user("fuzz.all", "Fuzz Everything", ["contact_officer", "cads_social_worker", "social_worker",
                                                  "team_manager", "conference_chair"], web_clock.now())
        for index, scenario in enumerate(SCENARIOS[:2]):
            context.service.record_contact(contact_payload(scenario, web_clock.now().date(), index), "fuzz.all")
        web_app.config["FUZZ_TOKEN"] = issue_token("fuzz.all", web_clock.now())
        context.db.close()
    return schemathesis.openapi.from_wsgi("/api/openapi.json", web_app,
                                          headers={"Authorization": f"Bearer {web_app.config['FUZZ_TOKEN']}"})


def fuzz(schema, authorised: bool) -> int:
    """Every operation, positive and negative data; returns how many requests were sent.

    (schemathesis' own pytest integration does not run under pytest 9, so hypothesis drives
    each operation's strategy here.)"""
    headers = {"Authorization": f"Bearer {schema.app.config['FUZZ_TOKEN']}"} if authorised else {}
    sent = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in GenerationMode:
            @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                      suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy(generation_mode=mode))
            def run(case):
                nonlocal sent
                response = case.call(headers=headers)
                sent += 1
                assert response.status_code < 500, (case.method, case.formatted_path, case.query, case.body,
                                                     response.text[:500])
                # every answer, error or not, has a documented status, content type and body
                case.validate_response(response, checks=[status_code_conformance, content_type_conformance,
                                                         response_schema_conformance])
                if not authorised and operation.path != "/openapi.json":
                    assert response.status_code in (400, 401, 404, 405, 413), (case.method, case.formatted_path)
            run()
    return sent


@pytest.mark.parametrize("authorised", [True, False], ids=["token", "anonymous"])
def test_api_never_answers_500(api_schema, authorised):
    sent = fuzz(api_schema, authorised)
    assert sent >= 100
    print(f"schemathesis: {sent} requests ({'with' if authorised else 'without'} a token)")
