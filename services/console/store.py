"""Writes to the console's own database (issue 18): the people directory, the case projection,
notifications, preferences and the email outbox. Every insert that an event makes is ``ON CONFLICT DO
NOTHING`` on its (event, person) key: applied twice, it changes nothing."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import func, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.console.models import CaseProjectionRow, EmailRow, NotificationRow, PersonRow, PreferenceRow


async def record_person(session: AsyncSession, values: Mapping[str, Any]) -> None:
    """Adds or refreshes a person; an email they set before is kept when this sign-in brings none."""
    statement = insert(PersonRow).values(**values)
    changed: dict[str, Any] = {n: statement.excluded[n] for n in values if n not in ("subject", "email")}
    changed["email"] = func.coalesce(statement.excluded.email, col(PersonRow.email))
    await session.execute(statement.on_conflict_do_update(index_elements=["subject"], set_=changed))


async def set_email(session: AsyncSession, subject: str, email: str | None) -> None:
    await session.execute(update(PersonRow).where(col(PersonRow.subject) == subject).values(email=email))


async def set_language(session: AsyncSession, subject: str, language: str) -> None:
    await session.execute(
        update(PersonRow).where(col(PersonRow.subject) == subject).values(language=language)
    )


async def set_preferences(session: AsyncSession, subject: str, chosen: Mapping[str, str]) -> None:
    for kind, delivery in chosen.items():
        statement = insert(PreferenceRow).values(person=subject, kind=kind, delivery=delivery)
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=["person", "kind"], set_={"delivery": statement.excluded.delivery}
            )
        )


async def project_case(session: AsyncSession, values: Mapping[str, Any]) -> None:
    """The case as its latest version says; an older event arriving late changes nothing."""
    statement = insert(CaseProjectionRow).values(**values)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["case_id"],
            set_={name: statement.excluded[name] for name in values if name != "case_id"},
            where=col(CaseProjectionRow.case_version) <= statement.excluded.case_version,
        )
    )


async def add_notification(session: AsyncSession, values: Mapping[str, Any]) -> bool:
    inserted = await session.execute(
        insert(NotificationRow).values(**values).on_conflict_do_nothing().returning(col(NotificationRow.id))
    )
    return inserted.first() is not None


async def add_email(session: AsyncSession, values: Mapping[str, Any]) -> bool:
    inserted = await session.execute(
        insert(EmailRow).values(**values).on_conflict_do_nothing().returning(col(EmailRow.id))
    )
    return inserted.first() is not None


async def mark_read(session: AsyncSession, subject: str, ids: Iterable[int] | None, now: datetime) -> None:
    """Marks the person's notifications read: those of ``ids``, or all of them."""
    statement = (
        update(NotificationRow)
        .where(col(NotificationRow.person) == subject, col(NotificationRow.read_at).is_(None))
        .values(read_at=now)
    )
    if ids is not None:
        statement = statement.where(col(NotificationRow.id).in_(list(ids)))
    await session.execute(statement)


async def mark_digested(session: AsyncSession, ids: Iterable[int], now: datetime) -> None:
    await session.execute(
        update(NotificationRow).where(col(NotificationRow.id).in_(list(ids))).values(digested_at=now)
    )


async def mark_sent(session: AsyncSession, email_id: int, now: datetime) -> None:
    await session.execute(update(EmailRow).where(col(EmailRow.id) == email_id).values(sent_at=now))


async def mark_failed(session: AsyncSession, email_id: int, error: str, retry_at: datetime) -> None:
    await session.execute(
        update(EmailRow)
        .where(col(EmailRow.id) == email_id)
        .values(attempts=col(EmailRow.attempts) + 1, last_error=error[:1000], next_attempt_at=retry_at)
    )
