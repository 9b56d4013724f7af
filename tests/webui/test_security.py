"""Sessions and authentication: throttling, password rules, server-side session end, timeouts,
cookies, security headers, no caching of case pages, and error pages without internals."""
from __future__ import annotations

from datetime import timedelta

import pytest

from .conftest import PASSWORD
from .test_work import record_contact

STRONG = "correct horse battery staple"


def advance(clock, **delta) -> None:
    clock.set(clock.now() + timedelta(**delta))


def signed_in(client) -> bool:
    return client.get("/").status_code == 200


def new_client(web_app, username: str):
    other = web_app.test_client()
    assert other.post("/login", data={"username": username, "password": PASSWORD}).status_code == 302
    return other


# -- throttling --------------------------------------------------------------------------
def test_five_failures_then_refused_even_with_the_right_password_until_the_window_passes(client, auth, web_clock, db):
    for _ in range(5):
        assert auth.login("cads.sw", "wrong password").status_code == 401
    response = auth.login("cads.sw")
    assert response.status_code == 429
    assert "Too many failed sign-in attempts. Try again in 15 minutes" in response.get_data(as_text=True)
    assert int(response.headers["Retry-After"]) > 0
    assert not signed_in(client)
    advance(web_clock, minutes=14)
    assert auth.login("cads.sw").status_code == 429
    advance(web_clock, minutes=1, seconds=1)
    assert auth.login("cads.sw").status_code == 302
    assert signed_in(client)


def test_four_failures_do_not_lock_and_success_clears_the_username_count(client, auth, db):
    for _ in range(4):
        assert auth.login("cads.sw", "wrong password").status_code == 401
    assert auth.login("cads.sw").status_code == 302
    auth.logout()
    client.environ_base["REMOTE_ADDR"] = "192.0.2.44"  # the first address keeps its own count
    for _ in range(4):
        assert auth.login("cads.sw", "wrong password").status_code == 401
    assert auth.login("cads.sw").status_code == 302


def test_failures_from_one_address_across_usernames_lock_that_address_only(web_app, db):
    attacker = web_app.test_client()
    attacker.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    for name in ("a.one", "b.two", "c.three", "d.four", "e.five"):
        assert attacker.post("/login", data={"username": name, "password": "guess guess guess"}).status_code == 401
    assert attacker.post("/login", data={"username": "cads.sw", "password": PASSWORD}).status_code == 429
    elsewhere = web_app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "198.51.100.7"
    assert elsewhere.post("/login", data={"username": "cads.sw", "password": PASSWORD}).status_code == 302


def test_throttling_is_kept_in_the_database(auth, db):
    from store.models import LoginAttempt
    auth.login("cads.sw", "wrong password")
    assert {row.key for row in LoginAttempt.select()} == {"user:cads.sw", "addr:127.0.0.1"}


# -- password rules -----------------------------------------------------------------------
@pytest.mark.parametrize("password, message", [
    ("short-one", "at least 12 characters"),
    ("password1234", "too common"),
    ("aaaaaaaaaaaaaa", "too common"),
    ("new.person-secret-words", "must not contain the username"),
])
def test_admin_adding_a_user_with_a_weak_password_is_refused(client, auth, db, password, message):
    from store.models import User
    auth.login_as("admin")
    response = client.post("/admin/users/new", data={"username": "new.person", "full_name": "New Person",
                                                     "roles": ["cads_social_worker"], "password": password})
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert User.get_or_none(User.username == "new.person") is None


def test_store_add_user_applies_the_rules(db):
    from engine import ValidationFailed
    from store.models import User
    from store.users import add_user
    with pytest.raises(ValidationFailed) as caught:
        add_user("p.q", "P Q", ["cads_social_worker"], db.clock.now(), password="qwerty123456")
    assert caught.value.errors[0].field == "password"
    assert User.get_or_none(User.username == "p.q") is None
    assert add_user("p.q", "P Q", ["cads_social_worker"], db.clock.now(), password=STRONG).username == "p.q"


@pytest.mark.parametrize("form, field_message", [
    ({"current_password": "not it at all", "new_password": STRONG, "confirm_password": STRONG},
     "Your current password is not right"),
    ({"current_password": PASSWORD, "new_password": STRONG, "confirm_password": STRONG + "x"},
     "The new passwords do not match"),
    ({"current_password": PASSWORD, "new_password": "tooshort", "confirm_password": "tooshort"},
     "at least 12 characters"),
    ({"current_password": PASSWORD, "new_password": "iloveyou1234", "confirm_password": "iloveyou1234"},
     "too common"),
    ({"current_password": PASSWORD, "new_password": "my name is cads.sw ok", "confirm_password": "my name is cads.sw ok"},
     "must not contain the username"),
])
def test_changing_own_password_refuses_each_rule_and_changes_nothing(client, auth, web_app, db, form, field_message):
    auth.login_as("cads_social_worker")
    assert client.get("/account/password").status_code == 200
    response = client.post("/account/password", data=form)
    assert response.status_code == 422 and field_message in response.get_data(as_text=True)
    assert signed_in(client)  # nothing changed: still signed in, old password still works
    assert new_client(web_app, "cads.sw")


