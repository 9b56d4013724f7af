"""Task forms: JSON Schema files, validated with ``jsonschema``, errors reported per field."""
from __future__ import annotations

from datetime import date
from typing import Any, Mapping

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import SchemaError, ValidationError

from .errors import DiagramError, FieldError, ValidationFailed

FORMAT_CHECKER = FormatChecker()


@FORMAT_CHECKER.checks("date", raises=ValueError)
def _is_iso_date(value: object) -> bool:
    # jsonschema's own date check needs an optional package; ours is strict ISO 'YYYY-MM-DD'.
    if not isinstance(value, str):
        return True
    if len(value) != 10:
        raise ValueError("not YYYY-MM-DD")
    date.fromisoformat(value)
    return True


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

    def _describe(self, error: ValidationError) -> FieldError:
        path = [str(p) for p in error.absolute_path]
        schema = error.schema if isinstance(error.schema, dict) else {}
        if error.validator == "required":
            missing = error.message.split("'")[1] if "'" in error.message else ""
            path.append(missing)
            label = self._label(path)
            return FieldError(".".join(path), f"{label} is required")
        label = self._label(path)
        field = ".".join(path)
        if error.validator == "enum":
            labels = schema.get("x-enumLabels") or {}
            choices = ", ".join(labels.get(v, str(v)) for v in error.validator_value)
            return FieldError(field, f"{label}: choose one of {choices}")
        if error.validator == "format":
            return FieldError(field, f"{label} must be a real date in the form YYYY-MM-DD")
        if error.validator == "type":
            return FieldError(field, f"{label} must be {_type_words(error.validator_value)}")
        if error.validator == "minLength":
            return FieldError(field, f"{label} must not be empty")
        if error.validator == "maxLength":
            return FieldError(field, f"{label} must be at most {error.validator_value} characters")
        if error.validator == "minItems":
            return FieldError(field, f"{label}: give at least {error.validator_value}")
        if error.validator == "additionalProperties":
            extra = sorted(set(error.instance) - set(schema.get("properties", {})))
            target = ".".join(path + [extra[0]]) if extra else field
            return FieldError(target, f"{', '.join(extra) or 'field'} is not a field of this form")
        if error.validator == "uniqueItems":
            return FieldError(field, f"{label} lists the same choice twice")
        if error.validator == "pattern":
            return FieldError(field, f"{label} is not in the expected format")
        return FieldError(field, f"{label}: {error.message}")

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


def _type_words(kind: Any) -> str:
    words = {"string": "text", "boolean": "yes or no", "array": "a list", "object": "a group of fields",
             "integer": "a whole number", "number": "a number"}
    if isinstance(kind, list):
        return " or ".join(words.get(k, k) for k in kind)
    return words.get(kind, str(kind))
