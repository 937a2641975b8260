"""A focal point's desk, the first page it sees: what its State owes now, across the three areas — pledges
awaiting its answer or a progress report, its delegations to the summits with their registration deadlines,
and its State's cases by the next deadline. Read through the APIs as the person, all at once; each list is
only the first few, with a link to the whole."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from services.console.domain.person import Person
from services.console.gateway import Apis
from services.console.service import summits

SHOWN = 5
# A delegation the State still acts on (a closed one, declined or expired, is history).
OPEN_DELEGATIONS = frozenset(
    {"invited", "registered", "waitlisted", "under_review", "accredited", "confirmed"}
)


@dataclass(frozen=True)
class Desk:
    clarifications: list[dict[str, Any]]  # pledges the secretariat asked the State about
    reports_due: list[dict[str, Any]]  # live pledges with a progress report missed or past due
    delegations: list[tuple[dict[str, Any], dict[str, Any]]]  # (summit, the State's delegation)
    cases: list[dict[str, Any]]  # the State's cases, the next deadline first
    more_cases: bool


async def desk(apis: Apis, person: Person) -> Desk:
    pledges = {"limit": SHOWN, "sort": "submitted_at"}
    clarifications, reports_due, listing, cases = await asyncio.gather(
        apis.call(
            person, "pledges", "GET", "/pledges", params={**pledges, "status": "clarification_requested"}
        ),
        apis.call(person, "pledges", "GET", "/pledges", params={**pledges, "overdue": "true"}),
        summits.summits(apis, person, None),
        apis.call(person, "cases", "GET", "/cases", params={"limit": SHOWN, "sort": "next_due"}),
    )
    own = await summits.own_delegations(apis, person, [summit["id"] for summit in listing.items])
    return Desk(
        clarifications=clarifications.body["items"],
        reports_due=reports_due.body["items"],
        delegations=[
            (summit, own[summit["id"]])
            for summit in listing.items
            if summit["id"] in own and own[summit["id"]]["status"] in OPEN_DELEGATIONS
        ],
        cases=cases.body["items"],
        more_cases=cases.body.get("next_cursor") is not None,
    )
