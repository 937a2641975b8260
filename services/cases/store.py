"""Storing a case change: the case row, its audit entry, its events and any review flag it raises, all in
the caller's one transaction (opening a case's in service.py, the workflow activity's for every change
after: ``store_change``)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.cases.domain.audit import GENESIS, ChainLink, entry_hash
from services.cases.domain.case import ENDED, Case
from services.cases.domain.events import CaseEvent
from services.cases.domain.lifecycle import Outcome
from services.cases.models import (
    AuditEntryRow,
    CaseRow,
    ReferenceCounterRow,
    ReviewFlagRow,
    VictimIdentityRow,
)
from services.common.actor import Actor
from services.common.outbox import record_event
from uncops_contracts.cases import (
    SEA_TYPES,
    AllegationRecorded,
    ClosureReason,
    PersonnelCategory,
    ReviewFlagKind,
    ReviewFlagRaised,
)
from uncops_contracts.policies import CasePolicy


async def next_reference_number(session: AsyncSession, mission: str, year: int) -> int:
    """The next number of the mission's cases this year; the counter row's lock orders concurrent intakes."""
    number = await session.scalar(
        insert(ReferenceCounterRow)
        .values(mission=mission, year=year, last=1)
        .on_conflict_do_update(
            index_elements=["mission", "year"],
            set_={"last": col(ReferenceCounterRow.last) + 1},
        )
        .returning(col(ReferenceCounterRow.last))
    )
    return int(number or 1)


async def add_case(
    session: AsyncSession,
    case: Case,
    actor: Actor,
    events: list[CaseEvent],
    now: datetime,
    traceparent: str | None,
) -> None:
    """A new case: its row, the first link of its audit chain and its events."""
    row = CaseRow(id=case.case_id, opened_at=now, audit_length=0, audit_head=GENESIS, **row_values(case, now))
    session.add(row)
    await session.flush()  # the row before its audit entry and victims (no ORM relationship orders them)
    after = case.model_dump(mode="json", exclude={"version"})
    append_audit(session, row, actor, "open", {}, after, now)
    record_case_events(session, case, events, traceparent)
    await session.flush()


async def store_change(
    session: AsyncSession,
    outcome: Outcome,
    actor: Actor,
    policy: CasePolicy,
    traceparent: str | None,
    victim_identity_ciphertext: str | None,
    now: datetime,
) -> Case | None:
    """One change of a case, in the caller's transaction. A retry finds its change already stored (the
    version tells), does nothing and answers the case as the first attempt stored it (a retry after a crash
    computed its change again, at another time); None when this call stored it (the caller has it: not sent
    back and forth in the workflow's history)."""
    case = outcome.case
    row = await session.get(CaseRow, case.case_id, with_for_update=True)
    if row is None:
        # The transaction that creates the case may not have committed yet: retried.
        raise RuntimeError(f"case {case.case_id} is not stored yet")
    if row.version >= case.version:
        return Case.model_validate(row.state)
    for name, value in row_values(case, now).items():
        setattr(row, name, value)
    if victim_identity_ciphertext:
        # The victim this change added is the last one with identity data.
        new_victim = next(v for v in reversed(case.victims) if v.has_identity)
        session.add(
            VictimIdentityRow(
                victim_id=new_victim.victim_id,
                case_id=case.case_id,
                ciphertext=victim_identity_ciphertext.encode(),
            )
        )
    append_audit(session, row, actor, outcome.action, outcome.audit_before, outcome.audit_after, now)
    record_case_events(session, case, outcome.events, traceparent)
    await session.flush()
    # A unit's count changes when a case opens; a country's, when one of its deadlines is missed.
    if outcome.action.startswith("deadline_missed"):
        await raise_review_flags(session, case, policy, now, traceparent, unit=False, country=True)
    return None


def row_values(case: Case, now: datetime) -> dict[str, Any]:
    open_deadlines = [d for d in case.deadlines if not d.paused and not d.missed]
    return {
        "reference": case.reference,
        "version": case.version,
        "status": case.status.value,
        "mission": case.mission,
        "personnel_category": case.personnel_category.value,
        "police_contributing_country": case.police_contributing_country,
        "unit": case.unit,
        "category": case.category.value,
        "allegation_type": case.allegation_type.value,
        "urgent": case.urgent,
        "incident_date": case.incident_date,
        "reported_on": case.reported_on,
        "assigned_officer": case.assigned_officer,
        "investigating_entity": case.investigating_entity.value if case.investigating_entity else None,
        "finding": case.finding.value if case.finding else None,
        "credible": case.closure_reason is not ClosureReason.NOT_CREDIBLE,
        "victims_adult": case.victims_adult,
        "victims_minor": case.victims_minor,
        "overdue": bool(case.overdue(now)),
        "next_due_at": min((d.due_at for d in open_deadlines), default=None),
        "updated_at": now,
        "state": case.model_dump(mode="json"),
    }


def append_audit(
    session: AsyncSession,
    row: CaseRow,
    actor: Actor,
    action: str,
    before: dict[str, Any],
    after: dict[str, Any],
    now: datetime,
) -> AuditEntryRow:
    """The next link of the case's chain, after the head its row keeps (``audit_length``, ``audit_head``,
    moved on here). The caller holds the row's lock, so positions never race; reading the head from the row
    rather than the last entry saves a step two of its seven round trips (issue 19)."""
    link = ChainLink(
        case_id=row.id,
        position=row.audit_length + 1,
        at=now,
        actor=actor.subject,
        actor_role=actor.role,
        action=action,
        before=before,
        after=after,
        previous_hash=row.audit_head,
    )
    entry = AuditEntryRow(
        case_id=row.id,
        position=link.position,
        at=now,
        actor=link.actor,
        actor_role=link.actor_role,
        action=action,
        before=before,
        after=after,
        previous_hash=link.previous_hash,
        hash=entry_hash(link),
    )
    session.add(entry)
    row.audit_length, row.audit_head = entry.position, entry.hash
    return entry


def record_case_events(
    session: AsyncSession, case: Case, events: list[CaseEvent], traceparent: str | None
) -> None:
    for payload in events:
        # Public data is keyed by its opaque allegation id: the case id stays inside the UN.
        key = payload.allegation_id if isinstance(payload, AllegationRecorded) else case.case_id
        record_event(session, payload, key=key, traceparent=traceparent)


async def raise_review_flags(
    session: AsyncSession,
    case: Case,
    policy: CasePolicy,
    now: datetime,
    traceparent: str | None,
    unit: bool = True,
    country: bool = True,
) -> list[ReviewFlagRaised]:
    """Security Council resolution 2272: a unit with credible SEA allegations at or above the threshold in
    the window; a contributing country missing reply or investigation deadlines on enough open cases."""
    raised: list[ReviewFlagRaised] = []
    window_start = (now - timedelta(days=policy.unit_sea_window_days)).date()
    if (
        unit
        and case.personnel_category is PersonnelCategory.FORMED_POLICE_UNIT
        and case.unit
        and case.allegation_type in SEA_TYPES
    ):
        ids = list(
            (
                await session.execute(
                    select(col(CaseRow.id)).where(
                        col(CaseRow.police_contributing_country) == case.police_contributing_country,
                        col(CaseRow.unit) == case.unit,
                        col(CaseRow.allegation_type).in_([t.value for t in SEA_TYPES]),
                        col(CaseRow.credible).is_(True),
                        col(CaseRow.reported_on) >= window_start,
                    )
                )
            ).scalars()
        )
        if len(ids) >= policy.unit_sea_threshold:
            flag = await _raise(
                session,
                ReviewFlagKind.UNIT_SEA_ALLEGATIONS,
                case.police_contributing_country,
                case.unit,
                ids,
                policy.unit_sea_threshold,
                now,
                window_start,
                traceparent,
            )
            if flag:
                raised.append(flag)
    if not country:
        return raised
    failing = list(
        (
            await session.execute(
                select(col(CaseRow.id)).where(
                    col(CaseRow.police_contributing_country) == case.police_contributing_country,
                    col(CaseRow.status).not_in([s.value for s in ENDED]),
                    text(
                        "jsonb_path_exists(state, '$.deadlines[*] ? (@.missed == true && "
                        '(@.kind == "pcc_reply" || @.kind == "investigation") && '
                        '@.owner == "police_contributing_country")\')'
                    ),
                )
            )
        ).scalars()
    )
    if len(failing) >= policy.pcc_missed_deadlines_threshold:
        flag = await _raise(
            session,
            ReviewFlagKind.PCC_FAILING_TO_ACT,
            case.police_contributing_country,
            None,
            failing,
            policy.pcc_missed_deadlines_threshold,
            now,
            window_start,
            traceparent,
        )
        if flag:
            raised.append(flag)
    return raised


async def _raise(
    session: AsyncSession,
    kind: ReviewFlagKind,
    country: str,
    unit: str | None,
    case_ids: list[str],
    threshold: int,
    now: datetime,
    since: Any,
    traceparent: str | None,
) -> ReviewFlagRaised | None:
    # One flag per unit or country per window: a review, not an alarm that rings at every change. The lock
    # serialises two transactions that would both find no flag yet.
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtext(:subject))"),
        {"subject": f"{kind.value}|{country}|{unit}"},
    )
    same_unit = col(ReviewFlagRow.unit) == unit if unit is not None else col(ReviewFlagRow.unit).is_(None)
    existing = (
        await session.execute(
            select(col(ReviewFlagRow.id)).where(
                col(ReviewFlagRow.kind) == kind.value,
                col(ReviewFlagRow.police_contributing_country) == country,
                same_unit,
                func.date(ReviewFlagRow.raised_at) >= since,
            )
        )
    ).first()
    if existing:
        return None
    flag = ReviewFlagRaised(
        flag_id=str(uuid.uuid4()),
        kind=kind,
        police_contributing_country=country,
        unit=unit,
        case_ids=sorted(case_ids),
        count=len(case_ids),
        threshold=threshold,
        raised_at=now,
    )
    session.add(
        ReviewFlagRow(
            id=flag.flag_id,
            kind=kind.value,
            police_contributing_country=country,
            unit=unit,
            case_ids=flag.case_ids,
            count=flag.count,
            threshold=threshold,
            raised_at=now,
        )
    )
    record_event(session, flag, key=country, traceparent=traceparent)
    return flag


def reseal_identity(row: VictimIdentityRow, ciphertext: bytes) -> None:
    """A sealed identity re-encrypted (issue 20, `uncops rekey cases`): written when the caller commits."""
    row.ciphertext = ciphertext
