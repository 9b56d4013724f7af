"""Task forms: JSON Schema files, validated with ``jsonschema``, errors reported per field.

Every message names its field by the title the person sees (``_subject``), never by its code.
Beyond the schema's own keywords: every text must hold only characters that can be stored
(tab and line breaks only in text areas), dates are real and between 1900 and 2100, and these
formats are checked: ``email``, ``uk-phone``, ``uk-postcode``, ``nhs-number`` (modulus 11
check digit) and ``upn`` (the DfE check letter). A node's ``x-errorMessages`` may replace the
message of a keyword (``{"maxItems": "..."}``).
"""
from __future__ import annotations

from datetime import date
from typing import Any, Iterator, Mapping

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import SchemaError, ValidationError

from .errors import DiagramError, FieldError, ValidationFailed
from .inputs import (DATE_RANGE_WORDS, character_problem, in_date_range, is_email, is_uk_phone, is_uk_postcode,
                     nhs_number_problem, repaired, upn_problem)

FORMAT_CHECKER = FormatChecker()
QUESTION_WORDS = ("who ", "what ", "where ", "when ", "why ", "how ", "which ", "whether ")


class _OutOfRange(ValueError):
    """A real date outside the years any record here can be about."""


@FORMAT_CHECKER.checks("date", raises=ValueError)
def _is_iso_date(value: object) -> bool:
    # jsonschema's own date check needs an optional package; ours is strict ISO 'YYYY-MM-DD'.
    if not isinstance(value, str):
        return True
    if len(value) != 10:
        raise ValueError("not YYYY-MM-DD")
    if not in_date_range(date.fromisoformat(value)):
        raise _OutOfRange(value)
    return True


def _string_check(test):
    """A format check of text (anything else is the ``type`` keyword's business)."""
    def check(value: object) -> bool:
        if isinstance(value, str) and not test(value):
            raise ValueError(value)
        return True
    return check


def _problem_check(problem_of):
    def check(value: object) -> bool:
        problem = problem_of(value) if isinstance(value, str) else None
        if problem:
            raise ValueError(problem)
        return True
    return check


FORMAT_CHECKER.checks("email", raises=ValueError)(_string_check(is_email))
FORMAT_CHECKER.checks("uk-phone", raises=ValueError)(_string_check(is_uk_phone))
FORMAT_CHECKER.checks("uk-postcode", raises=ValueError)(_string_check(is_uk_postcode))
FORMAT_CHECKER.checks("nhs-number", raises=ValueError)(_problem_check(nhs_number_problem))
FORMAT_CHECKER.checks("upn", raises=ValueError)(_problem_check(upn_problem))


def _subject(title: str) -> str:
    """How a message names a field: its title, or for a question the answer to it."""
    if title.endswith("?"):
        return f"The answer to “{title}”"
    if title.lower().startswith(QUESTION_WORDS):  # 'Who is making the contact'
        return f"The details of {title[:1].lower() + title[1:]}"
    return title


def required_message(title: str) -> str:
    """What a missing answer says (the web turns '... is required' into 'Enter the ...')."""
    if title.endswith("?"):
        return f"An answer to “{title}” is required"
    if title.lower().startswith(QUESTION_WORDS):
        return f"Say {title[:1].lower() + title[1:]}"
    return f"{title} is required"


def too_many_message(schema: Mapping[str, Any], title: str, limit: int) -> str:
    """What more than ``limit`` items in a list says (the schema's own words when it has them)."""
    own = (schema.get("x-errorMessages") or {}).get("maxItems")
    return str(own) if own else f"{_subject(title)}: give no more than {limit}"


