"""The pledge workflow's activity: store a change and its events in one transaction (services.pledges.store);
idempotent on retry (it runs as a local activity: see workflows/pledges/workflows.py)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from services.pledges.domain.pledge import Pledge
from services.pledges.gateway import StorePledgeChange
from services.pledges.store import store_change


class PledgeActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    @activity.defn(name="store_pledge_change")
    async def store_pledge_change(self, change: StorePledgeChange) -> Pledge | None:
        return await store_change(self.sessions, change.outcome, change.policy, change.traceparent)
