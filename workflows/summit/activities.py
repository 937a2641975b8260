"""Activities of the summit plan: each writes state, and its events to the outbox, in one transaction, and
is idempotent, so a retry never writes twice."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from services.common.outbox import record_event
from services.summit.domain import MilestoneStatus, gap_alert_due
from services.summit.models import Milestone, Summit
from services.summit.store import funding_position_of
from uncops_contracts.envelope import EventPayload
from uncops_contracts.policies import SummitPolicy
from uncops_contracts.summit import (
    FundingGapAlert,
    MilestoneCompleted,
    MilestoneDue,
    MilestoneOverdue,
    MilestoneRescheduled,
    SummitRescheduled,
)
from workflows.summit.workflows import MilestoneTransition, StoreMilestone, StoreReschedule


def _about(milestone: Milestone) -> dict[str, object]:
    return {
        "milestone_id": milestone.id,
        "summit_id": milestone.summit_id,
        "title": milestone.title,
        "due_at": milestone.due_at,
        "key": milestone.key,
        "owner": milestone.owner,
    }


class SummitActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], policy: SummitPolicy) -> None:
        self.sessions = sessions
        self.policy = policy

    @activity.defn(name="record_milestone_transition")
    async def record_milestone_transition(self, transition: MilestoneTransition) -> None:
        async with self.sessions() as session, session.begin():
            milestone = await session.get(Milestone, transition.milestone_id, with_for_update=True)
            if milestone is None:
                raise ValueError(f"no milestone {transition.milestone_id}")
            # A retried activity finds its own write already there: nothing to do, no second event. A
            # completion stored first stays: the timer's transition that raced with it is dropped.
            if milestone.status == transition.status.value or (
                milestone.status == MilestoneStatus.COMPLETED.value
                and transition.status is not MilestoneStatus.COMPLETED
            ):
                return
            now = datetime.now(UTC)
            milestone.status = transition.status.value
            milestone.version += 1
            common = _about(milestone)
            events: list[EventPayload] = []
            if transition.status is MilestoneStatus.COMPLETED:
                milestone.completed_at = now
                milestone.completed_by = transition.completed_by
                events.append(
                    MilestoneCompleted.model_validate(
                        {**common, "completed_at": now, "completed_by": transition.completed_by or ""}
                    )
                )
            elif transition.status is MilestoneStatus.DUE:
                events.append(MilestoneDue.model_validate(common))
                summit = await session.get(Summit, milestone.summit_id)
                if summit is not None:
                    alert = await self._gap_alert(session, summit, milestone)
                    if alert is not None:
                        events.append(alert)
            else:
                events.append(MilestoneOverdue.model_validate(common))
            for event in events:
                key = milestone.id if not isinstance(event, FundingGapAlert) else milestone.summit_id
                record_event(session, event, key=key, traceparent=transition.traceparent)

    async def _gap_alert(
        self, session: AsyncSession, summit: Summit, milestone: Milestone
    ) -> FundingGapAlert | None:
        """A milestone's warning is the moment to say the summit is not yet paid for."""
        position = await funding_position_of(session, summit)
        if not gap_alert_due(position, self.policy.funding_gap_alert_ratio):
            return None
        return FundingGapAlert(
            summit_id=summit.id,
            milestone_id=milestone.id,
            milestone_title=milestone.title,
            due_at=milestone.due_at,
            currency=position.currency,
            budget=position.budget,
            pledged=position.pledged,
            received=position.received,
            gap=position.gap,
            gap_ratio=round(position.gap_ratio, 4),
            threshold=self.policy.funding_gap_alert_ratio,
        )

    @activity.defn(name="store_milestone")
    async def store_milestone(self, request: StoreMilestone) -> None:
        planned = request.milestone
        async with self.sessions() as session, session.begin():
            await session.execute(
                insert(Milestone)
                .values(
                    id=planned.milestone_id,
                    summit_id=request.summit_id,
                    title=planned.title,
                    key=planned.key,
                    owner=planned.owner,
                    due_at=planned.due_at,
                    warn_at=planned.warn_at,
                    status=planned.status.value,
                    version=1,
                )
                .on_conflict_do_nothing(index_elements=["id"])
            )

    @activity.defn(name="store_reschedule")
    async def store_reschedule(self, request: StoreReschedule) -> None:
        async with self.sessions() as session, session.begin():
            summit = await session.get(Summit, request.summit_id, with_for_update=True)
            if summit is None:
                raise ValueError(f"no summit {request.summit_id}")
            if (summit.starts_on, summit.ends_on) == (request.starts_on, request.ends_on):
                return  # a retry of a move already stored
            previous = (summit.starts_on, summit.ends_on)
            summit.starts_on, summit.ends_on = request.starts_on, request.ends_on
            summit.version += 1
            moved = 0
            for planned in request.milestones:
                milestone = await session.get(Milestone, planned.milestone_id, with_for_update=True)
                if milestone is None or milestone.status == MilestoneStatus.COMPLETED.value:
                    continue
                previous_due_at = milestone.due_at
                milestone.due_at, milestone.warn_at = planned.due_at, planned.warn_at
                milestone.status = planned.status.value
                milestone.version += 1
                moved += 1
                if previous_due_at != planned.due_at:
                    record_event(
                        session,
                        MilestoneRescheduled.model_validate(
                            {**_about(milestone), "previous_due_at": previous_due_at}
                        ),
                        key=milestone.id,
                        traceparent=request.traceparent,
                    )
            record_event(
                session,
                SummitRescheduled(
                    summit_id=summit.id,
                    starts_on=request.starts_on,
                    ends_on=request.ends_on,
                    previous_starts_on=previous[0],
                    previous_ends_on=previous[1],
                    milestones_moved=moved,
                ),
                key=summit.id,
                traceparent=request.traceparent,
            )