class Form:
    """One task form: its schema and a compiled validator."""

    def __init__(self, filename: str, schema: Mapping[str, Any]) -> None:
        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as exc:
            raise DiagramError(filename, f"not a valid JSON Schema: {exc.message}") from None
        if schema.get("type") != "object":
            raise DiagramError(filename, "a form schema must describe an object")
        self.filename = filename
        self.schema = dict(schema)
        self._validator = Draft202012Validator(self.schema, format_checker=FORMAT_CHECKER)

    @property
    def title(self) -> str:
        return str(self.schema.get("title") or self.filename)

    def field_names(self) -> list[str]:
        return list(self.schema.get("properties", {}))

    def errors(self, data: Any) -> list[FieldError]:
        """Every problem with ``data``, one per field, in the form's field order."""
        if not isinstance(data, dict):
            return [FieldError("", "form data must be a JSON object")]
        found: dict[str, FieldError] = {}
        for field_error in self._text_errors(data, self.schema, []):  # first: a text no one can store
            found.setdefault(field_error.field, field_error)
        for error in self._validator.iter_errors(data):
            field_error = self._describe(error)
            found.setdefault(field_error.field, field_error)
        order = {name: i for i, name in enumerate(self.field_names())}
        return sorted(found.values(), key=lambda e: (order.get(e.field.split(".")[0], 1_000), e.field))

    def validate(self, data: Any) -> dict[str, Any]:
        """Return ``data`` if valid, else raise ValidationFailed listing each field's problem."""
        problems = self.errors(data)
        if problems:
            raise ValidationFailed(problems, title=f"{self.title}: the form has errors")
        return data

    def label(self, field: str) -> str:
        """The title the person sees for the field at dotted path ``field`` ('children.0.given_name')."""
        return self._label(field.split(".") if field else [])

    def _text_errors(self, value: Any, schema: Any, path: list[str]) -> Iterator[FieldError]:
        """Texts holding characters that cannot be stored; tab and line breaks only in text areas."""
        schema = schema if isinstance(schema, dict) else {}
        if isinstance(value, str):
            multiline = schema.get("x-widget") == "textarea"
            problem = character_problem(_subject(self._label(path)), value, multiline)
            if problem:
                yield FieldError(".".join(path), problem)
        elif isinstance(value, dict):
            properties = schema.get("properties") or {}
            for key, item in value.items():
                yield from self._text_errors(item, properties.get(key), path + [str(key)])
        elif isinstance(value, list):
            for index, item in enumerate(value):
                yield from self._text_errors(item, schema.get("items"), path + [str(index)])

    def _describe(self, error: ValidationError) -> FieldError:
        path = [str(p) for p in error.absolute_path]
        schema = error.schema if isinstance(error.schema, dict) else {}
        if error.validator == "required":
            missing = error.message.split("'")[1] if "'" in error.message else ""
            path.append(missing)
            return FieldError(".".join(path), required_message(self._label(path)))
        label = self._label(path)
        subject, field = _subject(label), ".".join(path)
        own = (schema.get("x-errorMessages") or {}).get(str(error.validator))
        if own:
            return FieldError(field, str(own))
        if error.validator == "enum":
            labels = schema.get("x-enumLabels") or {}
            choices = ", ".join(labels.get(v, str(v)) for v in error.validator_value)
            return FieldError(field, f"{subject}: choose one of {choices}")
        if error.validator == "format":
            return FieldError(field, _format_message(str(error.validator_value), subject, error.cause))
        if error.validator == "type":
            return FieldError(field, f"{subject} must be {_type_words(error.validator_value)}")
        if error.validator == "minLength":
            return FieldError(field, f"{subject} must not be empty")
        if error.validator == "maxLength":
            return FieldError(field, f"{subject} must be {error.validator_value:,} characters or fewer "
                                     f"(it has {len(error.instance):,})")
        if error.validator == "minItems":
            return FieldError(field, f"{subject}: give at least {error.validator_value}")
        if error.validator == "maxItems":
            return FieldError(field, self._too_many(error, label))
        if error.validator in ("minimum", "maximum"):
            words = "or more" if error.validator == "minimum" else "or less"
            return FieldError(field, f"{subject} must be {error.validator_value} {words}")
        if error.validator == "additionalProperties":
            extra = sorted(repaired(str(k)) for k in set(error.instance) - set(schema.get("properties", {})))
            target = ".".join(path + [extra[0]]) if extra else field
            return FieldError(target, f"{', '.join(extra) or 'field'} is not a field of this form")
        if error.validator == "uniqueItems":
            return FieldError(field, f"{subject} lists the same choice twice")
        if error.validator == "pattern":
            hint = str(self._node(path).get("description") or "").strip()
            return FieldError(field, f"{subject} is not in the expected format" + (f": {hint}" if hint else ""))
        return FieldError(field, f"{subject}: {error.message}")

    def _too_many(self, error: ValidationError, label: str) -> str:
        """A list's upper limit; under an if/then that 'contains' a choice, that choice stands alone."""
        schema_path = list(error.relative_schema_path)
        if "then" in schema_path:  # e.g. 'No disability' with another disability
            rule = self._node_at(schema_path[:schema_path.index("then")])
            only = ((rule.get("if") or {}).get("contains") or {}).get("const")
            if only is not None and error.validator_value == 1:
                node = self._node(list(map(str, error.absolute_path)))
                shown = ((node.get("items") or {}).get("x-enumLabels") or {}).get(only, only)
                return f"{_subject(label)}: ‘{shown}’ cannot be chosen with anything else"
        return too_many_message(error.schema if isinstance(error.schema, dict) else {}, label, error.validator_value)

    def _node_at(self, schema_path: list) -> dict:
        node: Any = self.schema
        for part in schema_path:
            node = node[part] if isinstance(node, (dict, list)) else {}
        return node if isinstance(node, dict) else {}

    def _node(self, path: list[str]) -> dict:
        """The schema of the field at data path ``path``."""
        node: Any = self.schema
        for part in path:
            if not isinstance(node, dict):
                return {}
            node = node.get("items") if part.isdigit() and "items" in node else node.get("properties", {}).get(part)
        return node if isinstance(node, dict) else {}

    def _label(self, path: list[str]) -> str:
        node: Any = self.schema
        title = None
        for part in path:
            if not isinstance(node, dict):
                break
            if part.isdigit() and "items" in node:
                node = node["items"]
                continue
            node = node.get("properties", {}).get(part)
            if node is None:
                break
            title = node.get("title")
        return title or (path[-1].replace("_", " ").capitalize() if path else "The form")


