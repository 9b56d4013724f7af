"""What a request's code reaches for: the command service and clock of the running app, the CSRF
protection, this request's CSP nonce, the address a page stands for in the browser's history and how
an engine error maps to an HTTP status.

Blueprints import these from here rather than from ``webui/app.py``, which imports the blueprints:
the app is built from its parts, and no part needs the module that builds it.
"""
from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from flask import current_app, g, request
from flask_wtf.csrf import CSRFProtect

from engine import (CaseConflict, CaseNotFound, EngineError, NotPermitted, TaskChanged, TaskNotFound,
                    TaskNotReady, ValidationFailed)

csrf = CSRFProtect()


def service():
    """The command service of this app (store + engine)."""
    return current_app.extensions["safeguarding"].service


def clock():
    """The app's clock (injected: tests and the benchmark freeze it)."""
    return current_app.extensions["safeguarding"].clock


def csp_nonce() -> str:
    """This request's Content-Security-Policy nonce (for the few inline scripts and styles)."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def keep_in_history(address: str) -> None:
    """Name the address Back and Reload should fetch for this page (webui/static/history.js)."""
    g.history_url = address


def history_url() -> str | None:
    """The address a page answering a POST stands for in the history, so that Back and Reload fetch
    it instead of asking to send the form again: the form's own page when its route shows one, else
    the page the form was on. None for an ordinary page."""
    if "history_url" in g:
        return g.history_url
    if request.method != "POST":
        return None
    rule = request.url_rule
    if rule is not None and "GET" in (rule.methods or ()):
        return request.full_path.rstrip("?")
    came_from = urlsplit(request.referrer or "")
    if came_from.netloc == request.host and came_from.path.startswith("/") and not came_from.path.startswith("//"):
        return came_from.path + (f"?{came_from.query}" if came_from.query else "")
    return None


def wants_json() -> bool:
    """Whether this request is answered in JSON (the API) rather than a page."""
    return request.path.startswith("/api/")


ERROR_STATUS = [(ValidationFailed, 422), (CaseConflict, 409), (TaskChanged, 409), (TaskNotReady, 409),
                (NotPermitted, 403), (CaseNotFound, 404), (TaskNotFound, 404)]


def status_for(exc: EngineError) -> int:
    """The HTTP status an engine error answers with."""
    for kind, status in ERROR_STATUS:
        if isinstance(exc, kind):
            return status
    return 400
