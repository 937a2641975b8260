"""Wiring of the summit service: its routes and consumers."""

from services.common.runtime import ServiceDefinition
from services.summit.api import router
from services.summit.consumers import CASE_EVENTS, PLEDGE_EVENTS

SERVICE = ServiceDefinition(
    name="summit",
    title="UNCOPS summit planning",
    description=(
        "Planning the UN Chiefs of Police Summit at UN Headquarters: the plan of milestones, delegations and "
        "accreditation, agenda and rooms, budget and funding, and the material the other services feed in."
    ),
    routers=[router],
    subscriptions=[PLEDGE_EVENTS, CASE_EVENTS],
)
