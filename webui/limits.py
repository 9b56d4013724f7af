"""Hostile input at the door: a clear 400 or 413 before any view sees it, never a 500.

* A body over MAX_CONTENT_LENGTH is refused with 413 and a plain message (before anything
  reads it).
* Text that cannot be stored is refused in every part of a request, whatever its content type:
  NUL (PostgreSQL cannot store it), other control characters (tab, line feed and carriage
  return excepted) and lone surrogates (no page or pack holding one can be sent). That is the
  query string, form fields and their names, uploaded file names, and any other body (JSON,
  text/plain, XML), JSON's escapes (``\\u0000``, ``\\ud800``) included. The forms a schema
  describes are the one exception (``SCHEMA_CHECKED``): there the form itself refuses such a
  value and names the field by its title (engine/forms.py), so the door checks only the names
  and the fields the schema does not own.
* JSON nested deeper than MAX_JSON_DEPTH is refused (Python's parser would otherwise fail with a
  RecursionError).
* A number in a URL (``<int:case_id>``) beyond the databases' integer range is simply not found
  (404); one in the query string is refused (400), as is a date before 1900 or after 2100.

Everything else (HTML, huge strings within the limit, any other Unicode) is ordinary text:
validated by the forms, stored as given and escaped when shown.
"""
from __future__ import annotations

import json
import re
from typing import Any

from flask import Flask, abort, request
from werkzeug.routing import IntegerConverter

from engine.inputs import DATE_RANGE_WORDS, EARLIEST_DATE, LATEST_DATE, bad_character, character_problem, character_words

MAX_JSON_DEPTH = 64
MAX_ID = 2**31 - 1  # PostgreSQL's integer (SERIAL) range; ids never exceed it
# Endpoints whose fields a form schema checks one by one, naming each by its title: for a JSON
# body, the key holding the form's data ("" for the whole body).
SCHEMA_CHECKED = {"contacts.new_contact": "", "tasks.task_page": "", "api.record_contact": "", "api.complete": "data"}
# Labels of the fields of the pages no schema draws, where they differ from the field's name in words.
LABELS = {"names": "People who may see it", "schema": "JSON Schema", "worker": "Allocate to",
          "assignee": "Assign to", "person": "Person id", "born": "Date of birth", "formname": "Form file name"}
_QUERY_DATE = re.compile(r"(\d{4})-\d{2}(?:-\d{2})?")


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
    for name, value in request.args.items(multi=True):
        _check_query(name, value)
    if request.method not in ("POST", "PUT", "PATCH"):
        return
    owned = SCHEMA_CHECKED.get(request.endpoint or "")
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        for name, value in request.form.items(multi=True):
            _check_field(name, None if owned is not None and _schema_field(name) else value)
        for name, upload in request.files.items(multi=True):
            _check_field(name, upload.filename or "", f"The name of the file given for ‘{_label(name)}’")
    else:
        raw = request.get_data(cache=True)
        if raw:
            _check_body(raw, owned)


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB".replace(".0 MB", " MB")


def _schema_field(name: str) -> bool:
    """Whether a posted name is one of the form's own fields (the page's own start with '_')."""
    return not name.startswith("_") and name != "csrf_token"


def _label(name: str) -> str:
    """A field as its page labels it, from its posted name ('full_name' -> 'Full name')."""
    return LABELS.get(name) or (name.replace("_", " ").capitalize() if name else "A field with no name")


def _check_field(name: str, value: str | None, subject: str | None = None) -> None:
    """Refuse a field whose name or value holds a character that cannot be stored (``value`` None: not checked)."""
    if bad_character(name) is not None:
        abort(400, f"A field name sent with the form contains {character_words(name[bad_character(name)])}, "
                   "which is never valid. Reload the page and try again.")
    if value is None:
        return
    problem = character_problem(subject or _label(name), value, quote="password" not in name)
    if problem:
        abort(400, problem + " and send the form again.")


def _check_query(name: str, value: str) -> None:
    """The query string: characters, numbers beyond the databases' ids, dates outside 1900 to 2100."""
    for text in (name, value):
        at = bad_character(text)
        if at is not None:
            abort(400, f"The address contains {character_words(text[at])} in ‘{_printable(name)}’, "
                       "which is never valid. Check the link and try again.")
    digits = value.strip().replace("_", "").lstrip("+-")
    if digits.isdecimal() and (len(digits.lstrip("0")) > len(str(MAX_ID)) or int(digits) > MAX_ID):
        abort(400, f"The number given for ‘{name}’ in the address is too large: no record has a number "
                   f"above {MAX_ID:,}. Check the link and try again.")
    found = _QUERY_DATE.fullmatch(value.strip())
    if found and not EARLIEST_DATE.year <= int(found.group(1)) <= LATEST_DATE.year:
        abort(400, f"The date given for ‘{name}’ in the address must be {DATE_RANGE_WORDS}.")


def _printable(text: str) -> str:
    return "".join(c for c in text if bad_character(c) is None)[:60]


def _check_body(raw: bytes, owned: str | None) -> None:
    """Any other body: its text (undecodable bytes count as replaced), then, if it is JSON, its values."""
    text = raw.decode("utf-8", errors="replace")
    at = bad_character(text)
    if at is not None:
        abort(400, f"The request contains {character_words(text[at])} at character {at + 1}, which is never "
                   "valid. Remove it and send it again.")
    if not (request.is_json or text.lstrip()[:1] in ("{", "[")):
        return
    try:
        body = json.loads(text)
    except RecursionError:
        abort(400, f"The JSON is nested too deeply (more than {MAX_JSON_DEPTH} levels)")
    except ValueError:
        return  # the view answers 400 with the parser's message
    problem = json_problem(body, owned)
    if problem:
        abort(400, problem)


def json_problem(body: Any, owned: str | None = None) -> str | None:
    """Why parsed JSON cannot be taken (too deep; a character that cannot be stored in a name or a
    text), or None; also for the command line. ``owned``: the key whose texts a form schema checks
    itself ("" for all of them)."""
    stack: list[tuple[Any, int, str]] = [(body, 0, "")]
    while stack:
        value, depth, path = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return f"The JSON is nested too deeply (more than {MAX_JSON_DEPTH} levels)"
        if isinstance(value, str):
            at = bad_character(value)
            if at is not None and not _owned(path, owned):
                return (f"The JSON contains {character_words(value[at])} in the text of ‘{_printable(path)}’, "
                        "which is never valid here")
        elif isinstance(value, dict):
            for key, item in value.items():
                at = bad_character(key)
                if at is not None:
                    return f"The JSON contains {character_words(key[at])} in a field name, which is never valid"
                stack.append((item, depth + 1, f"{path}.{key}" if path else key))
        elif isinstance(value, list):
            stack.extend((item, depth + 1, f"{path}.{index}" if path else str(index))
                         for index, item in enumerate(value))
    return None


def _owned(path: str, owned: str | None) -> bool:
    return owned is not None and (owned == "" or path == owned or path.startswith(owned + "."))
