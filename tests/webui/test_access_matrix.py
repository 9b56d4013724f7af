"""Who sees what: every route naming a case, task, conference or person, for every demo role.

One realistic dataset (built once for the module): a case at the front door, one in MASH checks,
one awaiting allocation, one allocated to team A with a conference chaired by chair.helen, one
allocated to team B, and one restricted to two named people. The expected answers below are
written out by hand from the rules (README "Who sees what"), not computed by the code under test.
"""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from argon2 import PasswordHasher

from engine import FixedClock
from store.audit import AuditEntry

PASSWORD = "demo-password"
SW_A, SW_A2, TM_A = "sw.priya", "sw.omar", "tm.claire"
SW_B, TM_B = "sw.bella", "tm.bob"
FRONT = {"contact.officer", "cads.sw", "cads.manager"}
USERS = ["contact.officer", "cads.sw", "cads.manager", "mash.police", "mash.health", "mash.education",
         "mash.probation", SW_A, SW_A2, TM_A, "chair.helen", "bs.alex", "fh.jo", "lado.sam", "owner.pat", "admin",
         "ig.nadia", SW_B, TM_B]

# Who may see each case (case page, diagram, API case).
SEES = {
    "front": FRONT,
    "mash": FRONT,
    "awaiting": FRONT | {SW_A, SW_A2, SW_B, TM_A, TM_B},
    "team_a": {SW_A, SW_A2, TM_A, "chair.helen", "bs.alex"},
    "team_b": {SW_B, TM_B, "cads.sw", "cads.manager"},  # CADS until its feedback to the referrer is given
    "restricted": {SW_A2, TM_A},
}
# Who may open each open task (task page).
OPENS = {
    ("front", "cads_decision"): {"cads.sw", "cads.manager"},
    ("mash", "mash_police"): {"mash.police", "cads.manager"},
    ("mash", "mash_health"): {"mash.health", "cads.manager"},
    ("awaiting", "assessment"): {SW_A, SW_A2, SW_B, TM_A, TM_B},
    ("awaiting", "feedback_to_referrer"): {"cads.sw", "cads.manager"},
    ("team_b", "feedback_to_referrer"): {"cads.sw", "cads.manager"},
    ("restricted", "feedback_to_referrer"): set(),  # nobody named holds the role: name a CADS worker to give it
    ("team_a", "icpc"): {"chair.helen"},
    ("team_b", "section47_enquiry"): {SW_B, TM_B},
    ("restricted", "section47_enquiry"): {SW_A2, TM_A},
}
CONFERENCE_PAGE = {"chair.helen", "bs.alex"}  # the chair of the conference and conference administration
RESTRICTERS = {"front": {"cads.manager"}, "mash": {"cads.manager"}, "awaiting": {"cads.manager", TM_A, TM_B},
               "team_a": {TM_A}, "team_b": {TM_B, "cads.manager"}, "restricted": {TM_A}}
SAR = {"ig.nadia"}

CASE_ROUTES = [("GET", "/cases/{id}"), ("GET", "/cases/{id}/diagram"), ("POST", "/cases/{id}/strategy-discussion"),
               ("POST", "/cases/{id}/allocate"),
               ("GET", "/cases/{id}/restriction"), ("POST", "/cases/{id}/restriction"), ("GET", "/api/cases/{id}")]
TASK_ROUTES = [("GET", "/tasks/{id}"), ("POST", "/tasks/{id}"), ("POST", "/tasks/{id}/claim"),
               ("POST", "/tasks/{id}/release"), ("GET", "/tasks/{id}/reassign"), ("POST", "/tasks/{id}/reassign"),
               ("POST", "/api/tasks/{id}/claim"), ("POST", "/api/tasks/{id}/complete")]
CONFERENCE_ROUTES = [("GET", "/conferences/{id}")] + [(m, f"/conferences/{{id}}/{a}") for a in ("move", "cancel", "rebook")
                                                       for m in ("GET", "POST")]
CONFERENCE_PAGES = {"/conferences/{id}", "/conferences/{id}/move", "/conferences/{id}/cancel"}  # rebook: not cancelled
PERSON_ROUTES = [("GET", "/sar/{id}"), ("GET", "/sar/{id}/download")]
ROUTES = CASE_ROUTES + TASK_ROUTES + CONFERENCE_ROUTES + PERSON_ROUTES
READS = {("GET", "/cases/{id}"), ("GET", "/cases/{id}/diagram"), ("GET", "/api/cases/{id}"), ("GET", "/tasks/{id}")}


