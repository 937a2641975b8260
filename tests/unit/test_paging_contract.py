"""One way to page, held over the three OpenAPI documents: every GET that answers a list (a JSON array, or an
object with an array ``items``) is either a keyset page (``limit`` with a maximum, ``cursor``, a body of
``items`` and ``next_cursor``, a ``Link`` header declared) or marked ``x-bounded`` with its reason and says
so in its description (services/common/paging.py)."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from fastapi import APIRouter
from pydantic import BaseModel, Field

from services.common.app import Route
from services.common.paging import MAX_LIMIT, PAGED, Page, PageDep, bounded
from services.common.runtime import ServiceDefinition
from tests.unit.test_openapi_contract import DOCUMENTED, DOCUMENTS, document_of, operations, resolved


def lists(document: dict[str, Any]) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(path, operation, its 200 JSON body's schema) of every GET answering a list."""
    found = []
    for method, path, operation in operations(document):
        content = operation["responses"].get("200", {}).get("content", {}).get("application/json")
        if method != "get" or content is None:
            continue
        body = resolved(document, content.get("schema", {}))
        items = resolved(document, body.get("properties", {}).get("items", {}))
        if body.get("type") == "array" or items.get("type") == "array":
            found.append((path, operation, body))
    return found


def paging_faults(document: dict[str, Any]) -> list[str]:
    faults = []
    for path, operation, body in lists(document):
        if "x-bounded" in operation:
            if not str(operation["x-bounded"]).strip():
                faults.append(f"{path}: x-bounded gives no reason")
            if "Bounded" not in operation.get("description", ""):
                faults.append(f"{path}: bounded, but its description does not say so")
            continue
        parameters = {p["name"]: p for p in operation.get("parameters", []) if p["in"] == "query"}
        limit = parameters.get("limit", {}).get("schema", {})
        if "maximum" not in limit:
            faults.append(f"{path}: no limit with a maximum")
        if "cursor" not in parameters:
            faults.append(f"{path}: no cursor")
        if set(body.get("required", ())) != {"items", "next_cursor"}:
            faults.append(f"{path}: the body is not {{items, next_cursor}}")
        if "Link" not in operation["responses"]["200"].get("headers", {}):
            faults.append(f"{path}: no Link header declared")
    return faults


@pytest.mark.parametrize("service", DOCUMENTED)
def test_every_list_is_paged_one_way_or_says_it_is_bounded(service: str) -> None:
    assert lists(DOCUMENTS[service])  # the rule has something to hold
    assert paging_faults(DOCUMENTS[service]) == []


@pytest.mark.parametrize("service", DOCUMENTED)
def test_one_documented_maximum_and_default(service: str) -> None:
    for path, operation, _ in lists(DOCUMENTS[service]):
        if "x-bounded" in operation:
            continue
        limit = next(p for p in operation["parameters"] if p["name"] == "limit")
        assert limit["schema"]["maximum"] == MAX_LIMIT, path
        assert str(MAX_LIMIT) in limit["description"], path


def test_deprecated_after_still_accepted_on_delegations() -> None:
    operation = DOCUMENTS["summit"]["paths"]["/summits/{summit_id}/delegations"]["get"]
    after = next(p for p in operation["parameters"] if p["name"] == "after")
    assert after.get("deprecated") is True


class Thing(BaseModel):
    name: Annotated[str, Field(examples=["a"])]


class ThingPage(Page[Thing]):
    """A page of things."""


def test_a_list_neither_paged_nor_bounded_is_found() -> None:
    router = APIRouter(route_class=Route)

    @router.get("/bare")
    async def bare() -> list[Thing]:
        """Things."""
        return []

    @router.get("/half-paged")
    async def half_paged() -> ThingPage:
        """A page body, but no limit, cursor or Link header."""
        return ThingPage(items=[], next_cursor=None)

    @router.get("/unexplained", openapi_extra=bounded("few"))
    async def unexplained() -> list[Thing]:
        """Things, with no word that they are bounded."""
        return []

    @router.get("/paged", openapi_extra=PAGED)
    async def paged(page: PageDep) -> ThingPage:
        """Things, a page at a time."""
        return page.answer(ThingPage, [], None)

    @router.get("/bounded", openapi_extra=bounded("one per colour"))
    async def few() -> list[Thing]:
        """Things. Bounded: one per colour; not paged."""
        return []

    document = document_of(ServiceDefinition(name="x", title="x", description="x", routers=[router]))
    assert paging_faults(document) == [
        "/bare: no limit with a maximum",
        "/bare: no cursor",
        "/bare: the body is not {items, next_cursor}",
        "/bare: no Link header declared",
        "/half-paged: no limit with a maximum",
        "/half-paged: no cursor",
        "/half-paged: no Link header declared",
        "/unexplained: bounded, but its description does not say so",
    ]
