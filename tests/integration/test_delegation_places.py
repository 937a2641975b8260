"""Places at a summit under concurrent steps (services/summit/store.py, issue 19), on the real PostgreSQL: the
delegation activity's write runs many at once, as 193 focal points registering at the same moment make it.
No place is given twice, the waiting list keeps the order in which registrations found the summit full, and
a withdrawal freeing places while others register keeps the ``places_taken`` counter equal to the places the
delegations hold, with no one left waiting beside free places."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import pytest_asyncio
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlmodel import col

from deploy.stack import LocalStack
from services.common.database import OutboxEvent, create_engine, session_factory
from services.common.settings import Settings
from services.summit import store
from services.summit.domain.delegations import (
    HOLDING,
    Actor,
    Command,
    Delegation,
    Register,
    Withdraw,
    apply,
    promotions,
)
from services.summit.gateway import StoredDelegationChange, StoreDelegationChange
from services.summit.models import DelegationRow, SummitRow
from services.summit.queries import delegation_state
from tests.conftest import eventually, topic_reader
from uncops_contracts.policies import SummitPolicy
from uncops_contracts.summit import DelegationStatus

POLICY = SummitPolicy()
PLANNER = Actor(subject="planner-1", role="planner")
STATES = ["ARG", "BRA", "CAN", "DEU", "EGY", "FRA", "GHA", "IND", "JPN", "KEN", "MEX", "NOR", "PER", "SEN"]


@pytest_asyncio.fixture
async def sessions(stack: LocalStack) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    # A connection per concurrent step, as the worker's pool gives them.
    engine: AsyncEngine = create_engine(stack.database_url("summit"), pool_size=len(STATES) + 2)
    yield session_factory(engine)
    await engine.dispose()


async def summit_with_invitations(
    sessions: async_sessionmaker[AsyncSession], capacity: int
) -> tuple[str, list[Delegation]]:
    summit_id = f"UNCOPS-T{uuid.uuid4().hex[:8].upper()}"
    now = datetime.now(UTC)
    rows = [
        DelegationRow(
            id=str(uuid.uuid4()),
            summit_id=summit_id,
            member_state=state,
            note_verbale=f"PD/TEST/{state}",
            invited_at=now,
            registration_deadline=now + timedelta(days=30),
        )
        for state in STATES
    ]
    async with sessions() as session, session.begin():
        session.add(
            SummitRow(
                id=summit_id,
                name="Places test",
                venue="UN Headquarters",
                starts_on=date(2031, 6, 2),
                ends_on=date(2031, 6, 3),
                capacity=capacity,
            )
        )
        await session.flush()
        session.add_all(rows)
    return summit_id, [delegation_state(row) for row in rows]


def registration(state: str, members: int) -> Register:
    return Register.model_validate(
        {
            "head": {
                "full_name": f"Head {state}",
                "function": "Chief of Police",
                "languages": ["en"],
                "head_of_delegation": "chief_of_police",
            },
            "members": [
                {"full_name": f"Officer {n} {state}", "function": "Adviser", "languages": ["en"]}
                for n in range(members - 1)
            ],
            "proof_document": {
                "file_name": "credentials.pdf",
                "media_type": "application/pdf",
                "size_bytes": 1200,
                "sha256": "c" * 64,
            },
        }
    )


async def step(
    sessions: async_sessionmaker[AsyncSession], delegation: Delegation, command: Command
) -> StoredDelegationChange:
    """One delegation step's write, as the activity runs it (its own transaction)."""
    change = StoreDelegationChange(
        change_id=str(uuid.uuid4()),
        base_version=delegation.version,
        outcome=apply(delegation, command, PLANNER, datetime.now(UTC), POLICY),
    )
    async with sessions() as session, session.begin():
        return await store.store_delegation_change(session, change)


async def places(
    sessions: async_sessionmaker[AsyncSession], summit_id: str
) -> tuple[int, int, int, list[DelegationRow]]:
    """(capacity, the counter, the places the rows hold, the waiting list in its order)."""
    async with sessions() as session:
        summit = await session.get(SummitRow, summit_id)
        assert summit is not None
        held = await session.execute(
            select(func.coalesce(func.sum(DelegationRow.members), 0)).where(
                col(DelegationRow.summit_id) == summit_id,
                col(DelegationRow.status).in_([s.value for s in HOLDING]),
            )
        )
        waiting = await session.execute(
            select(DelegationRow)
            .where(col(DelegationRow.summit_id) == summit_id, col(DelegationRow.status) == "waitlisted")
            .order_by(col(DelegationRow.waitlisted_at), col(DelegationRow.id))
        )
        return summit.capacity, summit.places_taken, int(held.scalar_one()), list(waiting.scalars())


