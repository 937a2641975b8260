"""The delegation workflow's activity, and the reads and writes under the summit's lock that the API shares.

Every change to a delegation locks the summit's row first (then the delegation's): registrations, withdrawals
and promotions of one summit are thereby serialised, so places are never given twice, and the lock order is
the same everywhere (no deadlock).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Integer, cast, delete, func
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col, select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from services.common.outbox import record_event
from services.summit.delegations import (
    HOLDING,
    Delegation,
    Person,
    badge_number,
    events_of,
    placement,
    promotions,
)
from services.summit.models import Delegation as DelegationRow
from services.summit.models import Participant, SessionPerson, Summit
from uncops_contracts.summit import DelegationStatus, HeadOfDelegation
from workflows.summit.delegations import StoredDelegationChange, StoreDelegationChange


def delegation_state(row: DelegationRow, reminded: list[int] | None = None) -> Delegation:
    return Delegation(
        delegation_id=row.id,
        summit_id=row.summit_id,
        member_state=row.member_state,
        status=DelegationStatus(row.status),
        version=row.version,
        note_verbale=row.note_verbale,
        invited_at=row.invited_at,
        registration_deadline=row.registration_deadline,
        head_of_delegation=HeadOfDelegation(row.head_of_delegation) if row.head_of_delegation else None,
        members=row.members,
        languages=list(row.languages),
        registered_at=row.registered_at,
        waitlisted_at=row.waitlisted_at,
        reason=row.reason,
        reminded=reminded or [],
    )


async def lock_summit(session: AsyncSession, summit_id: str) -> Summit:
    summit = await session.get(Summit, summit_id, with_for_update=True)
    if summit is None:
        raise RuntimeError(f"no summit {summit_id}")
    return summit


async def places_taken(session: AsyncSession, summit_id: str, excluding: str | None = None) -> int:
    query = select(func.coalesce(func.sum(DelegationRow.members), 0)).where(
        col(DelegationRow.summit_id) == summit_id,
        col(DelegationRow.status).in_([s.value for s in HOLDING]),
    )
    if excluding is not None:
        query = query.where(col(DelegationRow.id) != excluding)
    return int((await session.execute(query)).scalar_one())


async def waiting_list(session: AsyncSession, summit_id: str, *, lock: bool = False) -> list[DelegationRow]:
    query = (
        select(DelegationRow)
        .where(col(DelegationRow.summit_id) == summit_id, col(DelegationRow.status) == "waitlisted")
        .order_by(col(DelegationRow.waitlisted_at), col(DelegationRow.id))
    )
    if lock:
        query = query.with_for_update()
    return list((await session.execute(query)).scalars())


async def promote_waitlisted(
    session: AsyncSession, summit: Summit, change_id: str, now: datetime, traceparent: str | None
) -> list[Delegation]:
    """Moves the earliest waitlisted delegations that fit into the free places (the summit row is locked)."""
    waiting = await waiting_list(session, summit.id, lock=True)
    taken = await places_taken(session, summit.id)
    chosen = set(promotions(summit.capacity, taken, [(row.id, row.members) for row in waiting]))
    promoted: list[Delegation] = []
    for row in waiting:
        if row.id not in chosen:
            continue
        row.status = DelegationStatus.REGISTERED.value
        row.version += 1
        row.waitlisted_at = None
        row.promoted_by = change_id
        state = delegation_state(row)
        for event in events_of("promote", state, now):
            record_event(session, event, key=row.id, traceparent=traceparent)
        promoted.append(state)
    return promoted


async def issue_badges(session: AsyncSession, summit_id: str, participants: list[Participant]) -> None:
    """Numbers follow the highest ever issued for the summit (the summit row is locked): never reused."""
    last = (
        await session.execute(
            select(func.max(cast(func.substring(col(Participant.badge_number), "[0-9]+$"), Integer))).where(
                col(Participant.summit_id) == summit_id, col(Participant.badge_number).is_not(None)
            )
        )
    ).scalar_one()
    sequence = int(last or 0)
    for participant in participants:
        if participant.badge_number is None:
            sequence += 1
            participant.badge_number = badge_number(summit_id, sequence)


async def store_roster(
    session: AsyncSession, summit_id: str, delegation_id: str, persons: list[Person], now: datetime
) -> None:
    """Replaces a delegation's list of persons. A person listed again (same name) keeps their participant
    id, which the agenda names as speaker or moderator; one who is a speaker cannot be dropped."""
    current = {
        _name_key(p.full_name): p
        for p in (
            await session.execute(select(Participant).where(col(Participant.delegation_id) == delegation_id))
        ).scalars()
    }
    for index, person in enumerate(persons):
        participant = current.pop(_name_key(person.full_name), None)
        if participant is None:
            participant = Participant(
                id=str(uuid.uuid4()),
                summit_id=summit_id,
                delegation_id=delegation_id,
                full_name=person.full_name,
                function=person.function,
                # Keeps the registration's order (head first) for rosters and badge numbers.
                created_at=now + timedelta(microseconds=index),
            )
            session.add(participant)
        participant.full_name = person.full_name
        participant.function = person.function
        participant.organisation = person.organisation
        participant.is_head = index == 0
        participant.languages = list(person.languages)
        participant.consent_to_list = person.consent_to_list
    if not current:
        return
    speaker = (
        await session.execute(
            select(Participant.full_name)
            .join(SessionPerson, col(SessionPerson.participant_id) == col(Participant.id))
            .where(col(Participant.id).in_([p.id for p in current.values()]))
            .limit(1)
        )
    ).scalar_one_or_none()
    if speaker is not None:
        raise ApplicationError(
            "a speaker cannot be dropped",
            {
                "field": "members",
                "reason": f"{speaker} speaks or moderates in the programme: change it first",
            },
            type="InvalidField",
            non_retryable=True,
        )
    await session.execute(
        delete(Participant).where(col(Participant.id).in_([p.id for p in current.values()]))
    )


def _name_key(name: str) -> str:
    return " ".join(name.casefold().split())


class DelegationActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    @activity.defn(name="store_delegation_change")
    async def store_delegation_change(self, change: StoreDelegationChange) -> StoredDelegationChange:
        outcome = change.outcome
        wanted = outcome.delegation
        async with self.sessions() as session, session.begin():
            summit = await lock_summit(session, wanted.summit_id)
            row = await session.get(DelegationRow, wanted.delegation_id, with_for_update=True)
            if row is None:
                raise RuntimeError(f"delegation {wanted.delegation_id} is not stored yet")  # retried
            if row.last_change == change.change_id:
                # A retry of a change already committed: answer as the first attempt did.
                earlier = await session.execute(
                    select(DelegationRow).where(col(DelegationRow.promoted_by) == change.change_id)
                )
                return StoredDelegationChange(
                    applied=True,
                    delegation=delegation_state(row, wanted.reminded),
                    promoted=[delegation_state(r) for r in earlier.scalars()],
                )
            if row.version != change.base_version:
                return StoredDelegationChange(
                    applied=False, delegation=delegation_state(row, wanted.reminded)
                )
            now = datetime.now(UTC)
            previous = DelegationStatus(row.status)
            extra: dict[str, Any] = {}
            if outcome.action == "register":
                assert outcome.persons is not None and outcome.proof_document is not None
                extra["position"] = await self._place(session, summit, row, wanted, previous, now)
                await store_roster(session, summit.id, row.id, outcome.persons, now)
                row.proof_document = outcome.proof_document.model_dump(mode="json")
            elif outcome.action == "accredit":
                roster = await session.execute(
                    select(Participant)
                    .where(col(Participant.delegation_id) == row.id)
                    .order_by(
                        col(Participant.is_head).desc(), col(Participant.created_at), col(Participant.id)
                    )
                )
                participants = list(roster.scalars())
                await issue_badges(session, summit.id, participants)
                extra["badges"] = len(participants)
            for name in ("status", "version", "members", "languages", "registered_at", "reason"):
                value = getattr(wanted, name)
                setattr(row, name, value.value if isinstance(value, DelegationStatus) else value)
            row.head_of_delegation = wanted.head_of_delegation.value if wanted.head_of_delegation else None
            row.last_change = change.change_id
            stored = delegation_state(row, wanted.reminded)
            for event in events_of(outcome.action, stored, now, **extra):
                record_event(session, event, key=row.id, traceparent=change.traceparent)
            promoted: list[Delegation] = []
            if outcome.action in ("register", "withdraw", "decline"):
                await session.flush()
                promoted = await promote_waitlisted(
                    session, summit, change.change_id, now, change.traceparent
                )
            if row.id in {p.delegation_id for p in promoted}:
                stored = next(p for p in promoted if p.delegation_id == row.id)
            return StoredDelegationChange(applied=True, delegation=stored, promoted=promoted)

    async def _place(
        self,
        session: AsyncSession,
        summit: Summit,
        row: DelegationRow,
        wanted: Delegation,
        previous: DelegationStatus,
        now: datetime,
    ) -> int:
        """Settles where a registration stands (``wanted`` is updated); its waiting-list position or 0."""
        taken_by_others = await places_taken(session, summit.id, excluding=row.id)
        if previous in HOLDING:
            if wanted.members > row.members and taken_by_others + wanted.members > summit.capacity:
                raise ApplicationError(
                    "the summit is full",
                    {
                        "field": "members",
                        "reason": f"{summit.capacity - taken_by_others} places are left for this delegation "
                        f"(it has {row.members}); it cannot grow to {wanted.members}",
                    },
                    type="InvalidField",
                    non_retryable=True,
                )
            return 0
        if previous is not DelegationStatus.WAITLISTED:
            wanted.status = placement(summit.capacity, taken_by_others, wanted.members)
            if wanted.status is DelegationStatus.WAITLISTED:
                row.waitlisted_at = now
        if wanted.status is not DelegationStatus.WAITLISTED:
            return 0
        row.status = wanted.status.value
        await session.flush()
        ahead = await waiting_list(session, summit.id)
        return next(i for i, r in enumerate(ahead, start=1) if r.id == row.id)
