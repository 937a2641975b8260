"""Notifications to people (issue 18): the people directory kept at sign-in, events turned into notifications
and emails (in the consumer's transaction, with its inbox row), a person's list and choices, the daily
digest, and the sender that hands the email outbox to the SMTP server.

Exactly one email per event and person: the notification and its email are written in the transaction that
records the event in the inbox (a redelivered event is skipped there), each unique on (event, person); the
sender marks an email sent after the SMTP server took it, and a resend after a crash in between carries the
same Message-ID (domain.notifications.message_id), so the receiving side sees the same message again.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import aiosmtplib
import jwt
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from services.common.auth import TokenError, missions_claim
from services.common.observability import get_logger
from services.common.runtime import BackgroundTask
from services.common.settings import Settings
from services.console import queries, store
from services.console.domain.notifications import (
    KINDS,
    CaseFacts,
    DigestItem,
    Notice,
    Someone,
    delivery_of,
    digest,
    message_id,
    notice_of,
    recipients,
    text_of,
)
from services.console.domain.person import LANGUAGES, Language, Person
from services.console.models import EmailRow, NotificationRow, PersonRow
from services.console.pages import day_in, environment, translations
from uncops_contracts import CloudEvent
from uncops_contracts.cases import CaseChanged

log = get_logger(__name__)
PAGE_SIZE = 20
SEND_BATCH = 20
_TRANSIENT = (OSError, aiosmtplib.SMTPException, TimeoutError)


def _language(value: str | None) -> Language:
    return value if value in LANGUAGES else "en"


def someone(row: PersonRow) -> Someone:
    return Someone(
        subject=row.subject,
        role=row.role,
        member_state=row.member_state,
        missions=frozenset(row.missions) if row.missions is not None else None,
        language=row.language,
        email=row.email,
    )


def missions_of(token: str) -> list[str] | None:
    """The missions a person's token says they serve (None: every mission); the token is one the console
    minted or the identity provider signed, read here only for its claim."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
        found = missions_claim(claims)
    except (jwt.PyJWTError, TokenError):
        return None
    return sorted(found) if found is not None else None


async def record_sign_in(
    sessions: async_sessionmaker[AsyncSession],
    person: Person,
    language: str,
    email: str | None,
    now: datetime,
) -> None:
    """The directory's entry for a person who just signed in: who they are now, and the email the sign-in
    brought (an email set before stays when it brings none)."""
    async with sessions() as session, session.begin():
        await store.record_person(
            session,
            {
                "subject": person.subject,
                "name": person.name,
                "role": person.role,
                "member_state": person.member_state,
                "missions": missions_of(person.token),
                "language": _language(language),
                "email": email or None,
                "signed_in_at": now,
            },
        )


async def record_language(sessions: async_sessionmaker[AsyncSession], subject: str, language: str) -> None:
    async with sessions() as session, session.begin():
        await store.set_language(session, subject, _language(language))


# ---------------------------------------------------------------- from events


def kind_of(event: CloudEvent) -> str:
    """``org.un.uncops.cases.case_deadline_missed.v1`` -> ``case_deadline_missed``."""
    return event.type.split(".")[-2]


async def apply_event(session: AsyncSession, event: CloudEvent, settings: Settings) -> None:
    """One event, in the consumer's transaction: a case's facts kept, or the notices and emails it makes."""
    kind = kind_of(event)
    if kind == "case_changed":
        changed = CaseChanged.model_validate(event.data)
        await store.project_case(
            session,
            {
                "case_id": changed.case_id,
                "reference": changed.case.reference,
                "mission": changed.case.mission,
                "police_contributing_country": changed.case.police_contributing_country,
                "assigned_officer": changed.case.assigned_officer,
                "case_version": changed.case_version,
            },
        )
        return
    if kind not in KINDS:
        return
    data: dict[str, Any] = dict(event.data)
    case: CaseFacts | None = None
    if "case_id" in data:
        found = await queries.cases(session, [str(data["case_id"])])
        case = _facts(found[0]) if found else None
    if kind == "review_flag_raised":
        flagged = await queries.cases(session, [str(c) for c in data.get("case_ids", ())])
        data["missions"] = sorted({c.mission for c in flagged})
    notice = notice_of(kind, data, case)
    if notice is None:
        return
    directory = {
        row.subject: row
        for row in await queries.people(session, ("conduct_officer", "state_focal_point", "planner", "admin"))
    }
    chosen = recipients(kind, data, [someone(row) for row in directory.values()], case)
    choices = await queries.preferences(session, chosen)
    for subject in chosen:
        delivery = delivery_of(choices.get(subject, {}), kind)
        await store.add_notification(
            session,
            {
                "event_id": event.id,
                "person": subject,
                "kind": kind,
                "link": notice.link,
                "facts": dict(notice.facts),
                "delivery": delivery,
                "created_at": event.time,
            },
        )
        person = directory[subject]
        if delivery == "immediate" and person.email:
            await store.add_email(session, immediate_email(settings, event.id, person, notice))


