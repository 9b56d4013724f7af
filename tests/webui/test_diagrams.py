"""The process owner's diagram pages: access, versions, uploads (safe and hostile), forms, modeler, publish."""
from __future__ import annotations

import io
import json
import re

import pytest

OWNER = "process_owner"
OTHER_ROLES = ["contact_officer", "cads_social_worker", "cads_manager", "social_worker", "team_manager",
               "conference_chair", "business_support", "admin"]


@pytest.fixture
def published(web_app, db, diagram_files):
    """The shipped set published as the first version; returns its version hash."""
    with web_app.app_context():
        return db.service.current_diagrams().version


@pytest.fixture
def owner(auth, published):
    auth.login_as(OWNER)
    return published


def stored_versions(web_app) -> list[str]:
    from store import versions
    with web_app.app_context():
        return sorted(row.version for row in versions.list_versions())


def upload(client, name: str, data: bytes):
    return client.post("/diagrams/upload", data={"diagram": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def variant(files: dict, name: str, old: str, new: str) -> str:
    assert old in files[name], f"{old!r} not in {name}"
    return files[name].replace(old, new, 1)


def routes(version: str) -> list[tuple[str, str]]:
    return [("get", "/diagrams/"), ("post", "/diagrams/upload"), ("post", "/diagrams/new"),
            ("get", f"/diagrams/download/{version}/assessment.bpmn"),
            ("get", f"/diagrams/edit/{version}/assessment.bpmn"), ("get", f"/diagrams/xml/{version}/assessment.bpmn"),
            ("post", f"/diagrams/save/{version}/assessment.bpmn"),
            ("get", f"/diagrams/forms/{version}/assessment.json"),
            ("post", f"/diagrams/forms/{version}/assessment.json"),
            ("post", "/diagrams/forms/preview"), ("get", f"/diagrams/check/{version}"),
            ("post", f"/diagrams/publish/{version}"), ("get", f"/diagrams/migrate/{version}"),
            ("post", f"/diagrams/migrate/{version}"), ("post", "/diagrams/rollback/1"),
            ("post", f"/diagrams/retire/{version}")]


# -- access ----------------------------------------------------------------------------------
def test_every_route_sends_strangers_to_sign_in(client, published):
    for method, url in routes(published):
        response = getattr(client, method)(url)
        assert response.status_code == 302, url
        assert "/login" in response.headers["Location"], url


@pytest.mark.parametrize("role", OTHER_ROLES)
def test_every_route_refuses_other_roles(client, auth, published, web_app, role):
    auth.login_as(role)
    for method, url in routes(published):
        assert getattr(client, method)(url).status_code == 403, (role, url)
    assert stored_versions(web_app) == [published]


def test_only_the_process_owner_sees_the_process_link(client, auth, published):
    auth.login_as("social_worker")
    assert b'href="/diagrams/"' not in client.get("/").data
    auth.logout()
    auth.login_as(OWNER)
    assert b'href="/diagrams/"' in client.get("/").data


# -- list, download --------------------------------------------------------------------------
def test_the_list_shows_versions_and_the_published_files(client, owner):
    page = client.get("/diagrams/").get_data(as_text=True)
    assert f'id="version-{owner}"' in page and "govuk-tag--green\">Published" in page
    assert "safeguarding_case.bpmn" in page and "forms/assessment.json" in page
    assert f"/diagrams/edit/{owner}/assessment.bpmn" in page


def test_download_returns_the_file(client, owner, diagram_files):
    response = client.get(f"/diagrams/download/{owner}/assessment.bpmn")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == diagram_files["assessment.bpmn"]
    assert "attachment" in response.headers["Content-Disposition"]
    form = client.get(f"/diagrams/download/{owner}/forms/assessment.json")
    assert json.loads(form.data) == json.loads(diagram_files["forms/assessment.json"])
    assert client.get(f"/diagrams/download/{owner}/nothing.bpmn").status_code == 404
    assert client.get("/diagrams/download/ffffffffffffffff/assessment.bpmn").status_code == 404


# -- upload ----------------------------------------------------------------------------------
def test_a_valid_upload_creates_a_draft(client, owner, web_app, diagram_files):
    text = variant(diagram_files, "assessment.bpmn", 'name="Assessment"', 'name="Single assessment"')
    response = upload(client, "assessment.bpmn", text.encode())
    assert response.status_code == 302, response.data[:2000]
    after = stored_versions(web_app)
    assert len(after) == 2
    [draft] = [v for v in after if v != owner]
    page = client.get("/diagrams/").get_data(as_text=True)
    assert draft in page and "Draft" in page
    assert "Single assessment" in client.get(f"/diagrams/download/{draft}/assessment.bpmn").get_data(as_text=True)


BILLION_LAUGHS = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
                  '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
                  '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
                  '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">&lol3;'
                  '</bpmn:definitions>')
XXE = ('<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
       '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">'
       '<bpmn:process id="evil" isExecutable="true"><bpmn:documentation>&xxe;</bpmn:documentation></bpmn:process>'
       '</bpmn:definitions>')


def hostile(files: dict) -> list[tuple[str, str, str, str]]:
    """(case, file name, text, a word the page's message must contain)."""
    return [
        ("xxe", "evil.bpmn", XXE, "DOCTYPE"),
        ("billion laughs", "evil.bpmn", BILLION_LAUGHS, "DOCTYPE"),
        ("not xml", "evil.bpmn", "this is not a diagram at all", "well-formed"),
        ("not bpmn", "evil.bpmn", '<?xml version="1.0"?><html><body>hello</body></html>', "BPMN"),
        ("import os", "assessment.bpmn",
         variant(files, "assessment.bpmn", 'value="add_working_days(referral_date, 45)"',
                 'value="__import__(\'os\').system(\'id\')"'), "refused"),
        ("no lane", "assessment.bpmn",
         variant(files, "assessment.bpmn", "<bpmn:flowNodeRef>assessment</bpmn:flowNodeRef>", ""), "lane"),
        ("gateway cycle", "cads_triage.bpmn",
         variant(files, "cads_triage.bpmn", 'sourceRef="mash_gateway" targetRef="round_end"',
                 'sourceRef="mash_gateway" targetRef="cads_decision"'), "cycle"),
    ]


@pytest.mark.parametrize("case", ["xxe", "billion laughs", "not xml", "not bpmn", "import os", "no lane",
                                  "gateway cycle"])
def test_hostile_and_broken_uploads_are_refused_and_nothing_is_stored(client, owner, web_app, diagram_files, case):
    [(_, name, text, word)] = [h for h in hostile(diagram_files) if h[0] == case]
    response = upload(client, name, text.encode())
    page = response.get_data(as_text=True)
    assert response.status_code == 422, page[:2000]
    assert "There is a problem" in page and "was not stored" in page
    assert word.lower() in page.lower(), page[page.find("There is a problem"):][:1500]
    assert "root:x:0:0" not in page
    assert stored_versions(web_app) == [owner]


def test_a_20_mb_upload_is_refused(client, owner, web_app):
    boundary = "x-boundary"  # the body built here: werkzeug would spool 20 MB to a temporary file
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="diagram"; filename="big.bpmn"\r\n'
            f'Content-Type: application/xml\r\n\r\n').encode() + b"<a>" + b"x" * (20 * 1024 * 1024) + \
        f"</a>\r\n--{boundary}--\r\n".encode()
    response = client.post("/diagrams/upload", data=body, content_type=f"multipart/form-data; boundary={boundary}")
    assert response.status_code == 413
    assert "smaller than 2 MB" in response.get_data(as_text=True)
    assert stored_versions(web_app) == [owner]


