"""Wiring of the pledges service: its routes and consumers."""

from services.common.runtime import ServiceDefinition
from services.pledges import api, importing, reporting
from services.pledges.consumers import subscriptions

SERVICE = ServiceDefinition(
    name="pledges",
    title="UNCOPS pledge intake",
    description="Member States' pledges from the UN Chiefs of Police Summits: intake, review and follow-up.",
    # Fixed paths (/pledges/summary, /pledges/import...) come before api's /pledges/{pledge_id}.
    routers=[importing.router, reporting.router, api.router],
    subscriptions=subscriptions,
)