def _facts(row: Any) -> CaseFacts:
    return CaseFacts(
        case_id=row.case_id,
        reference=row.reference,
        mission=row.mission,
        police_contributing_country=row.police_contributing_country,
        assigned_officer=row.assigned_officer,
    )


# ---------------------------------------------------------------- what an email says


def said(notice: Notice, language: Language) -> str:
    """A notice's sentence in ``language``."""
    catalogue = translations(language)
    return text_of(notice, catalogue.gettext, lambda day: day_in(day, language))


def _email_text(template: str, language: Language, **context: Any) -> str:
    return environment(language).get_template(template).render(**context)


def immediate_email(settings: Settings, event_id: str, person: PersonRow, notice: Notice) -> dict[str, Any]:
    language = _language(person.language)
    text = said(notice, language)
    base = settings.public_console_url
    return {
        "event_id": event_id,
        "person": person.subject,
        "address": person.email,
        "language": language,
        "message_id": message_id(event_id, person.subject),
        "subject": f"[UNCOPS] {text}",
        "body": _email_text(
            "email/notification.txt",
            language,
            text=text,
            link=base + notice.link,
            settings_link=base + "/notifications/settings",
        ),
    }


def notice_of_row(row: NotificationRow) -> Notice:
    return Notice(row.kind, row.link, {k: str(v) for k, v in row.facts.items()})


def digest_email(
    settings: Settings, day: str, person: PersonRow, rows: Sequence[NotificationRow]
) -> dict[str, Any]:
    language = _language(person.language)
    base = settings.public_console_url
    items = [DigestItem(notice_of_row(row), row.created_at) for row in rows]
    groups = [
        (area, [(said(item.notice, language), base + item.notice.link) for item in found])
        for area, found in digest(items)
    ]
    event_id = f"digest-{day}"
    title = translations(language).gettext("UNCOPS daily digest")
    return {
        "event_id": event_id,
        "person": person.subject,
        "address": person.email,
        "language": language,
        "message_id": message_id(event_id, person.subject),
        "subject": f"[UNCOPS] {title} {day}",
        "body": _email_text(
            "email/digest.txt",
            language,
            count=len(rows),
            groups=groups,
            settings_link=base + "/notifications/settings",
        ),
    }


async def compose_digests(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, now: datetime
) -> int:
    """Each person's digest of ``now``'s day, of every notice chosen for a digest not yet in one: one email a
    person a day (its key is the day), the notices marked in the same transaction. Notices that come after
    the day's digest wait for the next day's. Returns the number of digests written."""
    day = now.date().isoformat()
    written = 0
    async with sessions() as session, session.begin():
        pending = await queries.digest_pending(session)
        for subject, rows in pending.items():
            person = await queries.person(session, subject)
            ids = [row.id for row in rows if row.id is not None]
            if person is None or not person.email:
                await store.mark_digested(session, ids, now)  # no address: nothing to send, ever
                continue
            if await store.add_email(session, digest_email(settings, day, person, rows)):
                await store.mark_digested(session, ids, now)
                written += 1
    return written


# ---------------------------------------------------------------- a person's list and choices


@dataclass(frozen=True)
class Shown:
    id: int
    text: str
    link: str
    at: datetime
    read: bool
    area: str


async def unread(sessions: async_sessionmaker[AsyncSession], subject: str) -> int:
    async with sessions() as session:
        return await queries.unread(session, subject)


async def page_of(
    sessions: async_sessionmaker[AsyncSession],
    subject: str,
    language: Language,
    before: tuple[datetime, int] | None,
) -> tuple[list[Shown], tuple[datetime, int] | None]:
    """A page of the person's notifications, newest first, and the key of the next page (None: the last)."""
    async with sessions() as session:
        rows = await queries.notifications(session, subject, PAGE_SIZE + 1, before)
    shown = [
        Shown(
            id=row.id or 0,
            text=said(notice_of_row(row), language),
            link=row.link,
            at=row.created_at,
            read=row.read_at is not None,
            area=KINDS.get(row.kind, "cases"),
        )
        for row in rows[:PAGE_SIZE]
    ]
    more = len(rows) > PAGE_SIZE
    return shown, ((shown[-1].at, shown[-1].id) if more and shown else None)


