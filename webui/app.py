"""The Flask application: app factory, login, CSRF, database per request, error pages."""
from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import quote

from flask import (Flask, abort, current_app, has_request_context, jsonify, render_template, request,
                   send_from_directory, url_for)
from flask.sessions import SecureCookieSessionInterface
from flask_login import LoginManager
from flask_wtf.csrf import CSRFError

from engine import EngineError, SystemClock
from store import app_context
from store.db import INSTANCE_DIR

from . import auth, work
from .access import append_views, guard_routes
from .context import csp_nonce, csrf, history_url, status_for, wants_json
from .session import load_current_user

WEBUI_DIR = Path(__file__).resolve().parent
NODE_MODULES = WEBUI_DIR / "node_modules"
VENDOR = {  # URL prefix -> folder inside node_modules (installed by scripts/setup)
    "govuk": "govuk-frontend/dist/govuk",
    "bpmn-js": "bpmn-js/dist",
}


def create_app(config: dict | None = None) -> Flask:
    """Build the web application; ``config`` overrides settings (tests pass CLOCK, DATABASE_URL)."""
    app = Flask(__name__, instance_path=str(INSTANCE_DIR))
    app.config.update(
        DATABASE_URL=os.environ.get("DATABASE_URL"),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=os.environ.get("SAFEGUARDING_HTTPS") == "1",
        SESSION_IDLE_MINUTES=float(os.environ.get("SESSION_IDLE_MINUTES", 30)),
        SESSION_ABSOLUTE_HOURS=float(os.environ.get("SESSION_ABSOLUTE_HOURS", 12)),
        LOGIN_MAX_FAILURES=5,
        LOGIN_WINDOW_MINUTES=15,
        WTF_CSRF_TIME_LIMIT=None,
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
        TRUSTED_PROXIES=int(os.environ.get("SAFEGUARDING_TRUSTED_PROXIES") or 0),
    )
    app.config.update(config or {})
    if app.config["TRUSTED_PROXIES"]:  # behind N reverse proxies: believe their X-Forwarded-* headers
        from werkzeug.middleware.proxy_fix import ProxyFix
        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops, x_prefix=hops)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _secret_key()
    context = app_context(app.config["DATABASE_URL"], app.config.get("CLOCK") or SystemClock())
    app.extensions["safeguarding"] = context
    from . import limits
    limits.init_app(app)  # oversized bodies, NUL characters, deep JSON: refused before anything reads them

    login = LoginManager(app)
    login.login_view = "auth.login"
    login.login_message = "Sign in to continue"
    login.session_protection = "strong"  # a session copied to another address or browser is dropped
    app.session_interface = _SessionInterface()
    login.user_loader(load_current_user)
    csrf.init_app(app)

    @app.before_request
    def _open_db():
        context.db.connect(reuse_if_open=True)

    @app.teardown_request
    def _end_db_work(_exc):
        # The connection stays open for the worker's next request: opening one (and, on SQLite,
        # the WAL checkpoint of the last close) costs more than a small request (bench/).
        if not context.db.is_closed() and context.db.in_transaction():
            context.db.rollback()

    @app.context_processor
    def _globals():
        return {"service_name": "Safeguarding Workflow", "today": context.clock.now().date(),
                "url_map_endpoints": app.view_functions, "csp_nonce": csp_nonce(), "history_url": history_url}

    app.add_template_global(UrlPattern, "url_pattern")
    app.after_request(_security_headers)

    @app.route("/vendor/<package>/<path:filename>")
    def vendor(package: str, filename: str):
        folder = VENDOR.get(package)
        if folder is None:
            abort(404)
        return send_from_directory(NODE_MODULES / folder, filename, max_age=86400)

    @app.route("/assets/<path:filename>")
    def govuk_assets(filename: str):  # the GOV.UK stylesheet refers to /assets/fonts and /assets/images
        return send_from_directory(NODE_MODULES / VENDOR["govuk"] / "assets", filename, max_age=86400)

    app.register_blueprint(auth.bp)
    app.register_blueprint(work.bp)
    for name in ("tasks", "cases", "contacts", "chairs", "admin", "api", "diagrams", "processview", "incidents",
                 "returns", "dashboards", "restriction", "sar"):
        module = _optional_blueprint(name)
        if module is not None:
            app.register_blueprint(module.bp)
    guard_routes(app)  # every route naming a case, task, conference or person checks access first
    app.after_request(append_views)  # views not appended with a change are appended before the answer leaves
    _register_errors(app)
    return app


