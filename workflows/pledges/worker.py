"""What the pledges worker registers on its task queue: the pledge workflow and its activity."""

from collections.abc import Callable, Sequence
from typing import Any

from services.common.runtime import ServiceRuntime
from workflows.pledges.activities import PledgeActivities
from workflows.pledges.workflows import PledgeWorkflow

WORKFLOWS: Sequence[type] = [PledgeWorkflow]


def activities(runtime: ServiceRuntime) -> Sequence[Callable[..., Any]]:
    return [PledgeActivities(runtime.sessions).store_pledge_change]
