"""What the pledges service takes from events, applied through the inbox: money received for the next summit
counts towards financial-support pledges, and a reversed receipt's money is taken back
(service.record_funding).

A pledge's follow-up workflow is not started from its ``pledge submitted`` event but by its first step
(gateway.act_on_pledge): docs/decisions/0001-pledge-workflow-starts-at-first-step.md says why."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.consumer import Subscription
from services.pledges import service
from uncops_contracts import CloudEvent
from uncops_contracts.summit import FundingReceiptReversed, FundingReceived
from uncops_contracts.topics import SUMMIT

if TYPE_CHECKING:
    from services.common.runtime import ServiceRuntime


def subscriptions(runtime: ServiceRuntime) -> Sequence[Subscription]:
    policy = runtime.settings.pledge_policy

    async def funding_received(session: AsyncSession, event: CloudEvent) -> None:
        receipt = FundingReceived.model_validate(event.data)
        await service.record_funding(session, runtime.temporal, policy, receipt, event.traceparent)

    async def funding_receipt_reversed(session: AsyncSession, event: CloudEvent) -> None:
        reversal = FundingReceiptReversed.model_validate(event.data)
        await service.record_funding(session, runtime.temporal, policy, reversal, event.traceparent)

    return [
        Subscription(
            name="pledges.summit-funding",
            topics=[SUMMIT.name],
            handlers={
                FundingReceived.event_type(): funding_received,
                FundingReceiptReversed.event_type(): funding_receipt_reversed,
            },
        ),
    ]
