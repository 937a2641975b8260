"""Wiring of the cases service: its routes."""

from services.cases.api import attachments, audit, cases, statistics, victims
from services.common.runtime import ServiceDefinition

SERVICE = ServiceDefinition(
    name="cases",
    title="UNCOPS misconduct case tracking",
    description=(
        "Misconduct cases involving UN Police, from referral to the last court decision: deadlines that "
        "escalate, victims known by pseudonyms, every step audited."
    ),
    # Fixed paths (/cases/statistics) before the paths that take a case id.
    routers=[statistics.router, cases.router, victims.router, attachments.router, audit.router],
    tags=[
        {"name": "cases", "description": "Cases: intake, finding them, reading one, and the steps it allows"},
        {"name": "victims", "description": "Victims known by pseudonyms; an identity revealed only audited"},
        {"name": "attachments", "description": "Documents attached to a case, stored with their SHA-256"},
        {"name": "audit", "description": "A case's hash-chained audit trail and its verification"},
        {
            "name": "statistics",
            "description": "Counts in the shape of the UN's public misconduct data; SCR 2272 review flags",
        },
    ],
)
