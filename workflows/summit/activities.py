"""Activities of the summit's workflows: each runs one write of services/summit/store.py in a transaction of
its own (state, and its events to the outbox), and is idempotent, so a retry never writes twice."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from services.common.errors import InvalidField
from services.summit import store
from services.summit.gateway import (
    MilestoneTransition,
    StoredDelegationChange,
    StoreDelegationChange,
    StoreMilestone,
    StoreMilestoneMove,
    StoreReschedule,
)
from uncops_contracts.policies import SummitPolicy


class SummitActivities:
    """The summit plan's (and the older milestone workflow's) writes."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], policy: SummitPolicy) -> None:
        self.sessions = sessions
        self.policy = policy

    @activity.defn(name="record_milestone_transition")
    async def record_milestone_transition(self, transition: MilestoneTransition) -> None:
        async with self.sessions() as session, session.begin():
            await store.record_milestone_transition(session, transition, self.policy)

    @activity.defn(name="store_milestone")
    async def store_milestone(self, request: StoreMilestone) -> None:
        async with self.sessions() as session, session.begin():
            await store.store_milestone(session, request)

    @activity.defn(name="store_reschedule")
    async def store_reschedule(self, request: StoreReschedule) -> None:
        async with self.sessions() as session, session.begin():
            await store.store_reschedule(session, request)

    @activity.defn(name="store_milestone_move")
    async def store_milestone_move(self, request: StoreMilestoneMove) -> None:
        async with self.sessions() as session, session.begin():
            await store.store_milestone_move(session, request)


class DelegationActivities:
    """The delegation workflow's write, under the summit's row lock."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    @activity.defn(name="store_delegation_change")
    async def store_delegation_change(self, change: StoreDelegationChange) -> StoredDelegationChange:
        try:
            async with self.sessions() as session, session.begin():
                return await store.store_delegation_change(session, change)
        except InvalidField as exc:
            # Refused on what only the database knows (places left, a speaker dropped): the workflow turns
            # this into the step's 422; retrying would only be refused again.
            raise ApplicationError(
                exc.detail,
                {"field": exc.field, "reason": exc.reason},
                type="InvalidField",
                non_retryable=True,
            ) from None