class _SessionInterface(SecureCookieSessionInterface):
    """The signed cookie session, marked Secure when configured or when the request came over HTTPS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"] or (has_request_context() and request.is_secure))


CACHEABLE_PREFIXES = ("/static/", "/vendor/", "/assets/")
INLINE_STYLE_PREFIXES = ("/diagrams/",)  # the bpmn-js modeler: see _security_headers


class UrlPattern:
    """``url_for(endpoint, **{argument: value})`` for many values, the route built once.

    A page of fifty tasks asked url_for for about 150 links, a third of its rendering time
    (bench/); the address differs only in the id, which here is quoted as url_for quotes an id."""

    _MARK = 918273645546372819  # digits: a route's int converter takes it as well as its string one

    def __init__(self, endpoint: str, argument: str, **fixed) -> None:
        self.prefix, self.suffix = url_for(endpoint, **fixed, **{argument: self._MARK}).split(str(self._MARK))

    def __call__(self, value) -> str:
        return f"{self.prefix}{quote(str(value), safe='')}{self.suffix}"


def _security_headers(response):
    """Security headers on every response; nothing but static files may be cached."""
    nonce = csp_nonce()
    # Scripts are strict everywhere: same-origin files and nonce-bearing inline scripts only.
    # Styles are strict too, except on the diagram editor pages (/diagrams/): the bpmn-js modeler
    # builds its palette and properties panel from HTML strings with style="" attributes and
    # injects <style> elements, which a nonce cannot cover, so there 'unsafe-inline' is allowed
    # (styles only; a nonce would make browsers ignore 'unsafe-inline', so none is sent there).
    styles = "'unsafe-inline'" if request.path.startswith(INLINE_STYLE_PREFIXES) else f"'nonce-{nonce}'"
    response.headers["Content-Security-Policy"] = (
        f"default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self' {styles}; "
        "img-src 'self' data:; font-src 'self' data:; object-src 'none'; frame-ancestors 'none'; "
        "form-action 'self'; base-uri 'none'")
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    if current_app.config["SESSION_COOKIE_SECURE"]:  # served over HTTPS only: browsers must never downgrade
        response.headers["Strict-Transport-Security"] = "max-age=31536000"
    if not request.path.startswith(CACHEABLE_PREFIXES):
        response.headers["Cache-Control"] = "no-store"
        response.headers["Pragma"] = "no-cache"
    return response


def _optional_blueprint(name: str):
    """Blueprints added area by area; a missing one is simply not mounted yet."""
    import importlib
    try:
        return importlib.import_module(f"webui.{name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"webui.{name}":
            return None
        raise


def _secret_key() -> str:
    """SECRET_KEY from the environment, else a random key kept in instance/ (never a default)."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    path = INSTANCE_DIR / "secret_key"
    if not path.exists():
        INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def _register_errors(app: Flask) -> None:
    titles = {400: "The request could not be carried out", 401: "Sign in to continue",
              403: "You do not have access to this", 404: "Page not found",
              405: "That action is not possible here", 409: "Someone else changed this first",
              413: "The upload is too large", 422: "The information given has errors",
              500: "Sorry, there is a problem with the service"}

    def render_error(status: int, message: str | None = None, errors=None):
        if wants_json():
            body = {"error": titles.get(status, "Error"), "status": status}
            if message:
                body["detail"] = message
            if errors is not None:
                body["errors"] = [{"field": e.field, "message": e.message} for e in errors]
            return jsonify(body), status
        return render_template("error.html", status=status, title=titles.get(status, "Error"),
                               message=message), status

    @app.errorhandler(EngineError)
    def _engine_error(exc: EngineError):
        return render_error(status_for(exc), str(exc), getattr(exc, "errors", None))

    @app.errorhandler(CSRFError)
    def _csrf(exc):
        return render_error(400, "The form had expired or was not sent by this service. Go back and try again.")

    for status in (400, 401, 403, 404, 405, 409, 413, 422):
        app.register_error_handler(status, lambda exc, status=status: render_error(status, getattr(exc, "description", None)))

    @app.errorhandler(Exception)
    def _unexpected(exc):  # never show internals
        from werkzeug.exceptions import HTTPException
        if isinstance(exc, HTTPException):
            return render_error(exc.code or 500, exc.description)
        app.logger.exception("unexpected error on %s", request.path)
        return render_error(500, None)


__all__ = ["create_app", "UrlPattern"]