def test_an_upload_must_be_a_bpmn_file(client, owner, web_app):
    response = upload(client, "notes.txt", b"hello")
    assert response.status_code == 422 and "Choose a .bpmn file" in response.get_data(as_text=True)
    response = client.post("/diagrams/upload", data={}, content_type="multipart/form-data")
    assert response.status_code == 422
    assert stored_versions(web_app) == [owner]


# -- new diagram, modeler --------------------------------------------------------------------
def test_a_new_diagram_is_a_valid_drawn_file_in_a_draft(client, owner, web_app):
    response = client.post("/diagrams/new", data={"process_id": "family_group_conference"})
    assert response.status_code == 302
    match = re.search(r"/diagrams/edit/([0-9a-f]+)/family_group_conference\.bpmn$", response.headers["Location"])
    assert match, response.headers["Location"]
    draft = match.group(1)
    xml = client.get(f"/diagrams/xml/{draft}/family_group_conference.bpmn").get_data(as_text=True)
    for needed in ("bpmn:participant", "bpmn:lane", "bpmn:startEvent", "bpmn:endEvent", "bpmndi:BPMNShape"):
        assert needed in xml
    from engine.checks import check_diagram_files
    assert check_diagram_files({"family_group_conference.bpmn": xml}, require_contract=False, require_top=False) == []
    bad = client.post("/diagrams/new", data={"process_id": "Bad Name!"})
    assert bad.status_code == 422 and "Enter a process id" in bad.get_data(as_text=True)
    again = client.post("/diagrams/new", data={"process_id": "assessment"})
    assert again.status_code == 422 and "already a diagram" in again.get_data(as_text=True)


