"""Wiring of the cases service: its routes, consumers and workflows."""

from services.cases.api import router
from services.common.runtime import ServiceDefinition

SERVICE = ServiceDefinition(
    name="cases",
    title="UNCOPS misconduct case tracking",
    description="Misconduct cases involving UN Police, from referral to the last court decision.",
    router=router,
)
