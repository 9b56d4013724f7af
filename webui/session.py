"""The signed-in person: a store user with their roles, as flask-login wants it."""
from __future__ import annotations

from flask_login import UserMixin

from engine import Actor
from store.models import User
from store.users import roles_of

MANAGER_ROLES = frozenset({"team_manager", "cads_manager"})


class CurrentUser(UserMixin):
    def __init__(self, user: User) -> None:
        self.user = user
        self.id = str(user.id)
        self.username = user.username
        self.full_name = user.full_name
        self.roles = roles_of(user)

    @property
    def actor(self) -> Actor:
        return Actor(self.username, self.roles)

    @property
    def is_manager(self) -> bool:
        return bool(self.roles & MANAGER_ROLES)

    def has(self, *roles: str) -> bool:
        return bool(self.roles & set(roles))

    @property
    def is_active(self) -> bool:
        return bool(self.user.active)


def load_current_user(user_id: str):
    user = User.get_or_none(User.id == int(user_id)) if str(user_id).isdigit() else None
    if user is None or not user.active:
        return None
    return CurrentUser(user)
