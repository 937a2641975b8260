"""Loads demo data through the public APIs, so a newcomer sees events flow on the first `make run`.

Only an empty stack gets it: if any pledge exists, nothing is loaded. The pledges are those the 2018 Chair's
Note implies (deploy/demo/pledges-2018.json), then UNCOPS III is planned (deploy/demo/summit.py); the
misconduct cases are synthetic (deploy/demo/cases.py) and loaded last; deploy/demo/today.py leaves the work
waiting on the console's people (pledges to review, the next summit's registrations).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from deploy.demo.cases import load_demo_cases
from deploy.demo.summit import load_demo_summit
from deploy.demo.today import load_next_summit, load_review_queue
from services.common.auth import Role, issue_token
from services.common.settings import Settings

if TYPE_CHECKING:
    from deploy.stack import Ports

DATA = Path(__file__).parent / "pledges-2018.json"


def load_demo_data(ports: Ports) -> str:
    settings = Settings()
    # Notifications to people (issue 18): the people the demo's deadlines concern sign in first, so the
    # console knows them (with an email) when the events come.
    people = sign_in_demo_people(f"http://127.0.0.1:{ports.console}")
    planner = {"Authorization": f"Bearer {issue_token(settings, Role.PLANNER, subject='demo-planner')}"}
    pledges_url = f"http://127.0.0.1:{ports.pledges}"
    summit_url = f"http://127.0.0.1:{ports.summit}"
    cases_url = f"http://127.0.0.1:{ports.cases}"
    with httpx.Client(timeout=30) as client:
        existing = client.get(f"{pledges_url}/pledges", params={"limit": 1}, headers=planner)
        existing.raise_for_status()
        if existing.json()["items"]:
            return "demo data: already loaded (the database is not empty)"
        submitted = 0
        pledge_ids: dict[str, str] = {}
        for pledge in json.loads(DATA.read_text()):
            focal_point = issue_token(
                settings,
                Role.STATE_FOCAL_POINT,
                pledge["member_state"],
                subject=f"demo-{pledge['member_state']}",
            )
            response = client.post(
                f"{pledges_url}/pledges",
                headers={"Authorization": f"Bearer {focal_point}", "Idempotency-Key": f"demo-{submitted}"},
                json=pledge,
            )
            response.raise_for_status()
            pledge_ids[f"{pledge['member_state']}/{pledge['kind']}"] = response.json()["id"]
            submitted += 1
        summit = load_demo_summit(client, summit_url, pledges_url, planner, pledge_ids)
        waiting = load_review_queue(client, pledges_url, planner, settings)
        next_summit = load_next_summit(client, summit_url, planner, settings)
    cases = load_demo_cases(cases_url, settings)
    return (
        f"demo data: {submitted} pledges submitted and accepted, {summit}, {waiting}, {next_summit}, "
        f"{cases}; {people}"
    )


def demo_people() -> list[dict[str, str]]:
    """Who signs in for the demo: a conduct officer of every mission, a planner, and the focal point (in
    French) of the State with the most formed-police-unit cases, whose replies to notifications fall due."""
    from collections import Counter
    from datetime import UTC, datetime

    from deploy.demo.cases import plan

    states = Counter(
        case.intake["police_contributing_country"]
        for case in plan(datetime.now(UTC).date())
        if case.intake["personnel_category"] == "formed_police_unit"
    )
    state = states.most_common(1)[0][0]
    return [
        {
            "role": "conduct_officer",
            "name": "Demo conduct officer",
            "email": "conduct.officer@demo.un.example",
        },
        {"role": "planner", "name": "Demo planner", "email": "planner@demo.un.example"},
        {
            "role": "state_focal_point",
            "member_state": state,
            "name": f"Demo focal point of {state}",
            "email": f"focal.point.{state.lower()}@demo.un.example",
            "language": "fr",
        },
    ]


def sign_in_demo_people(console_url: str) -> str:
    """Each demo person signs in through the console's own sign-in page, as a person would: the console
    records them in its directory with their email and language."""
    import re

    emails = []
    for person in demo_people():
        with httpx.Client(base_url=console_url, timeout=30) as browser:
            page = browser.get("/sign-in")
            page.raise_for_status()
            found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            if found is None:
                raise RuntimeError("the console's sign-in page has no CSRF token")
            token = found.group(1)
            if person.get("language") == "fr":
                browser.post("/language", data={"csrf_token": token, "language": "fr", "next": "/sign-in"})
            form = {"csrf_token": token, "next": "/", "member_state": "", **person}
            form.pop("language", None)
            signed = browser.post("/sign-in", data=form)
            if signed.status_code != 303:
                raise RuntimeError(f"demo sign-in refused ({signed.status_code}): {signed.text[:300]}")
            emails.append(person["email"])
    return f"signed in to the console with emails: {', '.join(emails)}"
