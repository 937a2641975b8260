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
)
