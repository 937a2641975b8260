"""What the pledges service takes from events, applied through the inbox: its own submissions start their
follow-up workflows; money received for the next summit counts towards financial-support pledges."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.consumer import Subscription
from services.common.errors import Conflict
from services.common.observability import get_logger
from services.pledges.follow_up import act_on_pledge, start_follow_up
from services.pledges.lifecycle import Actor, Pledge, RecordDelivery
from services.pledges.models import Pledge as PledgeRow
from uncops_contracts import CloudEvent
from uncops_contracts.pledges import PledgeSubmitted
from uncops_contracts.summit import FundingReceived
from uncops_contracts.topics import PLEDGES, SUMMIT
from workflows.pledges.workflows import PledgeCommandRequest

if TYPE_CHECKING:
    from services.common.runtime import ServiceRuntime

SYSTEM = Actor(subject="uncops-summit-funding", role="system")
log = get_logger(__name__)


def subscriptions(runtime: ServiceRuntime) -> Sequence[Subscription]:
    policy = runtime.settings.pledge_policy

    async def pledge_submitted(session: AsyncSession, event: CloudEvent) -> None:
        submitted = PledgeSubmitted.model_validate(event.data)
        row = await session.get(PledgeRow, submitted.pledge_id)
        if row is None:
            return  # another deployment's pledge on a shared topic: not ours to follow up
        await start_follow_up(await runtime.temporal(), Pledge.model_validate(row.state), policy)

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
            name="pledges.follow-up",
            topics=[PLEDGES.name],
            handlers={PledgeSubmitted.event_type(): pledge_submitted},
        ),
        Subscription(
            name="pledges.summit-funding",
            topics=[SUMMIT.name],
            handlers={FundingReceived.event_type(): funding_received},
        ),
    ]
