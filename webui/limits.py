"""Hostile input at the door: a clear 400 or 413 before any view sees it, never a 500.

* A body over MAX_CONTENT_LENGTH is refused with 413 and a plain message (before anything
  reads it).
* NUL characters are refused anywhere (query, form fields and names, uploaded file names, JSON
  strings and keys): PostgreSQL cannot store them in text and no form needs one.
* JSON nested deeper than MAX_JSON_DEPTH is refused (Python's parser would otherwise fail with a
  RecursionError).
* A number in a URL (``<int:case_id>``) beyond the databases' integer range is simply not found
  (404), instead of overflowing SQLite or PostgreSQL.

Everything else (control characters, HTML, huge strings within the limit, any Unicode) is
ordinary text: validated by the forms, stored as given and escaped when shown.
"""
from __future__ import annotations

import json
from typing import Any

from flask import Flask, abort, request
from werkzeug.routing import IntegerConverter

MAX_JSON_DEPTH = 64
MAX_ID = 2**31 - 1  # PostgreSQL's integer (SERIAL) range; ids never exceed it


class BoundedInteger(IntegerConverter):
    """``<int:...>`` that matches only ids the database can hold."""

    def __init__(self, url_map, *args, **kwargs):
        kwargs.setdefault("max", MAX_ID)
        super().__init__(url_map, *args, **kwargs)


def init_app(app: Flask) -> None:
    """Register the checks; call before routes are added and before anything reads the request."""
    app.url_map.converters["int"] = BoundedInteger
    app.before_request(_check_request)


def _check_request() -> None:
    limit = request.max_content_length
    if limit is not None and request.content_length is not None and request.content_length > limit:
        abort(413, f"The request is {_megabytes(request.content_length)}: it must be smaller than "
                   f"{_megabytes(limit)}. Send less (upload a smaller file or shorten the text).")
    if request.method not in ("POST", "PUT", "PATCH"):
        _refuse_nul(request.args.items(multi=True))
        return
    _refuse_nul(request.args.items(multi=True))
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        _refuse_nul(request.form.items(multi=True))
        _refuse_nul((name, upload.filename or "") for name, upload in request.files.items(multi=True))
    elif request.is_json:
        _check_json(request.get_data(cache=True))


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB".replace(".0 MB", " MB")


def _refuse_nul(pairs) -> None:
    for name, value in pairs:
        if "\x00" in name or "\x00" in value:
            abort(400, f"The field {_shown(name)} contains a NUL character (\\0), which is never valid here. "
                       "Remove it and try again.")


def _shown(name: str) -> str:
    clean = name.replace("\x00", "")[:60]
    return f"'{clean}'" if clean else "(unnamed)"


def _check_json(raw: bytes) -> None:
    """Refuse JSON that is too deep or holds a NUL; leave other problems to the view (it says what is wrong)."""
    try:
        body = json.loads(raw)
    except RecursionError:
        abort(400, f"The JSON is nested too deeply (more than {MAX_JSON_DEPTH} levels)")
    except ValueError:
        return  # the view answers 400 with the parser's message
    problem = json_problem(body)
    if problem:
        abort(400, problem)


def json_problem(body: Any) -> str | None:
    """Why parsed JSON cannot be taken (too deep, a NUL in a text or a name), or None; also for the CLI."""
    stack: list[tuple[Any, int]] = [(body, 0)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return f"The JSON is nested too deeply (more than {MAX_JSON_DEPTH} levels)"
        if isinstance(value, str):
            if "\x00" in value:
                return "The JSON contains a NUL character (\\u0000) in a text value, which is never valid here"
        elif isinstance(value, dict):
            for key, item in value.items():
                if "\x00" in key:
                    return "The JSON contains a NUL character (\\u0000) in a field name"
                stack.append((item, depth + 1))
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)
    return None