@pytest.fixture(scope="module")
def world(tmp_path_factory, registry, engine):
    """The app, the dataset, and a signed-in client and API token per user."""
    from store.access import restrict_case
    from store.demo import CP_PATH, Scenario, _defaults, contact_payload, drive_case, ensure_demo_users
    from store.models import Case, Conference, Task, User
    from store.tokens import issue_token
    from store.users import add_user
    from webui.app import create_app
    clock = FixedClock(datetime(2026, 12, 14, 9, 0, tzinfo=timezone.utc))
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path_factory.mktemp('matrix') / 'w.db'}",
                      "CLOCK": clock, "SECRET_KEY": "test-secret", "WTF_CSRF_ENABLED": False})
    context = app.extensions["safeguarding"]
    context.service.registry, context.service.engine = registry, engine
    service = context.service
    with app.app_context():
        context.db.connect(reuse_if_open=True)
        users = ensure_demo_users(service, password=None)
        add_user(SW_B, "Bella Stone", ["social_worker"], clock.now(), team="Great Yarmouth locality")
        add_user(TM_B, "Bob Lane", ["team_manager"], clock.now(), team="Great Yarmouth locality")
        User.update(password_hash=PasswordHasher().hash(PASSWORD)).execute()

        def start(index, scenario, worker=SW_A):
            [case] = service.record_contact(contact_payload(scenario, clock.now().date(), index), "contact.officer")
            return drive_case(service, clock, case.id, scenario, dict(users, social_worker=worker)).id

        to_s47 = {**_defaults(), "cads_decision": [{"decision": "strategy_discussion"}],
                  "strategy_discussion": [{"outcome": "section47_single"}]}
        del to_s47["feedback_to_referrer"]  # left open: CADS still has work on these allocated cases
        cases = {
            "front": start(0, Scenario("front", _defaults(), stop_before="cads_decision")),
            "mash": start(1, Scenario("mash", {**_defaults(), "cads_decision": [
                {"decision": "mash_checks", "mash_agencies": ["police", "health"]}]}, stop_before="mash_check")),
            "awaiting": start(5, Scenario("awaiting", {**_defaults(), "cads_decision": [{"decision": "assessment"}]},
                                          stop_before="assessment")),
            "team_a": start(2, Scenario("a", {**_defaults(), **{k: [v] for k, v in CP_PATH.items()}}, stop_before="icpc")),
            "team_b": start(3, Scenario("b", to_s47, stop_before="section47_enquiry"), SW_B),
            "restricted": start(4, Scenario("r", to_s47, stop_before="section47_enquiry"), SW_A2),
        }
        restrict_case(cases["restricted"], TM_A, "The child's aunt works in the team", [SW_A2], clock.now())
        tasks = {}
        for name, case_id in cases.items():
            for task in Task.select().where(Task.case == case_id):
                key = (name, task.role if task.role.startswith("mash_") else task.bpmn_id)
                if key in OPENS:
                    tasks[key] = task.id
        assert set(tasks) == set(OPENS), tasks
        conference = Conference.get(Conference.case == cases["team_a"]).id
        people = {name: Case.get_by_id(case_id).child_id for name, case_id in cases.items()}
        tokens = {u: issue_token(u, clock.now()) for u in USERS}
        context.db.close()
    clients = {}
    for username in USERS:
        client = app.test_client()
        assert client.post("/login", data={"username": username, "password": PASSWORD}).status_code == 302
        clients[username] = client
    yield {"app": app, "cases": cases, "tasks": tasks, "conference": conference, "people": people,
           "clients": clients, "tokens": tokens}
    context.db.close()


def _request(world, username, method, path):
    if path.startswith("/api/"):
        return world["app"].test_client().open(path, method=method, json={"data": {}},
                                               headers={"Authorization": f"Bearer {world['tokens'][username]}"})
    return world["clients"][username].open(path, method=method, data={})


