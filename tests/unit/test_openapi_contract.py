"""The OpenAPI documents as a contract clients are generated from: readable unique operationIds, the real
media type of every export, one tag per operation, a description on every operation, an example on every
request body and a named schema for every success body (pledges and summit; cases has its own tests)."""

from __future__ import annotations

import re
from collections import Counter
from typing import Annotated, Any

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator
from pydantic import BaseModel, Field

from services.common.app import Route, create_app
from services.common.runtime import ServiceDefinition
from services.common.settings import PARTNERS, SERVICES, Settings
from uncops.cli import load_service

SETTINGS = Settings(environment="test")
METHODS = {"get", "post", "put", "patch", "delete"}
CAMEL_CASE = re.compile(r"^[a-z][A-Za-z0-9]*$")
EXPORTS = {".ics": "text/calendar", ".html": "text/html", ".csv": "text/csv", ".json": "application/json"}
FORMAT_CHECKER = Draft202012Validator.FORMAT_CHECKER
# The APIs a client calls: the three services and the partner gateway.
APIS = (*SERVICES, PARTNERS)
DOCUMENTED = ("cases", "pledges", "summit", PARTNERS)


def document_of(definition: ServiceDefinition) -> dict[str, Any]:
    found: dict[str, Any] = TestClient(create_app(definition, SETTINGS)).get("/openapi.json").json()
    return found


