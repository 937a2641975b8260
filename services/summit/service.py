"""Wiring of the summit service: its routes, consumers and workflows."""

from collections.abc import Callable, Sequence
from typing import Any

from services.common.runtime import ServiceDefinition, ServiceRuntime
from services.summit.api import router
from services.summit.consumers import PLEDGE_EVENTS
from workflows.summit.activities import SummitActivities
from workflows.summit.workflows import MilestoneWorkflow


def _activities(runtime: ServiceRuntime) -> Sequence[Callable[..., Any]]:
    return [SummitActivities(runtime.sessions).record_milestone_transition]


SERVICE = ServiceDefinition(
    name="summit",
    title="UNCOPS summit planning",
    description="Planning the UN Chiefs of Police Summit at UN Headquarters: milestones, funding and more.",
    router=router,
    subscriptions=[PLEDGE_EVENTS],
    workflows=[MilestoneWorkflow],
    activities=_activities,
)
