"""Behind a reverse proxy (SAFEGUARDING_TRUSTED_PROXIES / TRUSTED_PROXIES): forwarded scheme and address."""
from __future__ import annotations

import pytest

FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9", "X-Forwarded-Host": "sg.example.gov.uk"}


@pytest.fixture
def app_behind(tmp_path, web_clock, registry, engine, password_hash):
    from store.demo import ensure_demo_users
    from store.models import User
    from webui.app import create_app

    def make(proxies: int, https: bool = False):
        app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / f'p{proxies}.db'}",
                          "CLOCK": web_clock, "SECRET_KEY": "test-secret", "WTF_CSRF_ENABLED": False,
                          "TRUSTED_PROXIES": proxies, "SESSION_COOKIE_SECURE": https})
        context = app.extensions["safeguarding"]
        context.service.registry, context.service.engine = registry, engine
        with app.app_context():
            context.db.connect(reuse_if_open=True)
            ensure_demo_users(context.service, password=None)
            User.update(password_hash=password_hash).execute()
            context.db.close()
        return app
    return make


def failure_keys(app) -> set[str]:
    from store.models import LoginAttempt
    context = app.extensions["safeguarding"]
    context.db.connect(reuse_if_open=True)
    try:
        return {a.key for a in LoginAttempt.select()}
    finally:
        context.db.close()


def test_behind_a_trusted_proxy_the_forwarded_scheme_host_and_address_count(app_behind):
    app = app_behind(1)
    client = app.test_client()
    response = client.post("/login", data={"username": "cads.sw", "password": "demo-password"}, headers=FORWARDED)
    assert response.status_code == 302
    assert "Secure" in response.headers["Set-Cookie"]  # the browser spoke HTTPS to the proxy
    assert response.headers["Location"].startswith(("/", "https://sg.example.gov.uk/"))
    client.post("/logout", headers=FORWARDED)
    client.post("/login", data={"username": "cads.sw", "password": "wrong"}, headers=FORWARDED)
    assert "addr:203.0.113.9" in failure_keys(app)  # throttling counts the real client, not the proxy


def test_without_the_setting_forwarded_headers_are_not_believed(app_behind):
    app = app_behind(0)
    client = app.test_client()
    response = client.post("/login", data={"username": "cads.sw", "password": "demo-password"}, headers=FORWARDED)
    assert response.status_code == 302 and "Secure" not in response.headers["Set-Cookie"]
    client.post("/logout")
    client.post("/login", data={"username": "cads.sw", "password": "wrong"}, headers=FORWARDED)
    keys = failure_keys(app)
    assert "addr:203.0.113.9" not in keys and "addr:127.0.0.1" in keys  # a client cannot spoof its address


def test_https_setting_sends_strict_transport_security(app_behind):
    assert "Strict-Transport-Security" in app_behind(1, https=True).test_client().get("/login").headers
    assert "Strict-Transport-Security" not in app_behind(0).test_client().get("/login").headers


@pytest.mark.parametrize("target", ["//evil.example/", "/\\evil.example/", "https://evil.example/", "/\\/evil",
                                    "/\r\nSet-Cookie:x=1", "/\tevil", "javascript:alert(1)"])
def test_sign_in_never_redirects_off_site(app_behind, target):
    client = app_behind(0).test_client()
    response = client.post("/login", query_string={"next": target},
                           data={"username": "cads.sw", "password": "demo-password"})
    assert response.status_code == 302
    location = response.headers["Location"]
    assert "evil" not in location and "\\" not in location and "Set-Cookie" not in location
