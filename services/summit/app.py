"""Wiring of the summit service: its routes and consumers."""

from services.common.runtime import ServiceDefinition
from services.summit.api import (
    agenda,
    budget,
    calendars,
    delegations,
    material,
    plan,
    programme,
    rosters,
    summits,
)
from services.summit.consumers import CASE_EVENTS, PLEDGE_EVENTS

SERVICE = ServiceDefinition(
    name="summit",
    title="UNCOPS summit planning",
    description=(
        "Planning the UN Chiefs of Police Summit at UN Headquarters: the plan of milestones, delegations and "
        "accreditation, agenda and rooms, budget and funding, and the material the other services feed in."
    ),
    # In the order of the paths in the OpenAPI document.
    routers=[
        summits.router,
        plan.router,
        budget.router,
        material.router,
        delegations.router,
        rosters.router,
        agenda.router,
        programme.router,
        calendars.router,
    ],
    subscriptions=[PLEDGE_EVENTS, CASE_EVENTS],
    tags=[
        {"name": "summits", "description": "Summits: their dates, venue and currency"},
        {"name": "milestones", "description": "The plan: milestones due before the summit"},
        {"name": "budget", "description": "Budget lines, spending against them and exchange rates"},
        {"name": "funding", "description": "Money pledged and received, receipts and their reversals"},
        {"name": "audit", "description": "Corrections of rooms, budget lines, spending and receipts"},
        {
            "name": "material",
            "description": "What the other services feed in: pledges, misconduct statistics",
        },
        {
            "name": "delegations",
            "description": "Invitations, registration, places, participants, rosters",
        },
        {"name": "agenda", "description": "Rooms and the draft programme's sessions"},
        {
            "name": "programme",
            "description": "Programme releases and exports (JSON, iCalendar, HTML)",
        },
        {
            "name": "calendars",
            "description": "A person's calendar feeds: secret URLs calendar applications poll",
        },
    ],
)
