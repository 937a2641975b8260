"""UNCOPS III as demo data, loaded through the summit API (and the pledges API for the review of the demo
pledges). Illustrative throughout: the dates are those the 2018 Chair's Note implies (a third summit "in two
years", with China's support); the budget, the delegates and their names are invented and say so.

What it shows: the plan from the template (the milestones before the summit marked completed, as history),
speakers and moderators registered as guests, an agenda on the four themes of 2018 in UN Headquarters rooms,
a published programme, a budget, China's financial pledge accepted in the pledges service and part of its
money received. No delegations: registration for a summit in 2020 closed long ago, and the API rightly
refuses invitations whose deadline has passed: the next summit (deploy/demo/today.py) has them.
"""

from __future__ import annotations

from typing import Any

import httpx

SUMMIT_ID = "UNCOPS-III"
STARTS_ON, ENDS_ON = "2020-06-24", "2020-06-25"
# Speakers and moderators, registered as guests of the secretariat (invented names, real functions).
GUESTS = (
    ("UN Police Adviser", "United Nations, Department of Peace Operations"),
    ("Head of Police Component, MINUSCA", "United Nations, MINUSCA"),
    ("Head of Police Component, MONUSCO", "United Nations, MONUSCO"),
    ("Head of Police Component, UNMISS", "United Nations, UNMISS"),
    ("Director, Conduct and Discipline Service", "United Nations, Department of Management Strategy"),
    ("Chief, Standing Police Capacity", "United Nations, Department of Peace Operations"),
    ("Senior Gender Adviser, Police Division", "United Nations, Department of Peace Operations"),
    ("President, International Association of Women Police", "International Association of Women Police"),
    ("Secretary General, INTERPOL", "INTERPOL"),
    ("Head of Policy, UN Women", "UN Women"),
)
BUDGET = (
    ("venue", "Conference services and rooms at UN Headquarters", "180000.00"),
    ("interpretation", "Interpretation in the six official languages", "240000.00"),
    ("travel_support", "Travel of police chiefs from least developed countries", "300000.00"),
    ("security", "Security and accreditation", "60000.00"),
    ("communications", "Webcast, photography and outreach", "45000.00"),
    ("documentation", "Documents, translation and the Chair's Note", "35000.00"),
)
THEMES = (
    "Peacekeeping challenges",
    "Conflict prevention and sustaining peace",
    "Performance and accountability",
    "The way forward",
)


def _ok(response: httpx.Response) -> Any:
    if response.status_code >= 400:
        raise RuntimeError(
            f"{response.request.method} {response.request.url}: {response.status_code} {response.text}"
        )
    return response.json()


def _at(day: str, hour: int, minute: int = 0) -> str:
    """A time at UN Headquarters in June 2020 (UTC-4)."""
    return f"{day}T{hour:02d}:{minute:02d}:00-04:00"


