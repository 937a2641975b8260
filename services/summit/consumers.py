"""What the summit service takes from other services' events, applied through the inbox."""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.consumer import Subscription
from services.summit.models import SummitPledge
from uncops_contracts import CloudEvent
from uncops_contracts.pledges import PledgeSubmitted
from uncops_contracts.topics import PLEDGES


async def pledge_submitted(session: AsyncSession, event: CloudEvent) -> None:
    pledge = PledgeSubmitted.model_validate(event.data)
    await session.execute(
        insert(SummitPledge)
        .values(
            pledge_id=pledge.pledge_id,
            member_state=pledge.member_state,
            summit=pledge.summit,
            supports_summit=pledge.supports_summit,
            kind=pledge.kind.value,
            title=pledge.title,
            amount=pledge.terms.amount,
            currency=pledge.terms.currency,
            submitted_at=pledge.submitted_at,
            event_id=event.id,
        )
        .on_conflict_do_nothing(index_elements=["pledge_id"])
    )


PLEDGE_EVENTS = Subscription(
    name="summit.pledges",
    topics=[PLEDGES.name],
    handlers={PledgeSubmitted.event_type(): pledge_submitted},
)