async def test_registrations_at_once_never_give_a_place_twice_and_queue_in_order(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    # 12 delegations of 5 for 32 places: 6 fit (30 places), 2 places stay free, 6 wait.
    summit_id, invited = await summit_with_invitations(sessions, capacity=32)
    burst = invited[:12]
    results = await asyncio.gather(*(step(sessions, d, registration(d.member_state, 5)) for d in burst))

    assert all(r.applied for r in results)
    outcome = [r.delegation.status for r in results]
    assert outcome.count(DelegationStatus.REGISTERED) == 6
    assert outcome.count(DelegationStatus.WAITLISTED) == 6
    capacity, counter, held, waiting = await places(sessions, summit_id)
    assert (counter, held) == (30, 30)
    assert held <= capacity
    # The list's order is the order in which they found the summit full, each told its own position. The
    # events are in the outbox, or on Kafka once a relay of the session's platform has published them.
    keys = {d.delegation_id for d in burst}
    positions: dict[str, int] = {}
    reader = await topic_reader(settings, "uncops.summit.v1")
    try:

        async def all_told() -> bool:
            async with sessions() as session:
                events = await session.execute(
                    select(col(OutboxEvent.value))
                    .where(col(OutboxEvent.key).in_(keys))
                    .where(col(OutboxEvent.type).like("%delegation_waitlisted%"))
                )
                for value in events.scalars():
                    event = json.loads(value)
                    positions[event["delegation_id"]] = event["position"]
            for records in (await reader.getmany(timeout_ms=200)).values():
                for record in records:
                    waitlisted = dict(record.headers)["ce_type"].endswith(b"delegation_waitlisted.v1")
                    if waitlisted and (record.key or b"").decode() in keys:
                        event = json.loads(record.value or b"{}")
                        positions[event["delegation_id"]] = event["position"]
            return len(positions) == len(waiting)

        await eventually(all_told, timeout=30, interval=0)
    finally:
        await reader.stop()
    assert [positions[row.id] for row in waiting] == [1, 2, 3, 4, 5, 6]


async def test_a_withdrawal_freeing_places_while_others_register_keeps_the_count_right(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    # 8 delegations of 4 fill 32 places; 2 more wait. Then, at once: two withdraw (8 places free) while
    # four others register (3 each) and the waiting ones may move up.
    summit_id, invited = await summit_with_invitations(sessions, capacity=32)
    first = [await step(sessions, d, registration(d.member_state, 4)) for d in invited[:10]]
    assert [r.delegation.status for r in first].count(DelegationStatus.WAITLISTED) == 2
    leaving = [r.delegation for r in first[:2]]
    late = invited[10:14]
    results = await asyncio.gather(
        *(step(sessions, d, Withdraw(reason="The minister cannot travel")) for d in leaving),
        *(step(sessions, d, registration(d.member_state, 3)) for d in late),
    )

    assert all(r.applied for r in results)
    capacity, counter, held, waiting = await places(sessions, summit_id)
    assert counter == held, "the counter is the sum of the places the delegations hold"
    assert held <= capacity, "no place given twice"
    # No one waits beside places that would take them: a waiting delegation that fits was moved up.
    assert promotions(capacity, held, [(row.id, row.members) for row in waiting]) == []
    promoted = [p.delegation_id for r in results for p in r.promoted]
    assert len(promoted) == len(set(promoted)), "no delegation moved up twice"
    async with sessions() as session:
        statuses = {
            row.id: row.status
            for row in (
                await session.execute(select(DelegationRow).where(col(DelegationRow.summit_id) == summit_id))
            ).scalars()
        }
    assert {statuses[d.delegation_id] for d in leaving} == {"withdrawn"}
    assert all(statuses[p] == "registered" for p in promoted)


async def test_a_retried_step_finds_its_write_and_takes_no_place_again(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    # A local activity retried after a worker crash runs again with the same change.
    summit_id, invited = await summit_with_invitations(sessions, capacity=32)
    delegation = invited[0]
    change = StoreDelegationChange(
        change_id=str(uuid.uuid4()),
        base_version=delegation.version,
        outcome=apply(
            delegation, registration(delegation.member_state, 5), PLANNER, datetime.now(UTC), POLICY
        ),
    )
    for _ in range(2):
        async with sessions() as session, session.begin():
            stored = await store.store_delegation_change(session, change)
        assert stored.applied and stored.delegation.status is DelegationStatus.REGISTERED
    _, counter, held, _ = await places(sessions, summit_id)
    assert (counter, held) == (5, 5)
