"""What a request's code reaches for: the command service and clock of the running app, the CSRF
protection, this request's CSP nonce and how an engine error maps to an HTTP status.

Blueprints import these from here rather than from ``webui/app.py``, which imports the blueprints:
the app is built from its parts, and no part needs the module that builds it.
"""
from __future__ import annotations

import secrets

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
