"""Wiring of the pledges service: its routes, consumers and workflows."""

from services.common.runtime import ServiceDefinition
from services.pledges.api import router

SERVICE = ServiceDefinition(
    name="pledges",
    title="UNCOPS pledge intake",
    description="Member States' pledges from the UN Chiefs of Police Summits: intake, review and follow-up.",
    router=router,
)
