"""The pledges service's only door to Temporal: the pledge workflow by its registered name, what it takes and
returns, and the two things the service asks of it (start a pledge's follow-up, apply a step).

A pledge's workflow is started by its first step, from the stored pledge: until it is accepted there is
nothing to time, and intake never waits on Temporal. Two first steps at once may both start it; the second
start is refused and harmless.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel
from temporalio.client import Client

from services.common.actor import Actor
from services.common.commands import execute_update_with_start
from services.common.errors import Conflict
from services.common.temporal import WorkflowType
from services.pledges.domain.commands import Command
from services.pledges.domain.pledge import ENDED, Outcome, Pledge, apply
from uncops_contracts.policies import PledgePolicy

# The client the service hands the functions below (the runtime's): named here, so no other module of the
# service imports temporalio.
Temporal = Client

PLEDGE = WorkflowType("PledgeWorkflow", "pledges", updates=("act",), queries=("view",))


# A pledge's workflow continues as new past this many events of history, carrying the pledge (a test sets a
# small number; absent from the inputs of pledges started before it existed).
PLEDGE_HISTORY_LIMIT = 2_000


class PledgeStart(BaseModel):
    pledge: Pledge
    policy: PledgePolicy
    history_limit: int = PLEDGE_HISTORY_LIMIT


class PledgeCommandRequest(BaseModel):
    command: Command
    actor: Actor
    policy: PledgePolicy
    expected_version: int | None = None
    traceparent: str | None = None


class PledgeView(BaseModel):
    pledge: Pledge
    allowed_actions: list[str]


class StorePledgeChange(BaseModel):
    """The input of the workflow's activity (services.pledges.store.store_pledge_change)."""

    outcome: Outcome
    policy: PledgePolicy
    traceparent: str | None = None


def workflow_id(pledge_id: str) -> str:
    return f"pledge-{pledge_id}"


async def act_on_pledge(
    temporal: Temporal, stored: Pledge, policy: PledgePolicy, request: PledgeCommandRequest
) -> PledgeView:
    if stored.status in ENDED:
        # Its workflow has ended: the rules answer here (nothing is allowed on an ended pledge).
        apply(stored, request.command, request.actor, datetime.now(UTC), policy)
        raise Conflict(f"the pledge is {stored.status.value}", stored.status.value, [])
    # Its first step starts it from the stored pledge, in the same round trip (Update-with-Start).
    start = PledgeStart(pledge=stored, policy=policy)
    return await execute_update_with_start(
        temporal, PLEDGE, start, workflow_id(stored.pledge_id), "act", request, PledgeView
    )
