"""Real error bodies of each running service are RFC 9457 problems (application/problem+json) that validate
against the Problem schema of the service's own OpenAPI document, which declares them on the operation."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from jsonschema import Draft202012Validator

from deploy.stack import LocalStack
from services.common.auth import Role
from services.common.settings import Settings
from tests.conftest import bearer, url
from tests.e2e.test_case_lifecycle import intake
from tests.e2e.test_pledge_flow import china_financial_pledge

MEDIA_TYPE = "application/problem+json"


class Problems:
    """Checks each error answer of one service against its OpenAPI document."""

    def __init__(self, service: str, spec: dict[str, Any]) -> None:
        self.service = service
        self.spec = spec
        self.validator = Draft202012Validator(
            {"$ref": "#/components/schemas/Problem", "components": spec["components"]}
        )
        self.seen: set[int] = set()

    def check(self, response: httpx.Response, status: int, operation: str) -> dict[str, Any]:
        assert response.status_code == status, (self.service, operation, response.text)
        assert response.headers["content-type"] == MEDIA_TYPE, (self.service, operation)
        body: dict[str, Any] = response.json()
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in self.validator.iter_errors(body)]
        assert errors == [], (self.service, operation, body)
        assert body["status"] == status and body["instance"] == response.request.url.path
        assert body["type"].startswith("https://uncops.un.org/problems/")
        # The correlation id to quote is the request's trace id, as in the X-Correlation-Id header.
        assert body["correlation_id"] == response.headers["x-correlation-id"]
        method, path = operation.split(" ", 1)
        declared = self.spec["paths"][path][method.lower()]["responses"]
        assert MEDIA_TYPE in declared[str(status)]["content"], (self.service, operation, status)
        self.seen.add(status)
        return body


async def problems_of(http: httpx.AsyncClient, service: str) -> Problems:
    return Problems(service, (await http.get(url(service, "/openapi.json"))).json())


async def test_pledge_errors_are_problems(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    problems = await problems_of(http, "pledges")
    china = bearer(settings, Role.STATE_FOCAL_POINT, "CHN")

    unauthenticated = problems.check(await http.get(url("pledges", "/pledges")), 401, "GET /pledges")
    assert "bearer" in unauthenticated["detail"]
    partner = bearer(settings, Role.PARTNER)
    problems.check(await http.get(url("pledges", "/pledges"), headers=partner), 403, "GET /pledges")
    missing = await http.get(url("pledges", f"/pledges/{uuid.uuid4()}"), headers=china)
    problems.check(missing, 404, "GET /pledges/{pledge_id}")
    invalid = problems.check(
        await http.post(url("pledges", "/pledges"), headers=china, json={"member_state": "CHN"}),
        422,
        "POST /pledges",
    )
    assert {"field": "kind", "reason": "Field required"} in invalid["errors"]

    created = await http.post(url("pledges", "/pledges"), headers=china, json=china_financial_pledge())
    assert created.status_code == 201, created.text
    actions = url("pledges", f"/pledges/{created.json()['id']}/actions")
    refused = problems.check(
        await http.post(actions, headers=china, json={"action": "accept"}),
        409,
        "POST /pledges/{pledge_id}/actions",
    )
    assert (refused["state"], refused["allowed_actions"]) == ("submitted", ["edit", "withdraw"])
    stale = await http.post(
        actions, headers={**china, "If-Match": '"9"'}, json={"action": "withdraw", "reason": "a mistake"}
    )
    problems.check(stale, 412, "POST /pledges/{pledge_id}/actions")
    assert problems.seen == {401, 403, 404, 409, 412, 422}


async def test_case_errors_are_problems(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    problems = await problems_of(http, "cases")
    officer = bearer(settings, Role.CONDUCT_OFFICER)

    unauthenticated = await http.get(url("cases", "/cases"), headers={"Authorization": "Bearer not.a.token"})
    problems.check(unauthenticated, 401, "GET /cases")
    assert unauthenticated.headers["www-authenticate"] == "Bearer"
    planner = bearer(settings, Role.PLANNER)
    forbidden = problems.check(await http.get(url("cases", "/cases"), headers=planner), 403, "GET /cases")
    assert "conduct_officer" in forbidden["detail"]
    missing = await http.get(url("cases", f"/cases/{uuid.uuid4()}"), headers=officer)
    problems.check(missing, 404, "GET /cases/{case_id}")
    invalid = problems.check(
        await http.post(url("cases", "/cases"), headers=officer, json=intake(victims="many")),
        422,
        "POST /cases",
    )
    assert [error["field"] for error in invalid["errors"]] == ["victims"]

    opened = await http.post(url("cases", "/cases"), headers=officer, json=intake())
    assert opened.status_code == 201, opened.text
    refused = await http.post(
        url("cases", f"/cases/{opened.json()['case_id']}/actions"),
        headers=officer,
        json={"action": "record_finding", "finding": "substantiated"},
    )
    body = problems.check(refused, 409, "POST /cases/{case_id}/actions")
    assert body["state"] == "received" and "record_finding" not in body["allowed_actions"]
    assert problems.seen == {401, 403, 404, 409, 422}


async def test_summit_errors_are_problems(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    problems = await problems_of(http, "summit")
    planner = bearer(settings, Role.PLANNER)

    problems.check(await http.get(url("summit", "/summits")), 401, "GET /summits")
    focal_point = bearer(settings, Role.STATE_FOCAL_POINT, "GHA")
    summit = {"name": "Problem summit", "starts_on": "2031-06-24", "ends_on": "2031-06-25"}
    summit_id = f"UNCOPS-E{uuid.uuid4().hex[:6]}"
    forbidden = await http.post(
        url("summit", "/summits"), headers=focal_point, json={"id": summit_id, **summit}
    )
    problems.check(forbidden, 403, "POST /summits")
    problems.check(
        await http.get(url("summit", "/summits/NO-SUCH-SUMMIT"), headers=planner),
        404,
        "GET /summits/{summit_id}",
    )
    backwards = {"id": summit_id, **summit, "ends_on": "2031-06-23"}
    invalid = problems.check(
        await http.post(url("summit", "/summits"), headers=planner, json=backwards), 422, "POST /summits"
    )
    assert [error["field"] for error in invalid["errors"]] == ["ends_on"]

    created = await http.post(url("summit", "/summits"), headers=planner, json={"id": summit_id, **summit})
    assert created.status_code == 201, created.text
    milestones = (await http.get(url("summit", f"/summits/{summit_id}/milestones"), headers=planner)).json()[
        "items"
    ]
    complete = url("summit", f"/summits/{summit_id}/milestones/{milestones[0]['id']}/complete")
    assert (await http.post(complete, headers=planner, json={})).status_code == 200
    again = problems.check(
        await http.post(complete, headers=planner, json={}),
        409,
        "POST /summits/{summit_id}/milestones/{milestone_id}/complete",
    )
    assert (again["state"], again["allowed_actions"]) == ("completed", [])
    unknown_route = await http.get(url("summit", "/no/such/route"))
    assert unknown_route.status_code == 404 and unknown_route.headers["content-type"] == MEDIA_TYPE
    assert problems.seen == {401, 403, 404, 409, 422}
