"""What the pledges service takes from events, applied through the inbox: money received for the next summit
counts towards financial-support pledges.

A pledge's follow-up workflow is not started from its ``pledge submitted`` event: it has nothing to time
until the pledge is accepted, and its first step starts it (follow_up.act_on_pledge). Starting one per
submission cost the local Temporal server about 20 ms of CPU each, so a burst of submissions or an import
left minutes of starts behind it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.consumer import Subscription
from services.common.errors import Conflict
from services.common.observability import get_logger
from services.pledges.follow_up import act_on_pledge
from services.pledges.lifecycle import Actor, Pledge, RecordDelivery
from services.pledges.models import Pledge as PledgeRow
from uncops_contracts import CloudEvent
from uncops_contracts.summit import FundingReceived
from uncops_contracts.topics import SUMMIT
from workflows.pledges.workflows import PledgeCommandRequest

if TYPE_CHECKING:
    from services.common.runtime import ServiceRuntime

SYSTEM = Actor(subject="uncops-summit-funding", role="system")
log = get_logger(__name__)


def subscriptions(runtime: ServiceRuntime) -> Sequence[Subscription]:
    policy = runtime.settings.pledge_policy

    async def funding_received(session: AsyncSession, event: CloudEvent) -> None:
        receipt = FundingReceived.model_validate(event.data)
        if receipt.pledge_id is None:
            return
        row = await session.get(PledgeRow, receipt.pledge_id)
        if row is None:
            return
        command = RecordDelivery(
            receipt_id=receipt.receipt_id, amount=receipt.amount, currency=receipt.currency
        )
        request = PledgeCommandRequest(
            command=command, actor=SYSTEM, policy=policy, traceparent=event.traceparent
        )
        # Idempotent: the workflow ignores a receipt it has already counted, so a redelivery is harmless.
        try:
            await act_on_pledge(await runtime.temporal(), Pledge.model_validate(row.state), policy, request)
        except Conflict as refused:
            # The pledge has ended (withdrawn, rejected, lapsed): the summit keeps the money on its books.
            log.warning("funding for an ended pledge", pledge_id=receipt.pledge_id, reason=refused.detail)

    return [
        Subscription(
            name="pledges.summit-funding",
            topics=[SUMMIT.name],
            handlers={FundingReceived.event_type(): funding_received},
        ),
    ]
