"""Authentication and scope against a running service: 401 for bad tokens, 403 for the wrong role or
State, 404 for another State's pledge."""

from __future__ import annotations

import time

import httpx
import jwt
import pytest

from deploy.stack import LocalStack
from services.common.auth import Role, issue_token
from services.common.settings import Settings
from tests.conftest import bearer, url

PLEDGE = {"member_state": "FRA", "kind": "french_speaking_officers", "title": "More French-speaking officers"}


def _claims(settings: Settings, **overrides: object) -> dict[str, object]:
    now = int(time.time())
    return {
        "sub": "tester",
        "roles": ["planner"],
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "exp": now + 600,
        **overrides,
    }


@pytest.mark.parametrize(
    "authorization",
    ["", "Bearer", "Bearer not-a-jwt", "Basic dXNlcjpwYXNz"],
    ids=["missing", "empty-bearer", "malformed", "wrong-scheme"],
)
async def test_missing_or_malformed_token_is_401(
    platform: LocalStack, http: httpx.AsyncClient, authorization: str
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = await http.post(url("pledges", "/pledges"), json=PLEDGE, headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


async def test_bad_signature_and_expired_token_are_401(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    forged = jwt.encode(
        _claims(settings), "an-attacker-secret-that-is-long-enough-for-hs256", algorithm="HS256"
    )
    expired = jwt.encode(
        _claims(settings, exp=int(time.time()) - 60),
        settings.jwt_secret.get_secret_value(),
        algorithm="HS256",
    )
    unsigned = jwt.encode(_claims(settings), key=None, algorithm="none")  # type: ignore[arg-type]
    for token, reason in ((forged, "invalid"), (expired, "expired"), (unsigned, "invalid")):
        response = await http.get(url("pledges", "/pledges"), headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, response.text
        assert reason in response.json()["detail"]


async def test_wrong_role_is_403(platform: LocalStack, settings: Settings, http: httpx.AsyncClient) -> None:
    response = await http.post(
        url("pledges", "/pledges"), json=PLEDGE, headers=bearer(settings, Role.PARTNER)
    )
    assert response.status_code == 403
    summit = await http.post(
        url("summit", "/summits"),
        json={"id": "X-1", "name": "Not allowed", "starts_on": "2030-01-01", "ends_on": "2030-01-02"},
        headers=bearer(settings, Role.STATE_FOCAL_POINT, "FRA"),
    )
    assert summit.status_code == 403


async def test_state_scope(platform: LocalStack, settings: Settings, http: httpx.AsyncClient) -> None:
    france = bearer(settings, Role.STATE_FOCAL_POINT, "FRA")
    senegal = bearer(settings, Role.STATE_FOCAL_POINT, "SEN")
    created = await http.post(url("pledges", "/pledges"), json=PLEDGE, headers=france)
    assert created.status_code == 201, created.text
    pledge_id = created.json()["id"]
    # Submitting for another State is forbidden; reading another State's pledge finds nothing.
    assert (await http.post(url("pledges", "/pledges"), json=PLEDGE, headers=senegal)).status_code == 403
    assert (await http.get(url("pledges", f"/pledges/{pledge_id}"), headers=senegal)).status_code == 404
    assert (await http.get(url("pledges", f"/pledges/{pledge_id}"), headers=france)).status_code == 200
    listed = await http.get(url("pledges", "/pledges"), params={"member_state": "FRA"}, headers=senegal)
    assert all(item["member_state"] == "SEN" for item in listed.json()["items"])
    planner = await http.get(url("pledges", f"/pledges/{pledge_id}"), headers=bearer(settings, Role.PLANNER))
    assert planner.status_code == 200
    token = issue_token(settings, Role.STATE_FOCAL_POINT, "FRA")
    assert (
        await http.get(url("pledges", "/pledges"), headers={"Authorization": f"Bearer {token}"})
    ).status_code == 200


async def test_a_token_with_missions_works_unchanged_on_pledges_and_summits(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    """Pledges and summits are not per mission: the missions claim changes nothing there."""
    for missions in (["MINUSCA"], ["*"]):
        planner = {"Authorization": f"Bearer {issue_token(settings, Role.PLANNER, missions=missions)}"}
        focal_point = issue_token(settings, Role.STATE_FOCAL_POINT, "FRA", missions=missions)
        france = {"Authorization": f"Bearer {focal_point}"}
        pledge = {**PLEDGE, "title": f"French-speaking officers for {missions[0]} missions"}
        created = await http.post(url("pledges", "/pledges"), json=pledge, headers=france)
        assert created.status_code == 201, created.text
        read = await http.get(url("pledges", f"/pledges/{created.json()['id']}"), headers=planner)
        assert read.status_code == 200, read.text
        summits = await http.get(url("summit", "/summits"), headers=planner)
        assert summits.status_code == 200, summits.text


async def test_a_token_naming_an_unknown_mission_is_401(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    token = jwt.encode(
        _claims(settings, roles=["conduct_officer"], missions=["ATLANTIS"]),
        settings.jwt_secret.get_secret_value(),
        algorithm="HS256",
    )
    response = await http.get(url("cases", "/cases"), headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert "unknown mission in token: ATLANTIS" in response.text