def test_the_modeler_page_loads_the_bundle_and_the_xml(client, owner, diagram_files):
    page = client.get(f"/diagrams/edit/{owner}/assessment.bpmn").get_data(as_text=True)
    assert "/static/build/modeler.js" in page and "/static/build/modeler.css" in page
    assert f'data-xml-url="/diagrams/xml/{owner}/assessment.bpmn"' in page
    assert f'data-save-url="/diagrams/save/{owner}/assessment.bpmn"' in page
    xml = client.get(f"/diagrams/xml/{owner}/assessment.bpmn")
    assert xml.mimetype == "application/xml" and xml.get_data(as_text=True) == diagram_files["assessment.bpmn"]
    assert client.get(f"/diagrams/edit/{owner}/forms/assessment.json").status_code == 404
    assert client.get(f"/diagrams/edit/{owner}/missing.bpmn").status_code == 404


def test_saving_from_the_modeler_makes_a_draft_and_reports_problems(client, owner, web_app, diagram_files):
    text = variant(diagram_files, "assessment.bpmn", 'name="Assessment"', 'name="Single assessment"')
    response = client.post(f"/diagrams/save/{owner}/assessment.bpmn", data=text,
                           content_type="application/xml")
    assert response.status_code == 200, response.data[:1000]
    body = response.get_json()
    assert body["version"] != owner and body["problems"] == []
    assert body["edit_url"] == f"/diagrams/edit/{body['version']}/assessment.bpmn"
    assert len(stored_versions(web_app)) == 2
    refused = client.post(f"/diagrams/save/{owner}/assessment.bpmn", data=XXE, content_type="application/xml")
    assert refused.status_code == 422
    assert "DOCTYPE" in json.dumps(refused.get_json())
    assert len(stored_versions(web_app)) == 2


def test_problems_are_marked_on_the_elements_in_the_modeler(client, owner, diagram_files):
    text = variant(diagram_files, "assessment.bpmn", 'value="assessment.json"', 'value="missing.json"')
    draft = client.post(f"/diagrams/save/{owner}/assessment.bpmn", data=text,
                        content_type="application/xml").get_json()["version"]
    page = client.get(f"/diagrams/edit/{draft}/assessment.bpmn?problems=1").get_data(as_text=True)
    problems = json.loads(re.search(r'id="modeler-problems">(.*?)</script>', page, re.S).group(1))
    assert any(p["element"] == "assessment" and "does not exist" in p["reason"] for p in problems)
    assert "assessment_process/assessment</strong>" in page


# -- forms -----------------------------------------------------------------------------------
def test_the_form_editor_previews_the_fields(client, owner):
    page = client.get(f"/diagrams/forms/{owner}/assessment.json").get_data(as_text=True)
    assert 'name="schema"' in page and 'class="app-form-preview"' in page
    assert 'name="outcome"' in page  # a field of the preview, drawn by the task page's macros
    schema = {"type": "object", "title": "Visit", "required": ["seen_on"], "properties": {
        "seen_on": {"type": "string", "format": "date", "title": "Date the child was seen"},
        "seen_alone": {"type": "boolean", "title": "Was the child seen alone?"}}}
    response = client.post(f"/diagrams/forms/{owner}/assessment.json",
                           data={"schema": json.dumps(schema), "action": "preview"})
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Date the child was seen" in page and 'name="seen_on-day"' in page and "Was the child seen alone?" in page
    fragment = client.post("/diagrams/forms/preview", data={"schema": json.dumps(schema)})
    assert fragment.status_code == 200 and 'name="seen_on-year"' in fragment.get_data(as_text=True)


@pytest.mark.parametrize("text, message", [
    ("{not json", "not valid JSON"),
    ('["a list"]', "must be a JSON object"),
    ('{"type": "object", "properties": {"a": {"type": "wibble"}}}', "not a valid JSON Schema"),
    ('{"type": "string"}', "must describe an object"),
])
def test_the_form_editor_reports_invalid_json_and_schemas(client, owner, web_app, text, message):
    for action in ("preview", "save"):
        response = client.post(f"/diagrams/forms/{owner}/assessment.json", data={"schema": text, "action": action})
        page = response.get_data(as_text=True)
        assert response.status_code == 422
        assert message in page and "There is a problem" in page
    assert message in client.post("/diagrams/forms/preview", data={"schema": text}).get_data(as_text=True)
    assert stored_versions(web_app) == [owner]


