"""What the summit worker registers on its task queue: the plan, milestone and delegation workflows."""

from collections.abc import Callable, Sequence
from typing import Any

from services.common.runtime import ServiceRuntime
from workflows.summit.activities import DelegationActivities, SummitActivities
from workflows.summit.delegations import DelegationWorkflow
from workflows.summit.workflows import MilestoneWorkflow, SummitPlanWorkflow

# MilestoneWorkflow stays registered so milestones planned before the summit plan existed still run.
WORKFLOWS: Sequence[type] = [SummitPlanWorkflow, MilestoneWorkflow, DelegationWorkflow]


def activities(runtime: ServiceRuntime) -> Sequence[Callable[..., Any]]:
    plan = SummitActivities(runtime.sessions, runtime.settings.summit_policy)
    return [
        plan.record_milestone_transition,
        plan.store_milestone,
        plan.store_reschedule,
        plan.store_milestone_move,
        DelegationActivities(runtime.sessions).store_delegation_change,
    ]
