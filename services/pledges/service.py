"""Wiring of the pledges service: its routes, consumers and workflows."""

from collections.abc import Callable, Sequence
from typing import Any

from fastapi import APIRouter

from services.common.runtime import ServiceDefinition, ServiceRuntime
from services.pledges import api, importing, reporting
from services.pledges.consumers import subscriptions
from workflows.pledges.activities import PledgeActivities
from workflows.pledges.workflows import PledgeWorkflow

# Fixed paths (/pledges/summary, /pledges/import...) are included before api's /pledges/{pledge_id}.
router = APIRouter()
router.include_router(importing.router)
router.include_router(reporting.router)
router.include_router(api.router)


def _activities(runtime: ServiceRuntime) -> Sequence[Callable[..., Any]]:
    return [PledgeActivities(runtime.sessions).store_pledge_change]


SERVICE = ServiceDefinition(
    name="pledges",
    title="UNCOPS pledge intake",
    description="Member States' pledges from the UN Chiefs of Police Summits: intake, review and follow-up.",
    router=router,
    subscriptions=subscriptions,
    workflows=[PledgeWorkflow],
    activities=_activities,
)
