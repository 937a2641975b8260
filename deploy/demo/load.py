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
        f"demo data: {submitted} pledges submitted and accepted, {summit}, {waiting}, {next_summit}, {cases}"
    )
