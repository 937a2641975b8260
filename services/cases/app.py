"""Wiring of the cases service: its routes."""

from services.cases.api import router
from services.common.runtime import ServiceDefinition

SERVICE = ServiceDefinition(
    name="cases",
    title="UNCOPS misconduct case tracking",
    description=(
        "Misconduct cases involving UN Police, from referral to the last court decision: deadlines that "
        "escalate, victims known by pseudonyms, every step audited."
    ),
    routers=[router],
)