def test_password_page_needs_sign_in(client):
    response = client.get("/account/password")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_password_change_ends_every_session_and_the_new_password_works(client, auth, web_app, db):
    auth.login_as("cads_social_worker")
    other = new_client(web_app, "cads.sw")
    response = client.post("/account/password", data={"current_password": PASSWORD, "new_password": STRONG,
                                                      "confirm_password": STRONG})
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert not signed_in(other) and not signed_in(client)
    assert auth.login("cads.sw", PASSWORD).status_code == 401
    assert auth.login("cads.sw", STRONG).status_code == 302


def test_admin_resets_a_password_under_the_rules_and_ends_their_sessions(client, auth, web_app, db):
    victim = new_client(web_app, "cads.sw")
    auth.login_as("admin")
    assert client.get("/admin/users/cads.sw/password").status_code == 200
    assert client.get("/admin/users/nobody/password").status_code == 404
    response = client.post("/admin/users/cads.sw/password", data={"password": "short"})
    assert response.status_code == 422 and "at least 12 characters" in response.get_data(as_text=True)
    assert signed_in(victim)
    assert client.post("/admin/users/cads.sw/password", data={"password": STRONG}).status_code == 302
    assert not signed_in(victim)
    assert web_app.test_client().post("/login", data={"username": "cads.sw", "password": STRONG}).status_code == 302


def test_only_admins_reset_passwords(client, auth):
    auth.login_as("cads_social_worker")
    assert client.post("/admin/users/cads.manager/password", data={"password": STRONG}).status_code == 403


# -- sessions end server-side --------------------------------------------------------------
def test_logout_then_replaying_the_old_cookie_is_refused(client, auth):
    auth.login_as("cads_social_worker")
    assert signed_in(client)
    old = client.get_cookie("session").value
    auth.logout()
    assert not signed_in(client)
    client.set_cookie("session", old)
    response = client.get("/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_disabling_an_account_ends_its_sessions(client, auth, web_app, db):
    victim = new_client(web_app, "cads.sw")
    assert signed_in(victim)
    cookie = victim.get_cookie("session").value
    auth.login_as("admin")
    response = client.post("/admin/users/cads.sw", data={"full_name": "Sam CADS", "team": "",
                                                        "roles": ["cads_social_worker"], "active": "no"})
    assert response.status_code == 302
    assert not signed_in(victim)
    # enabling again does not revive the old cookie
    client.post("/admin/users/cads.sw", data={"full_name": "Sam CADS", "team": "",
                                             "roles": ["cads_social_worker"], "active": "yes"})
    victim.set_cookie("session", cookie)
    assert not signed_in(victim)


@pytest.fixture
def session_clock(web_app, web_clock):
    """Session lifetimes measured on the frozen clock (by default they use real time)."""
    web_app.config["SESSION_CLOCK"] = web_clock
    return web_clock


def test_session_times_use_real_time_by_default_so_moving_the_app_clock_keeps_one_signed_in(client, auth, web_clock):
    auth.login_as("cads_social_worker")
    advance(web_clock, days=3)
    assert signed_in(client)


def test_idle_timeout(client, auth, session_clock):
    web_clock = session_clock
    auth.login_as("cads_social_worker")
    for _ in range(3):  # activity keeps the session alive
        advance(web_clock, minutes=29)
        assert signed_in(client)
    advance(web_clock, minutes=31)
    assert not signed_in(client)


def test_idle_timeout_is_configurable(client, auth, web_app, session_clock):
    web_clock = session_clock
    web_app.config["SESSION_IDLE_MINUTES"] = 5
    auth.login_as("cads_social_worker")
    advance(web_clock, minutes=6)
    assert not signed_in(client)


def test_absolute_lifetime(client, auth, web_app, session_clock):
    web_clock = session_clock
    assert web_app.config["SESSION_ABSOLUTE_HOURS"] == 12 and web_app.config["SESSION_IDLE_MINUTES"] == 30
    auth.login_as("cads_social_worker")
    for _ in range(28):  # active every 25 minutes for 11h40
        advance(web_clock, minutes=25)
        assert signed_in(client)
    advance(web_clock, minutes=25)  # 12h05 after sign-in
    assert not signed_in(client)


def test_session_cookie_flags_and_fresh_session_at_login(client, auth):
    client.get("/login")
    response = auth.login("cads.sw")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    assert "remember_token" not in " ".join(response.headers.getlist("Set-Cookie"))


def test_secure_cookie_over_https(client, web_app):
    response = client.post("/login", data={"username": "cads.sw", "password": PASSWORD},
                           base_url="https://localhost")
    assert response.status_code == 302 and "Secure" in response.headers["Set-Cookie"]


def test_secure_cookie_when_configured(client, web_app):
    web_app.config["SESSION_COOKIE_SECURE"] = True
    response = client.post("/login", data={"username": "cads.sw", "password": PASSWORD})
    assert "Secure" in response.headers["Set-Cookie"]


def test_https_setting_comes_from_the_environment(monkeypatch, tmp_path, web_clock):
    from webui.app import create_app
    monkeypatch.setenv("SAFEGUARDING_HTTPS", "1")
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'https.db'}",
                      "CLOCK": web_clock, "SECRET_KEY": "x"})
    assert app.config["SESSION_COOKIE_SECURE"] is True


