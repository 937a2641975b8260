"""The officers' queue on the cases API: the next deadline first (cases with none last), keyset-paged like
every list, and a case found by its reference or the reference's beginning, in any case."""

from __future__ import annotations

import random
from datetime import timedelta

import httpx

from deploy.stack import LocalStack
from services.common.auth import Role
from services.common.settings import Settings
from tests.conftest import bearer, url
from tests.e2e.test_case_lifecycle import TODAY, intake, step


async def test_the_queue_puts_the_next_deadline_first_and_pages_it(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    officer = bearer(settings, Role.CONDUCT_OFFICER)
    day = str(TODAY - timedelta(days=random.randint(400, 3000)))
    filters = {"reported_from": day, "reported_to": day, "police_contributing_country": "LIE"}
    made = []
    for _ in range(5):
        opened = await http.post(
            url("cases", "/cases"),
            headers=officer,
            json=intake(reported_on=day, incident_date=day, police_contributing_country="LIE"),
        )
        assert opened.status_code == 201, opened.text
        made.append(opened.json())
    for case in made[1:3]:  # two cases with a running deadline (the investigation's)
        await step(http, officer, case["case_id"], "start_assessment")
        await step(http, officer, case["case_id"], "refer_for_investigation")

    whole = await http.get(
        url("cases", "/cases"), headers=officer, params={**filters, "sort": "next_due", "limit": "500"}
    )
    assert whole.status_code == 200, whole.text
    items = whole.json()["items"]
    due = [min((d["due_at"] for d in case["deadlines"]), default=None) for case in items]
    with_deadline = [d for d in due if d is not None]
    assert len(with_deadline) == 2 and due[:2] == sorted(with_deadline) and due[2:] == [None] * 3

    walked: list[str] = []
    params: dict[str, str] | None = {**filters, "sort": "next_due", "limit": "2"}
    following: str | None = url("cases", "/cases")
    while following is not None:
        page = await http.get(following, headers=officer, params=params)
        assert page.status_code == 200, page.text
        walked += [case["case_id"] for case in page.json()["items"]]
        link = page.links.get("next")
        following, params = (url("cases", link["url"]), None) if link else (None, None)
    assert walked == [case["case_id"] for case in items]


async def test_a_case_is_found_by_its_reference_or_its_beginning(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    officer = bearer(settings, Role.CONDUCT_OFFICER)
    opened = await http.post(url("cases", "/cases"), headers=officer, json=intake())
    assert opened.status_code == 201, opened.text
    reference = opened.json()["reference"]
    for search in (reference, reference.lower(), reference[:-1]):
        found = await http.get(url("cases", "/cases"), headers=officer, params={"reference": search})
        assert found.status_code == 200, found.text
        assert reference in [case["reference"] for case in found.json()["items"]], search
    nothing = await http.get(url("cases", "/cases"), headers=officer, params={"reference": reference + "9"})
    assert [c for c in nothing.json()["items"] if c["reference"] == reference] == []
    refused = await http.get(url("cases", "/cases"), headers=officer, params={"reference": "MINUSCA%"})
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json()["errors"]] == ["query.reference"]