DOCUMENTS = {name: document_of(load_service(name)) for name in APIS}


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def resolved(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def operation_id_faults(document: dict[str, Any]) -> list[str]:
    faults = []
    ids = Counter(operation["operationId"] for _, _, operation in operations(document))
    faults += [f"{name} is used {count} times" for name, count in ids.items() if count > 1]
    for method, path, operation in operations(document):
        name = operation["operationId"]
        words = [w.lower() for w in re.split(r"[/{}_.-]+", path) if w]
        if not CAMEL_CASE.match(name) or "_" in name:
            faults.append(f"{method} {path}: {name}")
        elif len(words) > 1 and "".join(words) in name.lower():
            faults.append(f"{method} {path}: {name} holds the path")
    return faults


@pytest.mark.parametrize("service", APIS)
def test_operation_ids_are_unique_camel_case_and_free_of_the_path(service: str) -> None:
    assert operation_id_faults(DOCUMENTS[service]) == []


def test_two_operations_with_one_function_name_are_refused() -> None:
    first = APIRouter(prefix="/a", route_class=Route)
    second = APIRouter(prefix="/b", route_class=Route)

    @first.get("/things")
    async def list_things() -> list[str]:
        return []

    @second.get("/things", name="list_things")
    async def list_other_things() -> list[str]:
        return []

    with pytest.warns(UserWarning, match="Duplicate Operation ID listThings"):
        document = document_of(
            ServiceDefinition(name="x", title="x", description="x", routers=[first, second])
        )
    assert {op["operationId"] for _, _, op in operations(document)} >= {"listThings", "healthz"}
    assert operation_id_faults(document) == ["listThings is used 2 times"]


@pytest.mark.parametrize("service", APIS)
def test_every_export_declares_its_media_type(service: str) -> None:
    document = DOCUMENTS[service]
    exports = [(path, op) for method, path, op in operations(document) if path.endswith(tuple(EXPORTS))]
    wrong = [
        (path, list(op["responses"]["200"].get("content", {})))
        for path, op in exports
        if list(op["responses"]["200"].get("content", {})) != [EXPORTS["." + path.rsplit(".", 1)[1]]]
    ]
    assert wrong == []
    assert service in ("cases", PARTNERS) or exports  # pledges and summit do export


@pytest.mark.parametrize("service", DOCUMENTED)
def test_one_described_tag_per_operation(service: str) -> None:
    document = DOCUMENTS[service]
    described = {tag["name"] for tag in document["tags"] if tag.get("description")}
    faults = [
        (method, path, operation.get("tags"))
        for method, path, operation in operations(document)
        if len(operation.get("tags", [])) != 1 or operation["tags"][0] not in described
    ]
    assert faults == []
    assert len(described) >= 4


def body_example_faults(document: dict[str, Any]) -> list[str]:
    faults = []
    for method, path, operation in operations(document):
        for media_type, content in operation.get("requestBody", {}).get("content", {}).items():
            if "example" in content or "examples" in content:
                continue
            schema = resolved(document, content.get("schema", {}))
            if {"example", "examples"} & schema.keys():
                continue  # a union's examples, one per kind of body (a case's steps, say)
            branches = schema.get("oneOf") or schema.get("anyOf") or [schema]
            if not all({"example", "examples"} & resolved(document, b).keys() for b in branches):
                faults.append(f"{method} {path} ({media_type})")
    return faults


def body_examples(document: dict[str, Any]) -> list[tuple[str, dict[str, Any], Any]]:
    """(where, schema, example) for every example of a request body, at the media type or in its schema."""
    found = []
    for method, path, operation in operations(document):
        for media_type, content in operation.get("requestBody", {}).get("content", {}).items():
            schema = content.get("schema", {})
            where = f"{method} {path} ({media_type})"
            examples = [content["example"]] if "example" in content else []
            examples += [e["value"] for e in content.get("examples", {}).values()]
            found += [(where, schema, example) for example in examples]
            top = resolved(document, schema)
            found += [(where, schema, example) for example in top.get("examples", []) if "oneOf" in top]
            for branch in top.get("oneOf") or top.get("anyOf") or [schema]:
                found += [(where, branch, e) for e in resolved(document, branch).get("examples", [])]
    return found


@pytest.mark.parametrize("service", DOCUMENTED)
def test_every_example_is_a_valid_body(service: str) -> None:
    document = DOCUMENTS[service]
    examples = body_examples(document)
    invalid = [
        (where, error.message)
        for where, schema, example in examples
        if "json" in where
        for error in Draft202012Validator(
            {**schema, "components": document["components"]}, format_checker=FORMAT_CHECKER
        ).iter_errors(example)
    ]
    assert invalid == []
    assert len(examples) >= 5


@pytest.mark.parametrize("service", DOCUMENTED)
def test_every_operation_is_described_and_every_body_has_an_example(service: str) -> None:
    document = DOCUMENTS[service]
    undescribed = [
        f"{method} {path}"
        for method, path, operation in operations(document)
        if not operation.get("description", "").strip()
    ]
    assert undescribed == []
    assert body_example_faults(document) == []


def untyped(document: dict[str, Any], schema: dict[str, Any] | None) -> bool:
    if schema is None:
        return True
    schema = resolved(document, schema)
    if schema.get("type") == "array":
        return untyped(document, schema.get("items"))
    if "oneOf" in schema or "anyOf" in schema:
        return any(untyped(document, b) for b in schema.get("oneOf") or schema["anyOf"])
    return schema.get("type") not in (None, "object") or not schema.get("properties")


def untyped_success_bodies(document: dict[str, Any]) -> list[str]:
    """Success responses whose JSON body has no named schema, or that declare no body at all (but 204)."""
    return [
        f"{method} {path} {code}"
        for method, path, operation in operations(document)
        for code, response in operation["responses"].items()
        if code.startswith("2")
        for media_type, content in (response.get("content") or {"none": {}}).items()
        if (media_type == "none" and code != "204")
        or (media_type == "application/json" and untyped(document, content.get("schema")))
    ]


@pytest.mark.parametrize("service", DOCUMENTED)
def test_every_success_body_has_a_named_schema(service: str) -> None:
    assert untyped_success_bodies(DOCUMENTS[service]) == []


class Named(BaseModel):
    value: Annotated[int, Field(examples=[1])]


def test_untyped_bodies_are_found() -> None:
    router = APIRouter(route_class=Route)

    @router.get("/loose")
    async def loose() -> dict[str, Any]:
        return {}

    @router.get("/loose-list")
    async def loose_list() -> list[dict[str, int]]:
        return []

    @router.get("/named")
    async def named() -> list[Named]:
        return []

    document = document_of(ServiceDefinition(name="x", title="x", description="x", routers=[router]))
    assert untyped_success_bodies(document) == ["get /loose 200", "get /loose-list 200"]


def discriminated_unions(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        found = [node] if "discriminator" in node and "oneOf" in node else []
        return found + [union for value in node.values() for union in discriminated_unions(value)]
    if isinstance(node, list):
        return [union for value in node for union in discriminated_unions(value)]
    return []


# The partner gateway takes no step of a workflow: it has no union of steps.
@pytest.mark.parametrize("service", SERVICES)
def test_every_union_member_requires_its_discriminator(service: str) -> None:
    """A step's ``action`` is required in each member of the union (a generated client cannot leave it out),
    as the server requires it."""
    document = DOCUMENTS[service]
    unions = discriminated_unions(document["paths"])
    assert unions, "each service takes at least one union of steps"
    for union in unions:
        name = union["discriminator"]["propertyName"]
        for member in union["oneOf"]:
            assert name in resolved(document, member).get("required", []), (service, member)
