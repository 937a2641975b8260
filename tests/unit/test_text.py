"""Text PostgreSQL can store (services/common/text.py): where a JSON document holds a NUL character."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from services.common.app import Route
from services.common.settings import PARTNERS, SERVICES
from services.common.text import NUL_REASON, NoNul, nul_locations
from services.pledges.domain.submission import PledgeSubmission
from uncops.cli import load_service


def test_every_string_and_key_holding_a_nul_is_found() -> None:
    document = {
        "title": "fine",
        "text": "a \x00 here",
        "terms": {"unit": "x\x00", "ok": 1},
        "list": ["a", "b\x00", {"deep\x00": True}],
        "null": None,
    }
    found = [("text",), ("terms", "unit"), ("list", 1), ("list", 2, "deep\x00")]
    assert list(nul_locations(document)) == found
    assert list(nul_locations("\x00")) == [()]
    assert list(nul_locations({"a": ["b", 1, 2.5, None, True]})) == []


def test_no_nul_refuses_a_field_with_one() -> None:
    from typing import Annotated

    class Model(BaseModel):
        name: Annotated[str, NoNul]

    assert Model(name="Ghana").name == "Ghana"
    with pytest.raises(ValidationError, match="NUL character"):
        Model(name="Gha\x00na")


@pytest.mark.parametrize(
    ("field", "body"),
    [
        ("title", {"title": "Women \x00 officers"}),
        ("text", {"title": "Women officers", "text": "\x00"}),
        ("terms.indicator", {"title": "Women officers", "terms": {"indicator": "share\x00"}}),
        ("terms.unit", {"title": "Women officers", "terms": {"unit": "%\x00"}}),
        ("terms.resources", {"title": "Women officers", "terms": {"resources": "\x00"}}),
    ],
)
def test_a_pledge_refuses_nul_in_each_text_field(field: str, body: dict[str, object]) -> None:
    # As an import's rows are validated: they do not pass through the routes' own check.
    with pytest.raises(ValidationError) as refused:
        PledgeSubmission.model_validate({"member_state": "GHA", "kind": "other", **body})
    [error] = refused.value.errors()
    assert ".".join(str(part) for part in error["loc"]) == field
    assert NUL_REASON in error["msg"]


def _routes(routes: list[Any]) -> list[Any]:
    """Routes, those of included routers too."""
    found = []
    for route in routes:
        included = getattr(route, "original_router", None)
        found += _routes(included.routes) if included is not None else [route]
    return found


def test_every_route_of_every_service_checks_for_nul() -> None:
    for name in (*SERVICES, PARTNERS):
        routes = _routes([route for router in load_service(name).routers for route in router.routes])
        assert routes, name
        assert all(isinstance(route, Route) for route in routes), [
            getattr(route, "path", route) for route in routes if not isinstance(route, Route)
        ]