def _refusals(world, username):
    app = world["app"]
    with app.app_context():
        app.extensions["safeguarding"].db.connect(reuse_if_open=True)
        return [(e.record_type, e.case_id) for e in AuditEntry.select().where(
            AuditEntry.actor == username, AuditEntry.action == "refused").order_by(AuditEntry.id)]


def _targets(world, template):
    """(record label, URL, case name) for each record the route can name."""
    if template in {t for _m, t in CASE_ROUTES}:
        return [(name, template.format(id=case_id), name) for name, case_id in world["cases"].items()]
    if template in {t for _m, t in TASK_ROUTES}:
        return [(key, template.format(id=task_id), key[0]) for key, task_id in world["tasks"].items()]
    if template in {t for _m, t in CONFERENCE_ROUTES}:
        return [("conference", template.format(id=world["conference"]), "team_a")]
    return [(name, template.format(id=person), name) for name, person in world["people"].items()]


def _allowed(template, label, username) -> bool | None:
    """True/False where the rules decide the answer; None where only a refusal is asserted (writes)."""
    if template.startswith("/sar/"):
        return username in SAR
    if template in CONFERENCE_PAGES:
        return username in CONFERENCE_PAGE
    if template == "/cases/{id}/restriction":
        return username in RESTRICTERS[label]
    return None


@pytest.mark.parametrize("method,template", ROUTES, ids=[f"{m} {t}" for m, t in ROUTES])
@pytest.mark.parametrize("username", USERS)
def test_route_for_user(world, username, method, template):
    """Each record the route names is shown exactly to those the rules allow; every other request by
    someone who may not see the record is refused (403, or 404 for a restricted case) and audited."""
    problems = []
    for label, url, case_name in _targets(world, template):
        sees = username in (OPENS[label] if isinstance(label, tuple) else SEES[case_name])
        if template.startswith("/sar/"):
            sees = username in SAR
        if sees and method == "POST":
            continue  # changes are tested where they belong; here only that strangers are refused
        before = _refusals(world, username)
        response = _request(world, username, method, url)
        status = response.status_code
        response.close()
        if not sees:
            hidden = case_name == "restricted" and username not in SEES["restricted"]
            expected = 404 if hidden and not template.startswith("/sar/") else 403
            if status != expected:
                problems.append(f"{method} {url} ({label}) gave {status}, expected {expected} (refused)")
            new = _refusals(world, username)[len(before):]
            record = "person" if template.startswith("/sar/") else None
            if len(new) != 1 or (record and new[0][0] != record) or \
                    (not record and new[0][1] != world["cases"][case_name]):
                problems.append(f"{method} {url} ({label}): refusal audited as {new}")
            continue
        allowed = _allowed(template, case_name, username)
        if (method, template) in READS or allowed is True:
            if status != 200:
                problems.append(f"{method} {url} ({label}) gave {status}, expected 200")
        elif allowed is False and status != 403:
            problems.append(f"{method} {url} ({label}) gave {status}, expected 403 for this role")
        if _refusals(world, username) != before:
            problems.append(f"{method} {url} ({label}) was allowed but audited as refused")
    assert not problems, "\n".join(problems)


# -- lists are filtered by the same rules ----------------------------------------------------
def _references(world, text):
    return {name for name, case_id in world["cases"].items() if f"C{case_id:06d}" in text}


MY_WORK = {SW_A: {"awaiting"}, SW_A2: {"awaiting", "restricted"}, SW_B: {"awaiting", "team_b"},
           "cads.sw": {"front", "awaiting", "team_b"}, "mash.police": {"mash"}, "mash.education": set(), "chair.helen": {"team_a"},
           TM_B: set(), "admin": set()}


@pytest.mark.parametrize("username", sorted(MY_WORK))
def test_my_work_and_api_task_list_show_only_visible_work(world, username):
    page = world["clients"][username].get("/").get_data(as_text=True)
    assert _references(world, page) == MY_WORK[username]
    response = _request(world, username, "GET", "/api/tasks")
    assert {t["case_id"] for t in response.get_json()["tasks"]} == {world["cases"][n] for n in MY_WORK[username]}


TEAM_VIEW = {TM_A: {"awaiting", "team_a", "restricted"}, TM_B: {"awaiting", "team_b"},
             "cads.manager": {"front", "mash", "awaiting", "team_b"}}


