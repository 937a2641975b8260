"""Wiring of the pledges service: its routes, consumers and workflows."""

from collections.abc import Callable, Sequence
from typing import Any

from services.common.runtime import ServiceDefinition, ServiceRuntime
from services.pledges import api, importing, reporting
from services.pledges.consumers import subscriptions
from workflows.pledges.activities import PledgeActivities
from workflows.pledges.workflows import PledgeWorkflow


def _activities(runtime: ServiceRuntime) -> Sequence[Callable[..., Any]]:
    return [PledgeActivities(runtime.sessions).store_pledge_change]


SERVICE = ServiceDefinition(
    name="pledges",
    title="UNCOPS pledge intake",
    description="Member States' pledges from the UN Chiefs of Police Summits: intake, review and follow-up.",
    # Fixed paths (/pledges/summary, /pledges/import...) come before api's /pledges/{pledge_id}.
    routers=[importing.router, reporting.router, api.router],
    subscriptions=subscriptions,
    workflows=[PledgeWorkflow],
    activities=_activities,
)
