"""The pledge workflow's activity: store a change and its events in one transaction; idempotent on retry."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from services.common.outbox import record_event
from services.pledges.models import Pledge as PledgeRow
from services.pledges.store import lifecycle_values
from uncops_contracts.registry import event_class
from workflows.pledges.workflows import StorePledgeChange


class PledgeActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    @activity.defn(name="store_pledge_change")
    async def store_pledge_change(self, change: StorePledgeChange) -> None:
        pledge = change.outcome.pledge
        async with self.sessions() as session, session.begin():
            row = await session.get(PledgeRow, pledge.pledge_id, with_for_update=True)
            if row is None:
                raise RuntimeError(f"pledge {pledge.pledge_id} is not stored yet")  # retried
            if row.version >= pledge.version:
                return  # a retry of a change already stored
            for name, value in lifecycle_values(pledge, change.policy, datetime.now(UTC)).items():
                setattr(row, name, value)
            for event in change.outcome.events:
                payload = event_class(event["type"]).model_validate(event["payload"])
                record_event(session, payload, key=pledge.pledge_id, traceparent=change.traceparent)
