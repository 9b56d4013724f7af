"""Web fixtures: an app on a fresh database (SQLite; PostgreSQL on the second pass) with demo users,
a frozen clock, and a login helper."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from argon2 import PasswordHasher

from engine import FixedClock

PASSWORD = "demo-password"


@pytest.fixture(scope="session")
def password_hash():
    return PasswordHasher().hash(PASSWORD)  # hashed once: argon2 is slow by design


@pytest.fixture
def web_clock():
    return FixedClock(datetime(2026, 12, 14, 9, 0, tzinfo=timezone.utc))


@pytest.fixture
def web_app(scratch_db, web_clock, registry, engine, password_hash):
    from store.demo import ensure_demo_users
    from store.models import User
    from webui.app import create_app
    app = create_app({"TESTING": True, "DATABASE_URL": scratch_db("web"), "CLOCK": web_clock,
                      "SECRET_KEY": "test-secret", "WTF_CSRF_ENABLED": False})
    context = app.extensions["safeguarding"]
    context.service.registry, context.service.engine = registry, engine
    with app.app_context():
        context.db.connect(reuse_if_open=True)
        app.config["USERS_BY_ROLE"] = ensure_demo_users(context.service, password=None)
        User.update(password_hash=password_hash).execute()
        context.db.close()
    yield app
    context.db.close()


@pytest.fixture
def client(web_app):
    return web_app.test_client()


class AuthActions:
    def __init__(self, client, app):
        self._client, self._app = client, app

    def login(self, username: str, password: str = PASSWORD):
        return self._client.post("/login", data={"username": username, "password": password})

    def login_as(self, role: str):
        """Sign in as the demo user holding ``role``; returns the username."""
        username = self._app.config["USERS_BY_ROLE"][role]
        response = self.login(username)
        assert response.status_code == 302, response.data[:300]
        return username

    def logout(self):
        return self._client.post("/logout")


@pytest.fixture
def auth(client, web_app):
    return AuthActions(client, web_app)


@pytest.fixture
def db(web_app):
    """The app's database, connected for direct checks in a test."""
    context = web_app.extensions["safeguarding"]
    context.db.connect(reuse_if_open=True)
    yield context
    context.db.close()