@pytest.mark.parametrize("username", sorted(TEAM_VIEW))
def test_team_view_shows_only_visible_cases(world, username):
    page = world["clients"][username].get("/team").get_data(as_text=True)
    assert _references(world, page) == TEAM_VIEW[username]


def test_chairs_lists_hide_cases_they_may_not_see(world):
    for username in ("chair.helen", "bs.alex"):
        assert _references(world, world["clients"][username].get("/conferences/").get_data(as_text=True)) == {"team_a"}


def test_a_restricted_childs_record_is_not_offered_on_the_contact_page(world):
    """Known children are offered to the front door (so a re-referral joins the history), except a
    restricted child. Two children spelt a little differently: nothing is saved while one is undecided."""
    from store.demo import demo_child
    from tests.webui.test_contacts import fields
    restricted, known = demo_child(4), demo_child(3)  # the restricted case's child; team B's child
    children = [{"given_name": c["given_name"][:-1], "family_name": c["family_name"], "date_of_birth": c["date_of_birth"],
                 "gender": c["gender"], "unborn": "no", "ethnicity": "WBRI", "current_location": "At home"}
                for c in (restricted, known)]
    response = world["clients"]["contact.officer"].post("/contacts/new", data=fields(children=children))
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and 'name="children.1.existing"' in page
    assert 'name="children.0.existing"' not in page and f"C{world['cases']['restricted']:06d}" not in page


def test_managers_see_refused_attempts(world):
    world["clients"][SW_A].get(f"/cases/{world['cases']['restricted']}")
    page = world["clients"][TM_A].get(f"/cases/{world['cases']['restricted']}").get_data(as_text=True)
    section = page[page.index('id="refusals"'):]
    assert f'data-username="{SW_A}"' in section
    listing = world["clients"][TM_B].get("/access/refused").get_data(as_text=True)
    assert f'data-case="{world["cases"]["restricted"]}"' not in listing  # not a case team B may see
    listing = world["clients"]["ig.nadia"].get("/access/refused").get_data(as_text=True)
    assert f'data-case="{world["cases"]["restricted"]}"' in listing
    assert world["clients"][SW_A].get("/access/refused").status_code == 403


# -- the structure: no route can forget the check --------------------------------------------
RECORD_WORDS = ("case", "task", "conference", "person", "child", "contact", "referr")


def test_every_route_naming_a_record_is_guarded_and_in_this_matrix(world):
    """Walks the URL map: a route with a record id must be wrapped by access.guard_routes, and must
    be listed above (so it is tested for every role); any other argument must not name a record."""
    from webui.access import GUARDS, TECHNICAL_ROUTES
    app = world["app"]
    tested = {(m, t.replace("{id}", "")) for m, t in ROUTES}
    found = set()
    for rule in app.url_map.iter_rules():
        names = set(rule.arguments) & set(GUARDS)
        for argument in set(rule.arguments) - set(GUARDS):
            assert not any(word in argument for word in RECORD_WORDS), (rule.rule, argument)
        if not names:
            continue
        view = app.view_functions[rule.endpoint]
        assert set(getattr(view, "access_guard", ())) == names, f"{rule.rule} is not guarded"
        if rule.endpoint in TECHNICAL_ROUTES:
            continue
        path = rule.rule
        for name in names:
            path = path.replace(f"<int:{name}>", "").replace(f"<{name}>", "")
        found |= {(m, path) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert found == tested, f"routes not in the matrix: {found - tested}; listed but gone: {tested - found}"


def test_a_process_owner_rolls_back_without_seeing_the_case_and_others_are_refused(world):
    url = f"/diagrams/rollback/{world['cases']['team_b']}"
    assert world["clients"][SW_A].post(url).status_code == 403  # refused by the case check first
    response = world["clients"]["owner.pat"].post(url)
    assert response.status_code not in (403, 404) or b"not migrated" in response.data


def test_my_work_links_a_case_only_for_those_who_may_see_it(world):
    mash = world["cases"]["mash"]
    police = world["clients"]["mash.police"].get("/").get_data(as_text=True)
    assert f"C{mash:06d}" in police and f'href="/cases/{mash}"' not in police  # a MASH partner's check
    cads = world["clients"]["cads.sw"].get("/").get_data(as_text=True)
    assert f'href="/cases/{world["cases"]["front"]}"' in cads