def _format_message(kind: str, subject: str, cause: BaseException | None) -> str:
    """What a value not in its format says, in the words a person would use."""
    if kind == "date":
        if isinstance(cause, _OutOfRange):
            return f"{subject} must be {DATE_RANGE_WORDS}"
        return f"{subject} must be a real date in the form YYYY-MM-DD"
    if kind == "email":
        return f"{subject} must be an email address in the correct format, like name@example.com"
    if kind == "uk-phone":
        return f"{subject} must be a UK phone number, like 01632 960 001, 07700 900 982 or +44 808 157 0192"
    if kind == "uk-postcode":
        return f"{subject} must be a UK postcode, like NR3 2AB"
    if kind == "nhs-number":
        if str(cause) == "shape":
            return f"{subject} must be 10 digits, like 943 476 5919"
        return (f"{subject} is not a valid NHS number: its last digit does not match the others. "
                "Check it and enter it again")
    if kind == "upn":
        if str(cause) == "shape":
            return f"{subject} must be 13 characters: a letter, 11 numbers, then a number or a letter"
        return f"{subject} is not valid: its first letter does not match its numbers. Check it and enter it again"
    return f"{subject} is not in the expected format"


def _type_words(kind: Any) -> str:
    words = {"string": "text", "boolean": "yes or no", "array": "a list", "object": "a group of fields",
             "integer": "a whole number", "number": "a number"}
    if isinstance(kind, list):
        return " or ".join(words.get(k, k) for k in kind)
    return words.get(kind, str(kind))
