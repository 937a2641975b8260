"""A NUL character (U+0000), which PostgreSQL cannot store, is refused with 422 naming the field wherever a
client can send one: a JSON body, the query, the path, an import's rows. It used to reach the database
and fail the request with a 500."""

from __future__ import annotations

import httpx

from deploy.stack import LocalStack
from services.common.auth import Role
from services.common.settings import Settings
from services.common.text import NUL_REASON
from tests.conftest import bearer, url
from tests.e2e.test_case_lifecycle import intake
from tests.e2e.test_pledge_lifecycle import submit


def _fields(response: httpx.Response) -> list[str]:
    assert response.status_code == 422, response.text
    detail = response.json()["errors"]
    assert all(error["reason"] == NUL_REASON for error in detail), detail
    return [error["field"] for error in detail]


async def test_a_nul_in_a_pledge_is_refused_field_by_field(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    ghana = bearer(settings, Role.STATE_FOCAL_POINT, "GHA")
    body = {
        "member_state": "GHA",
        "kind": "other",
        "title": "Women \u0000 officers",
        "terms": {"indicator": "share\u0000", "unit": "percent"},
        "co_sponsors": [],
    }
    response = await http.post(url("pledges", "/pledges"), headers=ghana, json=body)
    assert _fields(response) == ["title", "terms.indicator"]

    # The service goes on: the same pledge without the NUL is stored.
    stored = await submit(http, ghana, member_state="GHA", kind="other", title="Women officers")
    path = await http.get(url("pledges", f"/pledges/{stored['id']}%00"), headers=ghana)
    assert _fields(path) == ["path.pledge_id"]
    query = await http.get(url("pledges", "/pledges"), headers=ghana, params={"summit": "UNCOPS\x00"})
    assert _fields(query) == ["query.summit"]
    # An escaped backslash followed by "u0000" is text like any other.
    fine = await http.post(
        url("pledges", "/pledges"),
        headers=ghana,
        json={"member_state": "GHA", "kind": "other", "title": "Literally \\u0000 in a title"},
    )
    assert fine.status_code == 201, fine.text


async def test_an_import_rejects_the_rows_with_a_nul_and_keeps_the_others(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    planner = bearer(settings, Role.PLANNER)
    csv = "member_state,kind,title\nGHA,other,Bad\x00 title\nSEN,other,Good title for the import\n"
    response = await http.post(
        url("pledges", "/pledges/import"),
        headers={**planner, "Content-Type": "text/csv"},
        params={"mode": "accept_valid"},
        content=csv.encode(),
    )
    assert response.status_code == 201, response.text
    report = response.json()
    assert report["accepted"] == 1
    [rejected] = report["rejected"]
    assert rejected["line"] == 2 and rejected["field"] == "title" and NUL_REASON in rejected["reason"]


async def test_the_other_services_refuse_a_nul_too(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    officer = bearer(settings, Role.CONDUCT_OFFICER)
    body = intake(description="Synthetic\u0000")
    case = await http.post(url("cases", "/cases"), headers=officer, json=body)
    assert _fields(case) == ["description"]
    planner = bearer(settings, Role.PLANNER)
    summit = await http.post(
        url("summit", "/summits"),
        headers=planner,
        json={"id": "NUL-TEST", "name": "Third \u0000", "starts_on": "2027-05-03", "ends_on": "2027-05-05"},
    )
    assert _fields(summit) == ["name"]
