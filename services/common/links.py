"""OpenAPI links from each create to the operations that use what it created, made from the document alone.

A create is a ``POST`` answering 201 with a JSON body. What it created is read at an item path
``.../{id}`` whose ``GET`` answers the same schema (``POST /summits/{summit_id}/rooms`` answers a
``RoomPublic``, read at ``/summits/{summit_id}/rooms/{room_id}``), or the items of an array of that schema
(``POST .../invitations`` answers ``invited: [DelegationPublic]``), or ids in a field named after the
parameter (``pledge_ids``). Every operation at or below that item path whose other path parameters the
create's own request has gets a link: the create's path parameters (``$request.path.summit_id``) and the
new id from the answer (``$response.body#/id``, ``#/invited/0/id``, ``#/pledge_ids/0``). A client, or a
stateful fuzzer such as schemathesis, follows them from a create to the reads, edits and steps of what it
just made instead of guessing ids that answer 404.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI

_PARAMETER = re.compile(r"\{([^}]+)\}")
_METHODS = frozenset({"get", "put", "post", "patch", "delete"})
_REF = "#/components/schemas/"


def _json_schema(response: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = response.get("content", {}).get("application/json", {}).get("schema", {})
    return schema


def _resolved(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].removeprefix(_REF)]
    return schema


def _pointer(
    document: dict[str, Any], created: dict[str, Any], item: dict[str, Any], name: str
) -> str | None:
    """Where, in a create's answer ``created``, the id ``name`` of an ``item`` (the item read's schema) is."""

    def id_in(schema: dict[str, Any]) -> str | None:
        fields = _resolved(document, schema).get("properties", {})
        return name if name in fields else "id" if "id" in fields else None

    if item and created == item:
        found = id_in(item)
        return None if found is None else f"/{found}"
    properties: dict[str, Any] = _resolved(document, created).get("properties", {})
    for field, schema in properties.items():
        if schema.get("type") != "array":
            continue
        if item and schema.get("items") == item and (found := id_in(item)):
            return f"/{field}/0/{found}"
        if field == f"{name}s" and schema.get("items", {}).get("type") in ("string", "integer"):
            return f"/{field}/0"
    return None


def links_of(document: dict[str, Any], path: str) -> dict[str, dict[str, Any]]:
    """The links of the create ``POST path``, named by their target's operationId."""
    paths: dict[str, Any] = document["paths"]
    created = _json_schema(paths[path]["post"]["responses"]["201"])
    given = _PARAMETER.findall(path)
    links: dict[str, dict[str, Any]] = {}
    for item_path, item in paths.items():
        *known, new = _PARAMETER.findall(item_path) or [""]
        if not item_path.endswith("}") or "get" not in item or not set(known) <= set(given):
            continue
        read = _json_schema(item["get"]["responses"].get("200", {}))
        pointer = _pointer(document, created, read, new)
        if pointer is None:
            continue
        parameters = {name: f"$request.path.{name}" for name in known} | {new: f"$response.body#{pointer}"}
        for target, operations in paths.items():
            if target != item_path and not target.startswith(item_path + "/"):
                continue
            if _PARAMETER.findall(target) != [*known, new]:
                continue  # it needs an id the create does not answer
            for method, operation in operations.items():
                if method in _METHODS:
                    links[operation["operationId"]] = {
                        "operationId": operation["operationId"],
                        "parameters": parameters,
                        "description": f"{method.upper()} {target} on what this request created",
                    }
    return links


def creates(document: dict[str, Any]) -> list[str]:
    """The paths whose ``POST`` creates: it answers 201 with a JSON body."""
    return [
        path
        for path, item in document.get("paths", {}).items()
        if _json_schema(item.get("post", {}).get("responses", {}).get("201", {}))
    ]


def declare(document: dict[str, Any]) -> None:
    """Adds to every create's 201 answer its links (see the module's description)."""
    for path in creates(document):
        links = links_of(document, path)
        if links:
            document["paths"][path]["post"]["responses"]["201"].setdefault("links", {}).update(links)


def install(app: FastAPI) -> None:
    """Adds the links to ``app``'s OpenAPI document when it is first made."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        first = app.openapi_schema is None
        document = generate()
        if first:
            declare(document)
        return document

    app.openapi = openapi  # type: ignore[method-assign]
