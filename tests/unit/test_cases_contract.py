"""The cases API as a contract (services/cases/api): every operation answers a named, typed schema, says what
it does and who may call it, and shows an example of every body it takes; the examples are valid requests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import BaseModel, TypeAdapter

from services.cases.api.cases import CasePage
from services.cases.api.victims import NewVictim, RevealRequest
from services.cases.domain.case import Case, Entry, visible
from services.cases.domain.commands import Command
from services.cases.domain.intake import CaseIntake, open_case
from services.common.actor import Actor
from services.common.app import create_app
from services.common.settings import Settings
from uncops.cli import load_service

NOW = datetime(2026, 3, 2, 9, 15, tzinfo=UTC)
OPERATION_METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    spec: dict[str, Any] = create_app(load_service("cases"), Settings(environment="test")).openapi()
    return spec


def case_operations(document: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The operations of the cases routers (the shared /healthz, /readyz and /metrics are not theirs)."""
    found = [
        (f"{method.upper()} {path}", operation)
        for path, item in document["paths"].items()
        if path.startswith("/cases")
        for method, operation in item.items()
        if method in OPERATION_METHODS
    ]
    assert len(found) == 12
    return found


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].removeprefix("#/components/schemas/")
        schema = document["components"]["schemas"][name]
    return schema


def untyped(document: dict[str, Any], schema: dict[str, Any], where: str, seen: set[str]) -> list[str]:
    """Where ``schema``, or a schema it names, is an object a client cannot type: ``{}``, an object without
    properties, or one with only ``additionalProperties``. Inside a named schema, a property may be a free
    JSON object (an audit entry's ``before`` and ``after``) only if its description says what it holds."""
    if "$ref" in schema:
        if schema["$ref"] in seen:
            return []
        seen.add(schema["$ref"])
        return untyped(document, resolve(document, schema), schema["$ref"], seen)
    if schema.get("type") == "string" and schema.get("format") == "binary":
        return []
    if not any(key in schema for key in ("type", "anyOf", "oneOf", "allOf", "enum", "const")):
        return [where]
    if schema.get("type") == "object" and not schema.get("properties"):
        return [where]
    parts = [
        *(schema[key] for key in ("items",) if isinstance(schema.get(key), dict)),
        *(part for key in ("anyOf", "oneOf", "allOf") for part in schema.get(key, [])),
    ]
    found = [problem for part in parts for problem in untyped(document, part, where, seen)]
    for name, prop in schema.get("properties", {}).items():
        if prop.get("type") == "object" and not prop.get("properties") and prop.get("description"):
            continue
        found += untyped(document, prop, f"{where}.{name}", seen)
    return found


def test_every_success_answer_is_a_typed_schema(document: dict[str, Any]) -> None:
    found = []
    for name, operation in case_operations(document):
        successes = {code: r for code, r in operation["responses"].items() if code.startswith("2")}
        assert successes, name
        for code, response in successes.items():
            content = response.get("content", {})
            assert content, f"{name} {code} declares no body"
            for media_type, entry in content.items():
                found += untyped(document, entry.get("schema", {}), f"{name} {code} {media_type}", set())
    assert found == []


def test_the_case_page_lists_cases_and_a_focal_points_fields_are_optional(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert schemas["CasePage"]["properties"]["items"]["items"] == {"$ref": "#/components/schemas/CasePublic"}
    public = schemas["CasePublic"]
    for hidden in ("victims", "description", "attachments", "subjects"):
        assert hidden in public["properties"] and hidden not in public["required"]
    assert {"overdue", "allowed_actions", "case_id", "status", "version"} <= set(public["required"])
    row = schemas["StatisticsRow"]
    assert set(row["required"]) == {"allegations", "victims_adult", "victims_minor", "substantiated"}


def test_every_operation_says_what_it_does_and_who_may_call_it(document: dict[str, Any]) -> None:
    missing = [name for name, op in case_operations(document) if len(op.get("description", "").strip()) < 40]
    assert missing == []
    unnamed = [name for name, op in case_operations(document) if "officer" not in op["description"].lower()]
    assert unnamed == []


def test_every_request_body_shows_an_example(document: dict[str, Any]) -> None:
    bodies, missing = 0, []
    for name, operation in case_operations(document):
        for media_type, entry in operation.get("requestBody", {}).get("content", {}).items():
            bodies += 1
            schema = resolve(document, entry.get("schema", {}))
            if not (entry.get("example") or entry.get("examples") or schema.get("examples")):
                missing.append(f"{name} {media_type}")
    assert missing == [] and bodies >= 5


@pytest.mark.parametrize("model", [CaseIntake, NewVictim, RevealRequest])
def test_the_examples_are_valid_requests(model: type[BaseModel]) -> None:
    examples = model.model_json_schema()["examples"]
    assert examples
    for example in examples:
        model.model_validate(example)


def test_the_command_examples_are_valid_steps_each_a_different_one() -> None:
    command: TypeAdapter[Any] = TypeAdapter(Command)
    examples = command.json_schema()["examples"]
    actions = {command.validate_python(example).action for example in examples}
    assert len(actions) == len(examples) >= 5


def test_a_focal_point_is_not_sent_the_hidden_keys_and_an_officer_gets_every_key() -> None:
    """What the routes send (``response_model_exclude_unset``): absent, not null, for a State; unchanged
    for an officer (every key of the case, nulls included, with ``overdue`` and ``allowed_actions``)."""
    case = open_case(
        "c-1",
        "MINUSCA-2026-0001",
        CaseIntake.model_validate(CaseIntake.model_json_schema()["examples"][0]),
        NOW,
    )
    case = case.model_copy(update={"record": [Entry(kind="assistance", on=NOW.date(), note="medical")]})
    officer = CasePage(
        items=[visible(case, Actor(subject="cdo", role="conduct_officer"), NOW)], next_cursor=None
    )
    sent = officer.model_dump(mode="json", exclude_unset=True)
    assert sent["next_cursor"] is None
    assert set(sent["items"][0]) == {*Case.model_fields, "overdue", "allowed_actions"}
    assert sent["items"][0]["assigned_officer"] is None and sent["items"][0]["victims"] == []
    assert sent["items"][0]["record"][0]["by_role"] == ""
    state = visible(case, Actor(subject="fp", role="state_focal_point", member_state="XYZ"), NOW)
    shown = state.model_dump(mode="json", exclude_unset=True)
    assert set(shown) == {*Case.model_fields, "overdue", "allowed_actions"} - {
        "victims",
        "description",
        "attachments",
        "subjects",
    }
    assert shown["record"] == [] and shown["allowed_actions"] == []
