"""Wiring of the cases service: its routes, consumers and workflows."""

from collections.abc import Callable, Sequence
from typing import Any

from services.cases.api import router
from services.common.runtime import ServiceDefinition, ServiceRuntime
from workflows.cases.activities import CaseActivities
from workflows.cases.workflows import CaseWorkflow


def _activities(runtime: ServiceRuntime) -> Sequence[Callable[..., Any]]:
    return [CaseActivities(runtime.sessions).store_case_change]


SERVICE = ServiceDefinition(
    name="cases",
    title="UNCOPS misconduct case tracking",
    description=(
        "Misconduct cases involving UN Police, from referral to the last court decision: deadlines that "
        "escalate, victims known by pseudonyms, every step audited."
    ),
    routers=[router],
    workflows=[CaseWorkflow],
    activities=_activities,
)
