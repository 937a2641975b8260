"""OpenAPI links (services/common/links.py): every create links to the operations that use what it created,
and every link names an existing operation with exactly the path parameters it needs, each taken from the
create's request path or from a field its answer has."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient
from pydantic import BaseModel

from services.common.app import Route, create_app
from services.common.links import creates
from services.common.runtime import ServiceDefinition
from services.common.settings import Settings
from uncops.cli import load_service

SETTINGS = Settings(environment="test")
SERVICES = ("cases", "pledges", "summit")
METHODS = {"get", "put", "post", "patch", "delete"}
PARAMETER = re.compile(r"\{([^}]+)\}")


def document_of(definition: ServiceDefinition) -> dict[str, Any]:
    found: dict[str, Any] = TestClient(create_app(definition, SETTINGS)).get("/openapi.json").json()
    return found


DOCUMENTS = {name: document_of(load_service(name)) for name in SERVICES}


def resolved(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def answers(document: dict[str, Any], schema: dict[str, Any], pointer: str) -> bool:
    """Whether a body of ``schema`` has a value at the JSON pointer (``/invited/0/id``)."""
    for step in pointer.strip("/").split("/"):
        schema = resolved(document, schema)
        if step.isdigit() and schema.get("type") == "array":
            schema = schema["items"]
        elif step in schema.get("properties", {}):
            schema = schema["properties"][step]
        else:
            return False
    return True


def link_faults(document: dict[str, Any]) -> list[str]:
    by_id = {
        operation["operationId"]: path
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    }
    faults = []
    for path in creates(document):
        created = document["paths"][path]["post"]["responses"]["201"]
        links = created.get("links", {})
        if not links:
            faults.append(f"POST {path} has no links")
        body = created["content"]["application/json"]["schema"]
        for name, link in links.items():
            target = by_id.get(link["operationId"])
            if target is None:
                faults.append(f"POST {path} → {name}: no operation {link['operationId']}")
                continue
            if set(link["parameters"]) != set(PARAMETER.findall(target)):
                faults.append(f"POST {path} → {target}: parameters {sorted(link['parameters'])}")
            for parameter, expression in link["parameters"].items():
                if expression.startswith("$request.path."):
                    ok = expression.removeprefix("$request.path.") in PARAMETER.findall(path)
                else:
                    ok = expression.startswith("$response.body#/") and answers(
                        document, body, expression.removeprefix("$response.body#")
                    )
                if not ok:
                    faults.append(f"POST {path} → {target}: {parameter} = {expression}")
    return faults


@pytest.mark.parametrize("service", SERVICES)
def test_every_create_links_to_existing_operations_with_their_parameters(service: str) -> None:
    assert creates(DOCUMENTS[service])
    assert link_faults(DOCUMENTS[service]) == []


def test_the_core_operations_are_reached_from_their_creates() -> None:
    def linked(service: str, path: str) -> set[str]:
        return set(DOCUMENTS[service]["paths"][path]["post"]["responses"]["201"]["links"])

    assert {"getCase", "takeAction", "addVictim", "addAttachment"} <= linked("cases", "/cases")
    assert {"getPledge", "takePledgeAction"} <= linked("pledges", "/pledges")
    assert {"getRoom", "patchRoom", "deleteRoom"} <= linked("summit", "/summits/{summit_id}/rooms")
    assert {"register", "takeDelegationAction"} <= linked("summit", "/summits/{summit_id}/invitations")
    assert DOCUMENTS["summit"]["paths"]["/summits/{summit_id}/rooms"]["post"]["responses"]["201"]["links"][
        "getRoom"
    ]["parameters"] == {"summit_id": "$request.path.summit_id", "room_id": "$response.body#/id"}


class Thing(BaseModel):
    id: str


class Batch(BaseModel):
    made: list[Thing]
    thing_ids: list[str]


def test_links_follow_the_item_read_of_the_same_schema() -> None:
    router = APIRouter(prefix="/things", route_class=Route)

    @router.post("", status_code=201)
    async def make_thing() -> Thing:
        return Thing(id="1")

    @router.post("/batch", status_code=201)
    async def make_things() -> Batch:
        return Batch(made=[], thing_ids=[])

    @router.post("/{thing_id}/copies", status_code=201)
    async def copy_thing(thing_id: str) -> Thing:
        return Thing(id=thing_id)

    @router.get("/{thing_id}")
    async def get_thing(thing_id: str) -> Thing:
        return Thing(id=thing_id)

    @router.delete("/{thing_id}/parts/{part_id}", status_code=204)
    async def delete_part(thing_id: str, part_id: str) -> None:
        return None

    document = document_of(
        ServiceDefinition(name="things", title="Things", description="Things", routers=(router,))
    )
    paths = document["paths"]

    def links(path: str) -> dict[str, Any]:
        found: dict[str, Any] = paths[path]["post"]["responses"]["201"]["links"]
        return {name: link["parameters"] for name, link in found.items()}

    # deletePart needs a part id no create answers: not linked.
    made = {"thing_id": "$response.body#/id"}
    assert links("/things") == {"getThing": made, "copyThing": made}
    assert links("/things/{thing_id}/copies") == {"getThing": made, "copyThing": made}
    in_batch = {"thing_id": "$response.body#/made/0/id"}
    assert links("/things/batch") == {"getThing": in_batch, "copyThing": in_batch}
    assert link_faults(document) == []
