"""What the cases worker registers on its task queue: the case workflow and its activity."""

from collections.abc import Callable, Sequence
from typing import Any

from services.common.runtime import ServiceRuntime
from workflows.cases.activities import CaseActivities
from workflows.cases.workflows import CaseWorkflow

WORKFLOWS: Sequence[type] = [CaseWorkflow]


def activities(runtime: ServiceRuntime) -> Sequence[Callable[..., Any]]:
    return [CaseActivities(runtime.sessions).store_case_change]
