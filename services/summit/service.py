"""Wiring of the summit service: its routes, consumers and workflows."""

from collections.abc import Callable, Sequence
from typing import Any

from services.common.runtime import ServiceDefinition, ServiceRuntime
from services.summit.api import router
from services.summit.consumers import CASE_EVENTS, PLEDGE_EVENTS
from workflows.summit.activities import SummitActivities
from workflows.summit.delegation_activities import DelegationActivities
from workflows.summit.delegations import DelegationWorkflow
from workflows.summit.workflows import MilestoneWorkflow, SummitPlanWorkflow


def _activities(runtime: ServiceRuntime) -> Sequence[Callable[..., Any]]:
    plan = SummitActivities(runtime.sessions, runtime.settings.summit_policy)
    return [
        plan.record_milestone_transition,
        plan.store_milestone,
        plan.store_reschedule,
        DelegationActivities(runtime.sessions).store_delegation_change,
    ]


SERVICE = ServiceDefinition(
    name="summit",
    title="UNCOPS summit planning",
    description=(
        "Planning the UN Chiefs of Police Summit at UN Headquarters: the plan of milestones, delegations and "
        "accreditation, agenda and rooms, budget and funding, and the material the other services feed in."
    ),
    routers=[router],
    subscriptions=[PLEDGE_EVENTS, CASE_EVENTS],
    # MilestoneWorkflow stays registered so milestones planned before the summit plan existed still run.
    workflows=[SummitPlanWorkflow, MilestoneWorkflow, DelegationWorkflow],
    activities=_activities,
)
