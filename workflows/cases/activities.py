"""The case workflow's one activity: store a change (state, audit, events, victim identity, review flags)
in one transaction (services/cases/store.py). A retry finds its change already stored, does nothing and
answers the case as the earlier attempt stored it. It runs as a local activity: see
workflows/cases/workflows.py."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from services.cases.domain.case import Case
from services.cases.gateway import StoreChange
from services.cases.store import store_change


class CaseActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    @activity.defn(name="store_case_change")
    async def store_case_change(self, change: StoreChange) -> Case | None:
        async with self.sessions() as session, session.begin():
            return await store_change(
                session,
                change.outcome,
                change.actor,
                change.policy,
                change.traceparent,
                change.victim_identity_ciphertext,
                datetime.now(UTC),
            )
