"""A step's form, laid out from the step's JSON Schema in the API's OpenAPI document (the contract), and the
step's body read back from the filled form. The API still validates everything: this only chooses the right
control for each field and turns its text into the JSON type the schema names."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any, Literal

from services.console.domain.words import in_words

Kind = Literal["text", "textarea", "integer", "number", "date", "datetime", "checkbox", "select", "lines"]
# A free text that may be longer than this is a paragraph (a textarea); shorter, or unbounded, a line.
_PARAGRAPH = 1000


@dataclass(frozen=True)
class FormField:
    name: str
    label: str  # English words, the catalogue's message id
    kind: Kind
    required: bool
    choices: tuple[str, ...] = ()
    # Shown instead of the value said in words (proper names: a mission, a State); none: the value in words.
    choice_names: tuple[tuple[str, str], ...] = ()
    hint: str = ""  # the schema's description, in English
    default: Any = None
    max_length: int | None = None
    minimum: float | None = None
    maximum: float | None = None


@dataclass(frozen=True)
class StepForm:
    action: str
    fields: tuple[FormField, ...]

    @property
    def needs_input(self) -> bool:
        return bool(self.fields)


@dataclass
class FilledForm:
    body: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)  # field name -> reason, in English


def _resolved(schema: Mapping[str, Any], components: Mapping[str, Any]) -> Mapping[str, Any]:
    while "$ref" in schema:
        schema = components[str(schema["$ref"]).rsplit("/", 1)[-1]]
    return schema


def _without_null(schema: Mapping[str, Any], components: Mapping[str, Any]) -> tuple[Mapping[str, Any], bool]:
    """The schema a nullable ``anyOf: [X, null]`` allows besides null, and whether null was allowed."""
    options = schema.get("anyOf")
    if options:
        kept = [o for o in options if o.get("type") != "null"]
        if len(kept) == 1:
            return _resolved(kept[0], components), len(kept) < len(options)
    return _resolved(schema, components), False


def form_field(
    name: str, schema: Mapping[str, Any], required: bool, components: Mapping[str, Any]
) -> FormField:
    inner, nullable = _without_null(schema, components)
    hint = str(schema.get("description") or inner.get("description") or "")
    common: dict[str, Any] = {
        "name": name,
        "label": in_words(name),
        "required": required and not nullable,
        "hint": hint,
        "default": schema.get("default", inner.get("default")),
    }
    kind: Kind
    if "enum" in inner:
        return FormField(kind="select", choices=tuple(str(v) for v in inner["enum"]), **common)
    match inner.get("type"), inner.get("format"):
        case "boolean", _:
            kind = "checkbox"
        case "integer", _:
            kind = "integer"
        case "number", _:
            kind = "number"
        case "string", "date":
            kind = "date"
        case "string", "date-time":
            kind = "datetime"
        case "array", _:
            kind = "lines"
        case _:
            limit = inner.get("maxLength")
            kind = "textarea" if limit is not None and limit > _PARAGRAPH else "text"
            common["max_length"] = limit
    return FormField(kind=kind, minimum=inner.get("minimum"), maximum=inner.get("maximum"), **common)


def step_form(action: str, schema: Mapping[str, Any], components: Mapping[str, Any]) -> StepForm:
    """The form of one step from its schema (an object whose ``action`` is a constant)."""
    schema = _resolved(schema, components)
    required = set(schema.get("required", ()))
    fields = tuple(
        form_field(name, prop, name in required, components)
        for name, prop in schema.get("properties", {}).items()
        if name != "action"
    )
    return StepForm(action, fields)


def step_forms(union: Mapping[str, Any], components: Mapping[str, Any]) -> dict[str, StepForm]:
    """Every step of a ``oneOf`` of steps, by its action name."""
    forms = {}
    for option in union.get("oneOf", ()):
        schema = _resolved(option, components)
        action = schema.get("properties", {}).get("action", {}).get("const")
        if action:
            forms[str(action)] = step_form(str(action), schema, components)
    return forms


def with_choices(form: StepForm, name: str, names: Mapping[str, str]) -> StepForm:
    """The form with field ``name`` chosen from ``names`` (value -> what a person reads), e.g. the
    missions of the reference data for a field the schema only knows as a pattern."""
    fields = tuple(
        replace(spec, kind="select", choices=tuple(names), choice_names=tuple(names.items()))
        if spec.name == name
        else spec
        for spec in form.fields
    )
    return StepForm(form.action, fields)


def read_form(form: StepForm, values: Mapping[str, str]) -> FilledForm:
    """The step's body from the form's text values (an empty optional field is left out, so the API applies
    its default); what cannot be read as its type is an error beside the field."""
    filled = FilledForm(body={"action": form.action})
    for spec in form.fields:
        raw = values.get(spec.name, "")
        if spec.kind == "checkbox":
            filled.body[spec.name] = raw in ("on", "true", "1")
            continue
        text = raw.strip()
        if not text:
            if spec.required:
                filled.errors[spec.name] = "Enter a value"
            continue
        try:
            filled.body[spec.name] = _typed(spec, text)
        except ValueError as exc:
            filled.errors[spec.name] = str(exc)
    return filled


def _typed(spec: FormField, text: str) -> Any:
    if spec.kind == "integer":
        try:
            return int(text)
        except ValueError:
            raise ValueError("Enter a whole number") from None
    if spec.kind == "number":
        try:
            return float(text)
        except ValueError:
            raise ValueError("Enter a number") from None
    if spec.kind == "date":
        try:
            return date.fromisoformat(text).isoformat()
        except ValueError:
            raise ValueError("Enter a date as YYYY-MM-DD") from None
    if spec.kind == "datetime":
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError("Enter a date and time") from None
        # A browser's date-and-time field has no zone: the console's times are UTC, and say so.
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()
    if spec.kind == "select" and text not in spec.choices:
        raise ValueError("Choose one of the options")
    if spec.kind == "lines":
        return [line.strip() for line in text.splitlines() if line.strip()]
    return text
