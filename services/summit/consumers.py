"""What the summit service takes from other services' events, applied through the inbox.

- ``uncops.pledges.v1``: every pledge, then its lifecycle (status, traffic light): the money pledged for a
  summit and the material of the pledge follow-up session.
- ``uncops.cases.public.v1``: the UN's public misconduct data, for the performance-and-accountability
  session. Only that topic: the summit service never sees a case's detail.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.common.consumer import Handler, Subscription
from services.summit.models import PublicAllegationRow, SummitPledgeRow
from uncops_contracts import CloudEvent
from uncops_contracts.cases import AllegationRecorded
from uncops_contracts.pledges import (
    PledgeAccepted,
    PledgeAcknowledged,
    PledgeClarificationRequested,
    PledgeFulfilled,
    PledgeLapsed,
    PledgeProgressReported,
    PledgeRejected,
    PledgeReportDue,
    PledgeReportOverdue,
    PledgeSubmitted,
    PledgeWithdrawn,
    TrafficLight,
    _PledgeChange,
)
from uncops_contracts.topics import CASES_PUBLIC, PLEDGES


async def pledge_submitted(session: AsyncSession, event: CloudEvent) -> None:
    pledge = PledgeSubmitted.model_validate(event.data)
    await session.execute(
        insert(SummitPledgeRow)
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
            status="submitted",
            pledge_version=0,
        )
        .on_conflict_do_nothing(index_elements=["pledge_id"])
    )


def _light(change: _PledgeChange) -> str | None:
    """The traffic light an event tells, if it tells one."""
    if isinstance(change, PledgeProgressReported | PledgeReportOverdue):
        return change.traffic_light.value
    if isinstance(change, PledgeReportDue):
        return TrafficLight.AMBER.value
    if isinstance(change, PledgeAccepted):
        return TrafficLight.GREEN.value
    return None


def _lifecycle(model: type[_PledgeChange]) -> Handler:
    async def apply(session: AsyncSession, event: CloudEvent) -> None:
        change = model.model_validate(event.data)
        values: dict[str, object] = {
            "status": change.status.value,
            "pledge_version": change.pledge_version,
            "status_changed_at": change.occurred_at,
        }
        light = _light(change)
        if light is not None:
            values["traffic_light"] = light
        # Only a newer version of the pledge changes the row: a replayed or late event changes nothing. An
        # event for a pledge never seen submitted (published before this consumer existed) is ignored.
        await session.execute(
            update(SummitPledgeRow)
            .where(
                col(SummitPledgeRow.pledge_id) == change.pledge_id,
                col(SummitPledgeRow.pledge_version) <= change.pledge_version,
            )
            .values(**values)
        )

    return apply


LIFECYCLE_EVENTS: tuple[type[_PledgeChange], ...] = (
    PledgeAcknowledged,
    PledgeAccepted,
    PledgeRejected,
    PledgeClarificationRequested,
    PledgeProgressReported,
    PledgeReportDue,
    PledgeReportOverdue,
    PledgeFulfilled,
    PledgeLapsed,
    PledgeWithdrawn,
)

PLEDGE_EVENTS = Subscription(
    name="summit.pledges",
    topics=[PLEDGES.name],
    handlers={
        PledgeSubmitted.event_type(): pledge_submitted,
        **{model.event_type(): _lifecycle(model) for model in LIFECYCLE_EVENTS},
    },
)


async def allegation_recorded(session: AsyncSession, event: CloudEvent) -> None:
    allegation = AllegationRecorded.model_validate(event.data)
    values = {
        "reported_year": int(allegation.reported[:4]),
        "mission": allegation.mission,
        "personnel_category": allegation.personnel_category.value,
        "nationality": allegation.nationality,
        "category": allegation.category.value,
        "allegation_type": allegation.allegation_type.value,
        "victims_adult": allegation.victims_adult,
        "victims_minor": allegation.victims_minor,
        "investigation_status": allegation.investigation_status,
        "result": allegation.result.value if allegation.result else None,
        "referred_for_criminal_accountability": allegation.referred_for_criminal_accountability,
        "event_time": event.time,
    }
    statement = insert(PublicAllegationRow).values(allegation_id=allegation.allegation_id, **values)
    # Re-published on every change: the latest state of the allegation wins, an older one arriving late loses.
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["allegation_id"],
            set_=values,
            where=col(PublicAllegationRow.event_time) <= statement.excluded.event_time,
        )
    )


CASE_EVENTS = Subscription(
    name="summit.cases-public",
    topics=[CASES_PUBLIC.name],
    handlers={AllegationRecorded.event_type(): allegation_recorded},
)
