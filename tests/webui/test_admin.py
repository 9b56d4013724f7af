"""Administration of users, roles and teams."""
from __future__ import annotations

import pytest


@pytest.mark.parametrize("path", ["/admin/users", "/admin/users/new", "/admin/users/sw.priya"])
def test_admin_pages_refuse_others(client, auth, path):
    assert client.get(path).status_code == 302  # not signed in
    auth.login_as("team_manager")
    assert client.get(path).status_code == 403


def test_add_change_and_disable_a_user(client, auth, db):
    from store.models import User
    from store.users import roles_of
    auth.login_as("admin")
    assert "Priya Shah" in client.get("/admin/users").get_data(as_text=True)
    response = client.post("/admin/users/new", data={"username": "sw.new", "full_name": "New Worker",
                                                     "team": "Norwich locality", "roles": ["social_worker"],
                                                     "password": "a-long-password"})
    assert response.status_code == 302
    user = User.get(User.username == "sw.new")
    assert roles_of(user) == {"social_worker"} and user.team.name == "Norwich locality"
    response = client.post("/admin/users/sw.new", data={"full_name": "New Worker", "team": "",
                                                        "roles": ["social_worker", "team_manager"], "active": "no"})
    assert response.status_code == 302
    user = User.get(User.username == "sw.new")
    assert roles_of(user) == {"social_worker", "team_manager"} and not user.active and user.team is None
    client.post("/logout")
    assert client.post("/login", data={"username": "sw.new", "password": "a-long-password"}).status_code == 401


def test_invalid_user_forms_show_errors_and_change_nothing(client, auth, db):
    from store.models import User
    auth.login_as("admin")
    before = User.select().count()
    response = client.post("/admin/users/new", data={"username": "bad name!", "roles": [], "password": "short"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "There is a problem" in page and "at least 12 characters" in page
    response = client.post("/admin/users/new", data={"username": "ok.name", "roles": ["wizard"],
                                                     "password": "a-long-password"})
    assert response.status_code == 422 and "unknown role" in response.get_data(as_text=True)
    assert User.select().count() == before
    response = client.post("/admin/users/admin", data={"full_name": "Ada", "roles": ["social_worker"], "active": "yes"})
    assert response.status_code == 422 and "your own admin role" in response.get_data(as_text=True)
    assert client.get("/admin/users/nobody").status_code == 404


def test_a_disabled_users_session_stops_working(web_app, auth, client, db):
    from store.models import User
    auth.login_as("social_worker")
    assert client.get("/").status_code == 200
    User.update(active=False).where(User.username == "sw.priya").execute()
    assert client.get("/").status_code == 302
