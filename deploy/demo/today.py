"""The work waiting on the console's people when the demo opens, loaded through the APIs like the rest:

- the secretariat's review queue: new pledges submitted for the next summit's follow-up, one of them a
  possible duplicate of an accepted 2018 pledge, one acknowledged, one awaiting the State's clarification;
- the next summit, planned about seven months from the day the demo loads, every Member State invited by
  note verbale with registration open for 90 days, a few delegations registered (one accredited): a focal
  point of any other State registers its own, a planner reviews and accredits.

Illustrative throughout: the States' pledges and the delegates' names are invented and say so.
"""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from services.common.auth import Role, issue_token
from services.common.settings import Settings

NEXT_SUMMIT_ID = "UNCOPS-NEXT"
DEMO = "ILLUSTRATIVE DEMO PLEDGE, not a State's actual commitment. "
# (State, pledge, what the secretariat has done with it so far)
NEW_PLEDGES: tuple[tuple[str, dict[str, Any], tuple[dict[str, Any], ...]], ...] = (
    (
        "GHA",
        {
            "kind": "french_speaking_officers",
            "title": "Deploy 40 more French-speaking police officers",
            "text": DEMO
            + "French-speaking officers for missions in francophone countries (Chair's Note, para 10).",
            "terms": {
                "indicator": "French-speaking officers deployed",
                "baseline": "12",
                "target": "52",
                "unit": "officers",
                "target_date": "2028-06-30",
            },
        },
        (),
    ),
    (
        "SEN",
        {
            "kind": "gender_parity",
            "title": "Reach 30 per cent women among individual police officers deployed",
            "text": DEMO + "Restated at the follow-up meeting: a possible duplicate of the 2018 pledge.",
            "terms": {
                "indicator": "share of women among deployed IPOs",
                "baseline": "21",
                "target": "30",
                "unit": "percent",
                "target_date": "2028-12-31",
            },
        },
        (),
    ),
    (
        "NOR",
        {
            "kind": "predeployment_sea_training",
            "title": "Train 200 officers of contributing countries in SEA prevention",
            "text": DEMO + "Pre-deployment training on preventing sexual exploitation and abuse.",
            "terms": {
                "indicator": "officers trained",
                "baseline": "0",
                "target": "200",
                "unit": "officers",
                "target_date": "2027-12-31",
            },
        },
        ({"action": "acknowledge"},),
    ),
    (
        "IDN",
        {
            "kind": "contingent_standards",
            "title": "Offer a formed police unit with a female engagement team",
            "text": DEMO + "A unit ready to deploy within 90 days of a request.",
        },
        (
            {"action": "acknowledge"},
            {"action": "start_review"},
            {
                "action": "request_clarification",
                "questions": "How many officers will the female engagement team count, and from when?",
            },
        ),
    ),
)
REGISTERED = ("FRA", "SEN", "CHN")


def _ok(response: httpx.Response) -> Any:
    if response.status_code >= 400:
        raise RuntimeError(
            f"{response.request.method} {response.request.url}: {response.status_code} {response.text}"
        )
    return response.json()


def _focal_point(settings: Settings, state: str) -> dict[str, str]:
    token = issue_token(settings, Role.STATE_FOCAL_POINT, state, subject=f"demo-{state}")
    return {"Authorization": f"Bearer {token}"}


def load_review_queue(
    client: httpx.Client, pledges_url: str, planner: dict[str, str], settings: Settings
) -> str:
    for number, (state, pledge, steps) in enumerate(NEW_PLEDGES):
        created = _ok(
            client.post(
                f"{pledges_url}/pledges",
                headers={**_focal_point(settings, state), "Idempotency-Key": f"demo-today-{number}"},
                json={"member_state": state, "summit": "UNCOPS-2018", **pledge},
            )
        )
        for step in steps:
            _ok(client.post(f"{pledges_url}/pledges/{created['id']}/actions", headers=planner, json=step))
    return f"{len(NEW_PLEDGES)} pledges waiting for review"


def next_summit_dates(today: date) -> tuple[date, date]:
    """A Tuesday and Wednesday about seven months ahead (summits open midweek)."""
    start = today + timedelta(days=210)
    start += timedelta(days=(1 - start.weekday()) % 7)
    return start, start + timedelta(days=1)


def load_next_summit(
    client: httpx.Client, summit_url: str, planner: dict[str, str], settings: Settings
) -> str:
    starts_on, ends_on = next_summit_dates(datetime.now(UTC).date())
    created = client.post(
        f"{summit_url}/summits",
        headers=planner,
        json={
            "id": NEXT_SUMMIT_ID,
            "name": "Next United Nations Chiefs of Police Summit (illustrative demo)",
            "venue": "United Nations Headquarters, New York",
            "starts_on": starts_on.isoformat(),
            "ends_on": ends_on.isoformat(),
            "languages": ["ar", "zh", "en", "fr", "ru", "es"],
        },
    )
    if created.status_code == 409:
        return f"summit {NEXT_SUMMIT_ID} already planned"
    _ok(created)
    base = f"{summit_url}/summits/{NEXT_SUMMIT_ID}"
    _ok(client.put(f"{base}/capacity", headers=planner, json={"capacity": 150}))
    invited = _ok(
        client.post(
            f"{base}/invitations",
            headers=planner,
            json={
                "member_states": "all",
                "note_verbale": f"PD/{NEXT_SUMMIT_ID}/{starts_on.year}/{{member_state}}",
                "registration_deadline": (datetime.now(UTC) + timedelta(days=90)).isoformat(),
            },
        )
    )["invited"]
    by_state = {delegation["member_state"]: delegation["id"] for delegation in invited}
    for state in REGISTERED:
        roster = {
            "head": {
                "full_name": f"Demo head of delegation ({state})",
                "function": "Chief of Police",
                "languages": ["en", "fr"],
                "head_of_delegation": "chief_of_police",
                "consent_to_list": True,
            },
            "members": [
                {
                    "full_name": f"Demo police adviser ({state})",
                    "function": "Police adviser",
                    "languages": ["fr"],
                }
            ],
            "proof_document": {
                "file_name": "credentials.pdf",
                "media_type": "application/pdf",
                "size_bytes": 48213,
                "sha256": hashlib.sha256(f"demo credentials {state}".encode()).hexdigest(),
            },
        }
        # Each delegation's workflow starts with its invitation: registration waits for it a moment.
        for _ in range(50):
            answer = client.post(
                f"{base}/delegations/{by_state[state]}/register",
                headers=_focal_point(settings, state),
                json=roster,
            )
            if answer.status_code not in (409, 503):
                break
            time.sleep(0.2)
        _ok(answer)
    first = by_state[REGISTERED[0]]
    for action in ("start_review", "accredit"):
        _ok(client.post(f"{base}/delegations/{first}/actions", headers=planner, json={"action": action}))
    return (
        f"summit {NEXT_SUMMIT_ID} on {starts_on.isoformat()} ({len(invited)} States invited, "
        f"{len(REGISTERED)} registered, 1 accredited)"
    )