def load_demo_summit(
    client: httpx.Client,
    summit_url: str,
    pledges_url: str,
    planner: dict[str, str],
    pledge_ids: dict[str, str],
) -> str:
    created = client.post(
        f"{summit_url}/summits",
        headers=planner,
        json={
            "id": SUMMIT_ID,
            "name": "Third United Nations Chiefs of Police Summit (illustrative demo)",
            "venue": "United Nations Headquarters, New York",
            "starts_on": STARTS_ON,
            "ends_on": ENDS_ON,
            "languages": ["ar", "zh", "en", "fr", "ru", "es"],
            "host_support": "People's Republic of China (financial and political support)",
        },
    )
    if created.status_code == 409:
        return "summit UNCOPS-III already planned"
    _ok(created)

    # The milestones up to the summit itself are history: completed.
    milestones = _ok(client.get(f"{summit_url}/summits/{SUMMIT_ID}/milestones", headers=planner))["items"]
    done = 0
    for milestone in milestones:
        if milestone["due_at"] <= f"{STARTS_ON}T23:59:59Z":
            client.post(
                f"{summit_url}/summits/{SUMMIT_ID}/milestones/{milestone['id']}/complete",
                headers=planner,
                json={},
            )
            done += 1

    for category, title, planned in BUDGET:
        _ok(
            client.post(
                f"{summit_url}/summits/{SUMMIT_ID}/budget/lines",
                headers=planner,
                json={"category": category, "title": title, "planned": planned},
            )
        )
    # The secretariat reviews and accepts the demo pledges; China's financial one then counts as pledged.
    for pledge_id in pledge_ids.values():
        for action in ("acknowledge", "start_review", "accept"):
            client.post(
                f"{pledges_url}/pledges/{pledge_id}/actions", headers=planner, json={"action": action}
            )
    china = pledge_ids.get("CHN/financial_support")
    if china:
        _ok(
            client.post(
                f"{summit_url}/summits/{SUMMIT_ID}/funding/receipts",
                headers=planner,
                json={
                    "member_state": "CHN",
                    "pledge_id": china,
                    "amount": "200000.00",
                    "currency": "USD",
                    "received_on": "2020-03-02",
                },
            )
        )

    guests = [
        _ok(
            client.post(
                f"{summit_url}/summits/{SUMMIT_ID}/participants",
                headers=planner,
                json={
                    "full_name": f"Demo {function}",
                    "function": function,
                    "organisation": organisation,
                    "languages": ["en", "fr"],
                    "consent_to_list": True,
                },
            )
        )["id"]
        for function, organisation in GUESTS
    ]
    sessions = _agenda(client, summit_url, planner, guests[0], guests[1:])
    released = client.post(
        f"{summit_url}/summits/{SUMMIT_ID}/programme/releases",
        headers=planner,
        json={"note": "Programme as published for the demo"},
    )
    release = (
        "programme released"
        if released.status_code == 201
        else f"programme not released ({released.status_code})"
    )
    summary = f"{done} milestones completed, {len(guests)} guests, {sessions} sessions, {release}"
    return f"summit UNCOPS-III ({summary})"


def _agenda(
    client: httpx.Client, summit_url: str, planner: dict[str, str], adviser: str, speakers: list[str]
) -> int:
    """Opening and closing plenaries and the four themes of 2018, each with a head of delegation or two."""
    rows: list[dict[str, Any]] = [
        {
            "title": "Opening of the summit",
            "kind": "plenary",
            "starts_at": _at(STARTS_ON, 10),
            "ends_at": _at(STARTS_ON, 11),
            "room_id": "unhq-ga-hall",
            "speakers": [adviser],
        }
    ]
    slots = ((STARTS_ON, 11, 30), (STARTS_ON, 15, 0), (ENDS_ON, 10, 0), (ENDS_ON, 15, 0))
    for index, (theme, (day, hour, minute)) in enumerate(zip(THEMES, slots, strict=True)):
        rows.append(
            {
                "title": f"Plenary: {theme}",
                "theme": theme,
                "kind": "thematic",
                "starts_at": _at(day, hour, minute),
                "ends_at": _at(day, hour + 2, minute),
                "room_id": "unhq-ga-hall",
                "speakers": speakers[2 * index : 2 * index + 2],
                "moderators": [adviser],
                "languages": ["ar", "zh", "en", "fr", "ru", "es"],
            }
        )
    rows.append(
        {
            "title": "Side event: women in police peacekeeping",
            "kind": "side_event",
            "starts_at": _at(STARTS_ON, 13, 15),
            "ends_at": _at(STARTS_ON, 14, 30),
            "room_id": "unhq-cr-4",
            "speakers": speakers[8:10],
            "expected_attendance": 250,
        }
    )
    rows.append(
        {
            "title": "Closing and the Chair's Note",
            "kind": "plenary",
            "starts_at": _at(ENDS_ON, 17, 30),
            "ends_at": _at(ENDS_ON, 18, 30),
            "room_id": "unhq-ga-hall",
            "speakers": [adviser],
        }
    )
    added = 0
    for row in rows:
        if (
            client.post(f"{summit_url}/summits/{SUMMIT_ID}/sessions", headers=planner, json=row).status_code
            == 201
        ):
            added += 1
    return added