async def mark_read(
    sessions: async_sessionmaker[AsyncSession], subject: str, ids: Sequence[int] | None, now: datetime
) -> None:
    async with sessions() as session, session.begin():
        await store.mark_read(session, subject, ids, now)


async def choices_of(sessions: async_sessionmaker[AsyncSession], subject: str) -> tuple[dict[str, str], str]:
    """The person's choice for every kind, and their email address ("" when none)."""
    async with sessions() as session:
        chosen = (await queries.preferences(session, [subject])).get(subject, {})
        person = await queries.person(session, subject)
    return {kind: delivery_of(chosen, kind) for kind in KINDS}, (person.email or "") if person else ""


async def save_choices(
    sessions: async_sessionmaker[AsyncSession], person: Person, chosen: dict[str, str], email: str | None
) -> None:
    async with sessions() as session, session.begin():
        if await queries.person(session, person.subject) is None:
            await store.record_person(
                session,
                {
                    "subject": person.subject,
                    "name": person.name,
                    "role": person.role,
                    "member_state": person.member_state,
                    "missions": missions_of(person.token),
                    "language": "en",
                    "email": None,
                    "signed_in_at": datetime.now(UTC),
                },
            )
        await store.set_preferences(session, person.subject, chosen)
        await store.set_email(session, person.subject, email)


# ---------------------------------------------------------------- sending


def _message(settings: Settings, row: EmailRow) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = row.address
    message["Subject"] = row.subject
    message["Message-ID"] = row.message_id
    message["Date"] = email.utils.format_datetime(row.created_at)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(row.body)
    message["Content-Language"] = row.language  # after set_content, which replaces the Content-* headers
    return message


async def _send(settings: Settings, message: EmailMessage) -> None:
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
    async for attempt in AsyncRetrying(
        stop=stop_after_attempt(3),
        wait=wait_exponential(multiplier=0.5, max=4),
        retry=retry_if_exception_type(_TRANSIENT),
        reraise=True,
    ):
        with attempt:
            await aiosmtplib.send(
                message,
                hostname=settings.smtp_host,
                port=settings.smtp_port,
                start_tls=settings.smtp_starttls,
                username=settings.smtp_username,
                password=password,
                timeout=settings.smtp_timeout_seconds,
            )


def retry_after(attempts: int) -> timedelta:
    """How long a failed email waits before the next try: 30 s, doubling, at most an hour."""
    return timedelta(seconds=min(30 * 2 ** min(attempts, 10), 3600))


async def send_waiting(sessions: async_sessionmaker[AsyncSession], settings: Settings) -> int:
    """Sends the emails due, one transaction each (its row locked while it is sent, so another sender
    skips it); returns how many were sent."""
    sent = 0
    for _ in range(SEND_BATCH):
        async with sessions() as session, session.begin():
            now = datetime.now(UTC)
            claimed = await queries.claim_emails(session, now, 1)
            if not claimed:
                break
            row = claimed[0]
            assert row.id is not None
            try:
                await _send(settings, _message(settings, row))
            except _TRANSIENT as failed:
                log.warning("email not sent", email=row.id, attempts=row.attempts + 1, error=repr(failed))
                await store.mark_failed(session, row.id, repr(failed), now + retry_after(row.attempts))
                continue
            await store.mark_sent(session, row.id, datetime.now(UTC))
            sent += 1
    return sent


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def sender_loop(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, stop: asyncio.Event
) -> None:
    """Sends the email outbox while the process runs; a failure (the database away) waits and tries again."""
    while not stop.is_set():
        try:
            sent = await send_waiting(sessions, settings)
        except Exception as failed:
            log.warning("email sender failed", error=repr(failed))
            sent = 0
        if sent < SEND_BATCH:
            await _pause(stop, 1.0)


async def digest_loop(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, stop: asyncio.Event
) -> None:
    """Each minute, once the digest hour (UTC) has come, writes the day's digests not yet written."""
    while not stop.is_set():
        now = datetime.now(UTC)
        if now.hour >= settings.notification_digest_hour:
            try:
                await compose_digests(sessions, settings, now)
            except Exception as failed:
                log.warning("digests not composed", error=repr(failed))
        await _pause(stop, 60.0)


def loops(sessions: async_sessionmaker[AsyncSession], settings: Settings) -> list[BackgroundTask]:
    """The email sender and (unless turned off) the daily digest, each run with the runtime's stop event."""
    found: list[BackgroundTask] = [("email-sender", functools.partial(sender_loop, sessions, settings))]
    if settings.notification_digests:
        found.append(("email-digest", functools.partial(digest_loop, sessions, settings)))
    return found
