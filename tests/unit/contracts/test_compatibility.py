"""Released event versions stay backward compatible; compatibility_problems finds each kind of break."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar, Literal

import pytest
from pydantic import Field, create_model

from uncops_contracts.envelope import EventPayload
from uncops_contracts.registry import EVENT_TYPES
from uncops_contracts.schemagen import compatibility_problems, json_schema

SCHEMAS = Path(__file__).resolve().parents[3] / "contracts" / "schemas"


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_current_model_is_compatible_with_its_released_schema(event_type: str) -> None:
    cls = EVENT_TYPES[event_type]
    path = SCHEMAS / cls.schema_path()
    if not path.exists():
        pytest.skip(f"{cls.schema_path()} not generated yet (test_generated_files reports it)")
    problems = compatibility_problems(json.loads(path.read_text()), json_schema(cls))
    assert not problems, (
        f"{event_type} changed incompatibly with its released schema:\n  "
        + "\n  ".join(problems)
        + f"\nKeep {cls.__name__} compatible; publish v{cls.version + 1} of the event instead."
    )


# ----------------------------------------------------------------------- synthetic old/new schema pairs


class _Demo(EventPayload):
    domain: ClassVar[str] = "demo"
    name: ClassVar[str] = "thing_happened"
    topic: ClassVar[str] = "uncops.demo.v1"
    source: ClassVar[str] = "/uncops/demo"


class Colour(StrEnum):
    RED = "red"
    GREEN = "green"


class ColourMore(StrEnum):
    RED = "red"
    GREEN = "green"
    BLUE = "blue"


class ColourLess(StrEnum):
    RED = "red"


class Base(_Demo):
    """The released version every case below is compared with."""

    thing_id: str
    label: str | None = None
    colour: Colour
    happened_on: date
    tags: list[str] = Field(default_factory=list)


class Terms(EventPayload):
    amount: Decimal | None = None
    currency: str | None = None


class WithTerms(_Demo):
    thing_id: str
    terms: Terms


class Node(EventPayload):
    """A recursive model: the comparison must terminate."""

    label: str
    children: list[Node] = Field(default_factory=list)


class Tree(_Demo):
    root: Node


def problems(old: type[EventPayload], new: type[EventPayload]) -> list[str]:
    return compatibility_problems(json_schema(old), json_schema(new))


def _variant(**changes: Any) -> type[EventPayload]:
    """Base with some field types changed (None drops the field): the next edit of the model.

    A changed field keeps its default, so each case changes one thing only.
    """
    fields: dict[str, Any] = {name: (f.annotation, f) for name, f in Base.model_fields.items()}
    for name, annotation in changes.items():
        old = Base.model_fields.get(name)
        if annotation is None:
            del fields[name]
        else:
            fields[name] = (annotation, ... if old is None or old.is_required() else old)
    return create_model("Edited", __base__=_Demo, **fields)


def test_identical_schemas_have_no_problems() -> None:
    assert problems(Base, Base) == []
    assert problems(Tree, Tree) == []


def test_field_removed_is_reported() -> None:
    assert problems(Base, _variant(label=None)) == ["label: property removed"]


def test_field_renamed_is_reported_as_removed_plus_new() -> None:
    class Renamed(_Demo):
        identifier: str
        label: str | None = None
        colour: Colour
        happened_on: date
        tags: list[str] = Field(default_factory=list)

    assert problems(Base, Renamed) == ["thing_id: property removed", "identifier: new required property"]


def test_type_changed_is_reported() -> None:
    assert problems(Base, _variant(thing_id=int)) == ["thing_id: type changed from string to integer"]
    assert problems(Base, _variant(happened_on=datetime)) == [
        "happened_on: type changed from string(date) to string(date-time)"
    ]
    assert problems(Base, _variant(tags=list[int])) == ["tags[]: type changed from string to integer"]


def test_type_change_in_a_nested_model_names_its_path() -> None:
    class TermsV2(EventPayload):
        amount: str
        currency: str | None = None

    class WithTermsV2(_Demo):
        thing_id: str
        terms: TermsV2

    assert problems(WithTerms, WithTermsV2) == [
        "terms.amount: type changed from number|string|null to string",
        "terms.amount: optional property made required",
    ]


def test_optional_made_required_is_reported() -> None:
    class Required(_Demo):
        thing_id: str
        label: str | None
        colour: Colour
        happened_on: date
        tags: list[str] = Field(default_factory=list)

    assert problems(Base, Required) == ["label: optional property made required"]


def test_new_required_field_is_reported() -> None:
    assert problems(Base, _variant(reason=str)) == ["reason: new required property"]


def test_enum_value_removed_is_reported() -> None:
    assert problems(Base, _variant(colour=ColourLess)) == [
        'colour: value(s) "green" removed from the allowed values'
    ]
    assert problems(Base, _variant(label=Literal["x"] | None)) == ['label: restricted to the values "x"']


def test_optional_field_added_is_compatible() -> None:
    class Added(Base):
        note: str | None = None

    assert problems(Base, Added) == []


def test_enum_value_added_is_compatible() -> None:
    assert problems(Base, _variant(colour=ColourMore)) == []


def test_description_and_title_changes_are_compatible() -> None:
    old, new = json_schema(Base), json_schema(Base)
    new["description"] = "Reworded."
    new["properties"]["thing_id"]["description"] = "The thing's id."
    new["properties"]["thing_id"]["title"] = "Identifier"
    assert compatibility_problems(old, new) == []


def test_recursive_models_are_compared_without_looping() -> None:
    old = json_schema(Tree)
    new = json.loads(json.dumps(old))
    new["$defs"]["Node"]["properties"]["label"] = {"type": "integer"}
    assert compatibility_problems(old, new) == [
        "root.label: type changed from string to integer",
    ]
