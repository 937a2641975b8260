"""Reads of the console's own database (issue 18): the directory, a person's notifications and choices, the
emails waiting to be sent."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.console.models import CaseProjectionRow, EmailRow, NotificationRow, PersonRow, PreferenceRow


async def people(session: AsyncSession, roles: Sequence[str]) -> list[PersonRow]:
    found = await session.execute(
        select(PersonRow).where(col(PersonRow.role).in_(roles)).order_by(col(PersonRow.subject))
    )
    return list(found.scalars())


async def person(session: AsyncSession, subject: str) -> PersonRow | None:
    return await session.get(PersonRow, subject)


async def cases(session: AsyncSession, case_ids: Sequence[str]) -> list[CaseProjectionRow]:
    found = await session.execute(
        select(CaseProjectionRow).where(col(CaseProjectionRow.case_id).in_(case_ids))
    )
    return list(found.scalars())


async def preferences(session: AsyncSession, subjects: Sequence[str]) -> dict[str, dict[str, str]]:
    found = await session.execute(select(PreferenceRow).where(col(PreferenceRow.person).in_(subjects)))
    chosen: dict[str, dict[str, str]] = {}
    for row in found.scalars():
        chosen.setdefault(row.person, {})[row.kind] = row.delivery
    return chosen


async def unread(session: AsyncSession, subject: str) -> int:
    count = await session.execute(
        select(func.count())
        .select_from(NotificationRow)
        .where(col(NotificationRow.person) == subject, col(NotificationRow.read_at).is_(None))
    )
    return int(count.scalar_one())


async def notifications(
    session: AsyncSession, subject: str, limit: int, before: tuple[datetime, int] | None = None
) -> list[NotificationRow]:
    """The person's notifications, newest first, a keyset page after ``before`` (created_at, id)."""
    statement = select(NotificationRow).where(col(NotificationRow.person) == subject)
    if before is not None:
        statement = statement.where(
            tuple_(col(NotificationRow.created_at), col(NotificationRow.id)) < tuple_(*before)
        )
    found = await session.execute(
        statement.order_by(col(NotificationRow.created_at).desc(), col(NotificationRow.id).desc()).limit(
            limit
        )
    )
    return list(found.scalars())


async def digest_pending(session: AsyncSession) -> dict[str, list[NotificationRow]]:
    """Notifications chosen for a digest and not yet in one, by person."""
    found = await session.execute(
        select(NotificationRow)
        .where(col(NotificationRow.delivery) == "digest", col(NotificationRow.digested_at).is_(None))
        .order_by(col(NotificationRow.person), col(NotificationRow.created_at))
        .with_for_update(skip_locked=True)
    )
    pending: dict[str, list[NotificationRow]] = {}
    for row in found.scalars():
        pending.setdefault(row.person, []).append(row)
    return pending


async def claim_emails(session: AsyncSession, now: datetime, limit: int) -> list[EmailRow]:
    """Emails due to be sent, locked for this sender; another sender skips them."""
    found = await session.execute(
        select(EmailRow)
        .where(col(EmailRow.sent_at).is_(None), col(EmailRow.next_attempt_at) <= now)
        .order_by(col(EmailRow.id))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(found.scalars())
