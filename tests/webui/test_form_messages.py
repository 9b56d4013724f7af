"""Every message a person can meet from the shipped forms, read field by field: each form's every
field is given each kind of bad value (and left out when required); the message must name the
field by the title the person sees, in plain words, on the API (engine/forms.py) and on the page
(webui/formrender.py). No code names, no 'Enter the who is ...', no date format for a non-date."""
from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Iterator

import pytest

from engine import Form
from store.demo import FORM_EXAMPLES
from webui.formrender import build_form

FORMS_DIR = Path(__file__).resolve().parents[2] / "bpmn" / "forms"
FORM_FILES = sorted(p.name for p in FORMS_DIR.glob("*.json"))
FORMAT_JUNK = {"date": "2026-02-30", "email": "name.example.com", "uk-phone": "12345", "uk-postcode": "NR3",
               "nhs-number": "943 476 5918", "upn": "A926100000110"}


def leaves(schema: dict, path: tuple = ()) -> Iterator[tuple[tuple, dict]]:
    """(data path, schema) of every field a person fills in; a list of rows by its first row."""
    for name, prop in schema.get("properties", {}).items():
        here = path + (name,)
        if prop.get("type") == "object":
            yield from leaves(prop, here)
        elif prop.get("type") == "array" and (prop.get("items") or {}).get("type") == "object":
            yield here, prop
            yield from leaves(prop["items"], here + (0,))
        else:
            yield here, prop


def bad_values(prop: dict) -> Iterator[tuple[str, Any]]:
    """(what is wrong, value) for a field's schema."""
    kind = prop.get("type")
    if kind == "boolean":
        yield "not yes or no", "maybe"
    elif kind == "array":
        yield "not a list", "a text"
        if "enum" in (prop.get("items") or {}):
            yield "unknown choice", ["not-a-choice"]
    elif "enum" in prop:
        yield "unknown choice", "not-a-choice"
    elif kind == "string":
        yield "not text", 12345
        yield "control character", "ab\x07cd"
        yield "lone surrogate", "ab\ud800cd"
        if prop.get("x-widget") != "textarea":
            yield "two lines", "ab\ncd"
        if prop.get("format") in FORMAT_JUNK:
            yield "wrong format", FORMAT_JUNK[prop["format"]]
        if prop.get("format") == "date":
            yield "before 1900", "1899-12-31"
            yield "after 2100", "2101-01-01"
        if prop.get("pattern"):
            yield "wrong pattern", "??"
        if prop.get("minLength"):
            yield "empty", ""
        if prop.get("maxLength"):
            yield "too long", "x" * (prop["maxLength"] + 1)


def put(data: dict, path: tuple, value: Any) -> dict:
    data = copy.deepcopy(data)
    node = data
    for step in path[:-1]:
        if isinstance(step, int):
            while len(node) <= step:
                node.append({})
            node = node[step]
        else:
            node = node.setdefault(step, [] if isinstance(path[path.index(step) + 1], int) else {})
    if isinstance(path[-1], int):
        node.append(value)
    else:
        node[path[-1]] = value
    return data


def without(data: dict, path: tuple) -> dict:
    data = copy.deepcopy(data)
    node = data
    for step in path[:-1]:
        node = node[step]
    node.pop(path[-1], None)
    return data


def named(message: str, title: str) -> bool:
    """Whether ``message`` names the field by ``title`` (its first letter in either case)."""
    return title[1:].lower() in message.lower() and not message.startswith("'")


def assert_plain(message: str, title: str, prop: dict, where: str, value: Any = None) -> None:
    assert named(message, title), f"{where}: {message!r} does not name {title!r}"
    assert "Enter the who" not in message and " the the " not in message and " the your " not in message, message
    if prop.get("format") != "date":
        assert "YYYY-MM-DD" not in message, f"{where}: {message!r}"
    if value is not None and value != "":
        assert repr(value) not in message, f"{where}: quotes the value: {message!r}"  # jsonschema's way
    for code in ("is not valid under", "is not of type", "does not match '", "is too long", "is a required property",
                 "is not one of"):
        assert code not in message, f"{where}: jsonschema's words: {message!r}"


def page_message(schema: dict, field: str, message: str) -> str:
    """The message as the page shows it on its field (build_form rewrites missing answers)."""
    from engine import FieldError
    view = build_form(schema, {}, [FieldError(field, message)])
    return view.errors[0]["text"] if view.errors else message


@pytest.mark.parametrize("name", FORM_FILES)
def test_every_field_of_every_form_says_what_is_wrong_in_plain_words(name):
    schema = json.loads((FORMS_DIR / name).read_text())
    form, example = Form(name, schema), FORM_EXAMPLES[name]
    checked = 0
    for path, prop in leaves(schema):
        field = ".".join(map(str, path))
        title = prop.get("title")
        assert title, f"{name}: {field} has no title to name it by"
        for what, value in bad_values(prop):
            errors = {e.field: e.message for e in form.errors(put(example, path, value))}
            where = f"{name} {field} ({what})"
            message = errors.get(field) or errors.get(f"{field}.0")
            assert message, f"{where}: no message on the field; got {errors}"
            assert_plain(message, title, prop, where, value)
            shown = page_message(schema, field, message)
            assert_plain(shown, title, prop, where + " on the page", value)
            checked += 1
    assert checked > 10


@pytest.mark.parametrize("name", FORM_FILES)
def test_every_required_answer_left_out_says_what_to_give(name):
    schema = json.loads((FORMS_DIR / name).read_text())
    form, example = Form(name, schema), FORM_EXAMPLES[name]
    for field_name in schema.get("required", []):
        prop = schema["properties"][field_name]
        errors = {e.field: e.message for e in form.errors(without(example, (field_name,)))}
        message = errors[field_name]
        shown = page_message(schema, field_name, message)
        title = prop["title"]
        assert_plain(message, title, prop, f"{name} {field_name} left out")
        if prop.get("type") == "array" and (prop.get("items") or {}).get("type") == "object" and \
                prop.get("minItems", 1) == 1:
            title = prop["items"]["title"]  # 'Add at least one child'
        assert_plain(shown, title, prop, f"{name} {field_name} left out, on the page")
        assert shown[:1].isupper() and not shown.startswith(("The answer", "An answer")) or "?" in title


def test_the_messages_the_issue_quoted_are_gone():
    schema = json.loads((FORMS_DIR / "contact.json").read_text())
    form, example = Form("contact.json", schema), FORM_EXAMPLES["contact.json"]
    errors = {e.field: e.message for e in form.errors(put(example, ("referrer", "email"), "not-an-email"))}
    assert errors == {"referrer.email": "Email address must be an email address in the correct format, "
                                        "like name@example.com"}
    missing = {e.field: e.message for e in form.errors(without(example, ("referrer",)))}["referrer"]
    assert missing == "Say who is making the contact"
    assert page_message(schema, "referrer", missing) == "Say who is making the contact"
    cin = json.loads((FORMS_DIR / "cin_plan.json").read_text())
    assert page_message(cin, "plan", "The plan is required") == "Enter the plan"
    mash = json.loads((FORMS_DIR / "mash_check.json").read_text())
    assert page_message(mash, "agency", "Your agency is required") == "Choose your agency"
