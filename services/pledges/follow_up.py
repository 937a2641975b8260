"""The bridge between pledges and their workflows: start a pledge's follow-up, and apply a step to it.

A pledge's workflow is started by its first step, from the stored pledge: until it is accepted there is
nothing to time, and intake never waits on Temporal. Two first steps at once may both start it; the second
start is refused and harmless.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from services.common.commands import update_refused
from services.common.errors import Conflict
from services.pledges.lifecycle import Pledge, apply
from uncops_contracts.pledges import PledgeStatus
from uncops_contracts.policies import PledgePolicy
from workflows.pledges.workflows import PledgeCommandRequest, PledgeStart, PledgeView, PledgeWorkflow

TASK_QUEUE = "uncops-pledges"
ENDED = frozenset({PledgeStatus.REJECTED, PledgeStatus.LAPSED, PledgeStatus.WITHDRAWN})


def workflow_id(pledge_id: str) -> str:
    return f"pledge-{pledge_id}"


async def start_follow_up(temporal: Client, pledge: Pledge, policy: PledgePolicy) -> None:
    with contextlib.suppress(WorkflowAlreadyStartedError):  # the event and a step may both start it
        await temporal.start_workflow(
            PledgeWorkflow.run,
            PledgeStart(pledge=pledge, policy=policy),
            id=workflow_id(pledge.pledge_id),
            task_queue=TASK_QUEUE,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )


async def act_on_pledge(
    temporal: Client, stored: Pledge, policy: PledgePolicy, request: PledgeCommandRequest
) -> PledgeView:
    if stored.status in ENDED:
        # Its workflow has ended: the rules answer here (nothing is allowed on an ended pledge).
        apply(stored, request.command, request.actor, datetime.now(UTC), policy)
        raise Conflict(f"the pledge is {stored.status.value}", stored.status.value, [])
    handle = temporal.get_workflow_handle(workflow_id(stored.pledge_id))
    for attempt in range(2):
        try:
            return await handle.execute_update(PledgeWorkflow.act, request)
        except WorkflowUpdateFailedError as exc:
            raise update_refused(exc) from exc
        except RPCError as exc:
            if exc.status is not RPCStatusCode.NOT_FOUND or attempt:
                raise
            # Its first step: start it from the stored pledge.
            await start_follow_up(temporal, stored, policy)
    raise AssertionError("unreachable")