def test_saving_a_form_makes_a_draft(client, owner, web_app, diagram_files):
    schema = json.loads(diagram_files["forms/assessment.json"])
    schema["properties"]["outcome"]["title"] = "What happens next"
    response = client.post(f"/diagrams/forms/{owner}/assessment.json",
                           data={"schema": json.dumps(schema, indent=2), "action": "save"})
    assert response.status_code == 302
    [draft] = [v for v in stored_versions(web_app) if v != owner]
    assert response.headers["Location"].endswith(f"/diagrams/forms/{draft}/assessment.json")
    assert "What happens next" in client.get(f"/diagrams/download/{draft}/forms/assessment.json").get_data(as_text=True)


# -- check, publish, migrate -----------------------------------------------------------------
def test_the_check_page_groups_problems_by_file_and_element(client, owner, diagram_files):
    text = variant(diagram_files, "assessment.bpmn", 'value="assessment.json"', 'value="missing.json"')
    draft = client.post(f"/diagrams/save/{owner}/assessment.bpmn", data=text,
                        content_type="application/xml").get_json()["version"]
    page = client.get(f"/diagrams/check/{draft}").get_data(as_text=True)
    assert "assessment.bpmn" in page and "<code>assessment_process/assessment</code>" in page
    assert "does not exist" in page
    assert f"/diagrams/edit/{draft}/assessment.bpmn?problems=1" in page
    assert f"/process/compare?from={owner}&amp;to={draft}" in page
    refused = client.post(f"/diagrams/publish/{draft}")
    assert refused.status_code == 422
    assert "was not published" in refused.get_data(as_text=True)
    clean = client.get(f"/diagrams/check/{owner}").get_data(as_text=True)
    assert "No problems found" in clean


def test_publishing_a_draft_then_migrating_and_rolling_back_a_running_case(client, owner, web_app, web_clock,
                                                                           diagram_files):
    from datetime import timedelta
    from tests.webui.test_work import record_contact
    [case] = record_contact(web_app, "nfa")
    text = variant(diagram_files, "assessment.bpmn", 'name="Assessment"', 'name="Single assessment"')
    draft = client.post(f"/diagrams/save/{owner}/assessment.bpmn", data=text,
                        content_type="application/xml").get_json()["version"]
    web_clock.set(web_clock.now() + timedelta(hours=1))
    response = client.post(f"/diagrams/publish/{draft}")
    assert response.status_code == 302, response.data[:2000]
    assert response.headers["Location"].endswith(f"/diagrams/migrate/{draft}")
    listing = client.get("/diagrams/").get_data(as_text=True)
    assert f"New cases start on version <strong>{draft}</strong>" in listing
    page = client.get(f"/diagrams/migrate/{draft}").get_data(as_text=True)
    assert f"Running cases and version {draft}" in page and case.reference in page
    assert "Migrate all movable cases" in page
    moved = client.post(f"/diagrams/migrate/{draft}")
    assert moved.status_code == 302 and moved.headers["Location"].endswith(f"/diagrams/migrate/{draft}")
    page = client.get(moved.headers["Location"]).get_data(as_text=True)
    assert f"Moved 1 case to version {draft}." in page
    moved_table = page[page.index('id="moved"'):page.index("</table>", page.index('id="moved"'))]
    assert case.reference in moved_table and f"/diagrams/rollback/{case.id}" in moved_table
    back = client.post(f"/diagrams/rollback/{case.id}", data={"version": draft})
    assert back.status_code == 302 and back.headers["Location"].endswith(f"/diagrams/migrate/{draft}")
    assert 'id="moved"' not in client.get(back.headers["Location"]).get_data(as_text=True)
    again = client.post(f"/diagrams/rollback/{case.id}", data={"version": draft})
    assert again.status_code == 409


def test_a_draft_cannot_be_retired_and_unknown_versions_are_404(client, owner, diagram_files):
    assert client.post(f"/diagrams/retire/{owner}").status_code == 409  # the only published version
    assert client.get("/diagrams/check/0123456789abcdef").status_code == 404
    assert client.get("/diagrams/edit/not-a-version/assessment.bpmn").status_code == 404


def test_a_new_form_starts_from_a_template_and_saves_into_a_draft(client, auth, db):
    from store.versions import download, list_versions
    auth.login_as("process_owner")
    response = client.get("/diagrams/forms/new?formname=home_visit")
    assert response.status_code == 302 and "new=1" in response.headers["Location"]
    page = client.get(response.headers["Location"])
    assert page.status_code == 200 and "Date it happened" in page.get_data(as_text=True)
    text = page.get_data(as_text=True)
    schema = text[text.index("{", text.index('name="schema"')):text.index("</textarea>")]
    import html
    saved = client.post(response.headers["Location"], data={"schema": html.unescape(schema), "action": "save"})
    assert saved.status_code == 302
    draft = next(v for v in list_versions() if v.status == "draft")
    assert "forms/home_visit.json" in download(draft.version)
    assert client.get("/diagrams/forms/new?formname=../etc").status_code == 400
