"""Loads demo data through the public APIs, so a newcomer sees events flow on the first `make run`.

Only an empty stack gets it: if any pledge exists, nothing is loaded. The misconduct cases are synthetic
(deploy/demo/cases.py) and loaded last.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from deploy.demo.cases import load_demo_cases
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
        summit = client.post(
            f"{summit_url}/summits",
            headers=planner,
            json={
                "id": "UNCOPS-III",
                "name": "Third United Nations Chiefs of Police Summit",
                "venue": "United Nations Headquarters, New York",
                "starts_on": "2020-06-24",
                "ends_on": "2020-06-25",
                "host_support": "People's Republic of China (financial and political support)",
            },
        )
        if summit.status_code not in (201, 409):
            summit.raise_for_status()
        now = datetime.now(UTC)
        for title, days in (("Invitations sent by note verbale", 30), ("Registration closes", 90)):
            client.post(
                f"{summit_url}/summits/UNCOPS-III/milestones",
                headers=planner,
                json={
                    "title": title,
                    "due_at": (now + timedelta(days=days)).isoformat(),
                    "warn_before_days": 14,
                },
            ).raise_for_status()
        submitted = 0
        for pledge in json.loads(DATA.read_text()):
            focal_point = issue_token(
                settings,
                Role.STATE_FOCAL_POINT,
                pledge["member_state"],
                subject=f"demo-{pledge['member_state']}",
            )
            client.post(
                f"{pledges_url}/pledges",
                headers={"Authorization": f"Bearer {focal_point}", "Idempotency-Key": f"demo-{submitted}"},
                json=pledge,
            ).raise_for_status()
            submitted += 1
    cases = load_demo_cases(cases_url, settings)
    return f"demo data: summit UNCOPS-III with 2 milestones, {submitted} pledges submitted, {cases}"
