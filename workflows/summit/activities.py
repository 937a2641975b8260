"""Activities of summit planning: each writes state, and its event to the outbox, in one transaction."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from services.common.outbox import record_event
from services.summit.domain import MilestoneStatus
from services.summit.models import Milestone
from uncops_contracts.envelope import EventPayload
from uncops_contracts.summit import MilestoneCompleted, MilestoneDue, MilestoneOverdue
from workflows.summit.workflows import MilestoneTransition


class SummitActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    @activity.defn(name="record_milestone_transition")
    async def record_milestone_transition(self, transition: MilestoneTransition) -> None:
        async with self.sessions() as session, session.begin():
            milestone = await session.get(Milestone, transition.milestone_id, with_for_update=True)
            if milestone is None:
                raise ValueError(f"no milestone {transition.milestone_id}")
            # A retried activity finds its own write already there: nothing to do, no second event.
            if milestone.status == transition.status.value:
                return
            now = datetime.now(UTC)
            milestone.status = transition.status.value
            milestone.version += 1
            common = {
                "milestone_id": milestone.id,
                "summit_id": milestone.summit_id,
                "title": milestone.title,
                "due_at": milestone.due_at,
            }
            event: EventPayload
            if transition.status is MilestoneStatus.COMPLETED:
                milestone.completed_at = now
                milestone.completed_by = transition.completed_by
                event = MilestoneCompleted(
                    **common, completed_at=now, completed_by=transition.completed_by or ""
                )
            elif transition.status is MilestoneStatus.DUE:
                event = MilestoneDue(**common)
            else:
                event = MilestoneOverdue(**common)
            record_event(session, event, key=milestone.id, traceparent=transition.traceparent)