# -- headers and caching ----------------------------------------------------------------------
def assert_security_headers(response):
    csp = response.headers["Content-Security-Policy"]
    for part in ("default-src 'self'", "script-src 'self' 'nonce-", "img-src 'self' data:",
                 "frame-ancestors 'none'", "form-action 'self'", "base-uri 'none'"):
        assert part in csp
    assert "unsafe-inline" not in csp.split("script-src", 1)[1].split(";")[0]
    if not response.request.path.startswith("/diagrams/"):
        assert "style-src 'self' 'nonce-" in csp and "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert "no-store" in response.headers["Cache-Control"]


def test_headers_on_a_page_with_the_nonce_on_its_inline_script(client, auth):
    auth.login_as("cads_social_worker")
    response = client.get("/")
    assert_security_headers(response)
    nonce = response.headers["Content-Security-Policy"].split("'nonce-", 1)[1].split("'", 1)[0]
    assert f'<script nonce="{nonce}">' in response.get_data(as_text=True)
    assert client.get("/").headers["Content-Security-Policy"] != response.headers["Content-Security-Policy"]


def test_headers_on_json_api_responses(client, web_app, db):
    from store.tokens import issue_token
    token = issue_token("cads.sw", db.clock.now())
    response = client.get("/api/tasks", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200 and response.is_json
    assert_security_headers(response)
    refused = client.get("/api/tasks")
    assert refused.status_code == 401
    assert_security_headers(refused)


def test_headers_on_error_pages(client, auth):
    assert_security_headers(client.get("/login"))
    auth.login_as("cads_social_worker")
    assert_security_headers(client.get("/no/such/page"))


def test_only_the_diagram_editor_allows_inline_styles(client, auth):
    auth.login_as("process_owner")
    response = client.get("/diagrams/")
    assert response.status_code == 200
    csp = response.headers["Content-Security-Policy"]
    assert "style-src 'self' 'unsafe-inline'" in csp and "script-src 'self' 'nonce-" in csp


def test_static_files_may_be_cached(client):
    response = client.get("/static/app.css")
    response.close()
    assert response.status_code == 200 and "no-store" not in response.headers.get("Cache-Control", "")
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_case_and_task_pages_are_not_cached(client, auth, web_app, db):
    from store.models import Task
    [case] = record_contact(web_app)
    task = Task.get(Task.case == case.id)
    auth.login_as("cads_social_worker")
    for url in (f"/cases/{case.id}", f"/tasks/{task.id}"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert "no-store" in response.headers["Cache-Control"]


# -- error pages never show internals -------------------------------------------------------------
def test_an_unexpected_error_gives_the_generic_500_page(web_app, auth, client):
    def explode():
        raise RuntimeError("SECRET-INTERNAL-DETAIL in /work/main/store/cases.py")
    web_app.add_url_rule("/boom", "boom", explode)
    web_app.add_url_rule("/api/boom", "api_boom", explode)
    auth.login_as("cads_social_worker")
    response = client.get("/boom")
    text = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "Sorry, there is a problem with the service" in text
    for leak in ("SECRET-INTERNAL-DETAIL", "Traceback", "RuntimeError", "cases.py"):
        assert leak not in text
    assert_security_headers(response)
    api = client.get("/api/boom")
    assert api.status_code == 500 and "SECRET" not in api.get_data(as_text=True)


def test_create_schema_adds_session_epoch_to_an_older_database(db, auth, client):
    from store.db import database
    from store.migrations import create_schema
    database.execute_sql('ALTER TABLE "user" DROP COLUMN session_epoch')
    assert "session_epoch" not in {c.name for c in database.get_columns("user")}
    create_schema()
    assert "session_epoch" in {c.name for c in database.get_columns("user")}
    auth.login("cads.sw")
    assert signed_in(client)
