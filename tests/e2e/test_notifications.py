"""Notifications to people (issue 18), through the real services: people sign in to the console (which
records them with their email and language), a real case is opened, deadline events reach the restricted
cases topic, and the console's consumer (its own process) tells the people responsible: in the console
(the bell, the list, mark as read) and by email, read back as the .eml files the local mail catcher wrote.

Deadline events are produced onto the topic with the contracts' encode_kafka: driving a case to a deadline
takes days (the workflows' own tests cover the deadlines; here, what the console does with them)."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import httpx
import pytest_asyncio
from aiokafka import AIOKafkaProducer
from sqlalchemy import text

from deploy.stack import LocalStack
from services.common.auth import Role
from services.common.database import create_engine, session_factory
from services.common.settings import Settings
from services.console.domain.notifications import KINDS, message_id
from services.console.service.notifications import compose_digests
from tests.conftest import bearer, eventually, url
from uncops_contracts import CloudEvent, encode_kafka
from uncops_contracts.cases import CaseDeadlineApproaching, CaseDeadlineMissed, DeadlineKind
from uncops_contracts.topics import CASES

SECRET = f"SECRET-DESCRIPTION-{uuid.uuid4().hex[:8]}"
TODAY = datetime.now(UTC).date()


class Person:
    def __init__(self, client: httpx.AsyncClient, email: str) -> None:
        self.client = client
        self.email = email

    async def csrf(self, path: str = "/notifications") -> str:
        page = await self.client.get(path)
        assert page.status_code == 200, page.text
        found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert found is not None
        return found.group(1)


async def sign_in(role: str, email: str, member_state: str = "", language: str = "en") -> Person:
    """Signed in through the console's own sign-in form, as a browser would (the Email field included)."""
    client = httpx.AsyncClient(base_url=url("console", ""), timeout=30)
    person = Person(client, email)
    token = await person.csrf("/sign-in")
    if language == "fr":
        chosen = await client.post(
            "/language", data={"csrf_token": token, "language": "fr", "next": "/sign-in"}
        )
        assert chosen.status_code == 303
    signed = await client.post(
        "/sign-in",
        data={"csrf_token": token, "role": role, "member_state": member_state, "email": email, "next": "/"},
    )
    assert signed.status_code == 303, signed.text
    return person


def caught(mail: Path, address: str) -> list[EmailMessage]:
    """The messages the mail catcher wrote to ``address``."""
    found = []
    for path in sorted(mail.glob("*.eml")):
        with path.open("rb") as source:
            message = BytesParser(policy=policy.default).parse(source)
        if message["To"] == address:
            assert isinstance(message, EmailMessage)
            found.append(message)
    return found


def body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


async def publish(settings: Settings, events: list[CloudEvent]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, acks="all")
    await producer.start()
    try:
        for event in events:
            headers, value = encode_kafka(event)
            await producer.send_and_wait(CASES.name, value, key=event.subject.encode(), headers=headers)
    finally:
        await producer.stop()


def deadline(case_id: str, reference: str, missed: bool = False, days: int = 5) -> CloudEvent:
    kind = CaseDeadlineMissed if missed else CaseDeadlineApproaching
    payload = kind(
        case_id=case_id,
        reference=reference,
        kind=DeadlineKind.PCC_REPLY,
        due_at=datetime.now(UTC) + timedelta(days=days),
        owner="police_contributing_country",
        police_contributing_country="SEN",
    )
    return CloudEvent.of(payload, subject=case_id)


@pytest_asyncio.fixture
async def console_db(platform: LocalStack) -> AsyncIterator[Any]:
    engine = create_engine(platform.database_url("console"), pool_size=2)
    yield engine
    await engine.dispose()


async def test_deadline_emails_reach_the_people_responsible_once_each_through_a_consumer_crash(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient, console_db: Any
) -> None:
    tag = uuid.uuid4().hex[:8]
    officer = await sign_in("conduct_officer", f"officer-{tag}@un.test")
    focal = await sign_in("state_focal_point", f"focal-{tag}@sen.test", "SEN", language="fr")
    other_state = await sign_in("state_focal_point", f"focal-{tag}@fra.test", "FRA")
    planner = await sign_in("planner", f"planner-{tag}@un.test")
    opened = await http.post(
        url("cases", "/cases"),
        headers=bearer(settings, Role.CONDUCT_OFFICER),
        json={
            "mission": "MINUSCA",
            "personnel_category": "individual_police_officer",
            "police_contributing_country": "SEN",
            "allegation_type": "sexual_exploitation",
            "incident_date": str(TODAY - timedelta(days=20)),
            "reported_on": str(TODAY - timedelta(days=2)),
            "how_reported": "community-based complaint network",
            "victims": 1,
            "description": SECRET,
        },
    )
    assert opened.status_code == 201, opened.text
    case = opened.json()
    case_id, reference = case["case_id"], case["reference"]

    async def projected() -> bool:
        async with console_db.connect() as conn:
            found = await conn.execute(
                text("SELECT 1 FROM case_projection WHERE case_id = :c"), {"c": case_id}
            )
            return found.first() is not None

    await eventually(projected, timeout=60)
    mail = platform.mail_dir

    # A warning: the officer (every mission) in English, SEN's focal point in French; not FRA, not planners.
    first = deadline(case_id, reference)
    await publish(settings, [first])

    async def both_told() -> bool:
        return bool(caught(mail, officer.email)) and bool(caught(mail, focal.email))

    await eventually(both_told, timeout=60)
    [to_officer] = caught(mail, officer.email)
    [to_focal] = caught(mail, focal.email)
    assert reference in str(to_officer["Subject"]) and "the reply to the notification" in str(
        to_officer["Subject"]
    )
    assert f"http://127.0.0.1:{platform.ports.console}/cases/{case_id}" in body(to_officer)
    assert "Dossier" in str(to_focal["Subject"]) and "la réponse à la notification" in str(
        to_focal["Subject"]
    )
    assert "L'ouvrir dans la console UNCOPS" in body(to_focal)
    assert to_focal["Content-Language"] == "fr"
    for message in (to_officer, to_focal):
        assert SECRET not in message.as_string()
        assert message["Message-ID"] in {message_id(first.id, s) for s in await subjects(console_db, tag)}

    # Twenty deadlines missed, the consumer killed -9 as they arrive, started again, the first event
    # delivered again: still exactly one email per event and person.
    missed = [deadline(case_id, reference, missed=True, days=-n) for n in range(1, 21)]
    await publish(settings, missed[:10])
    platform.kill("console-consume")
    await publish(settings, [*missed[10:], first])
    platform.start_service("console", "consume", UNCOPS_CONSUMER_STALL_SECONDS="15", UNCOPS_DIGESTS="false")

    async def all_sent() -> bool:
        return len(caught(mail, officer.email)) == 21 and len(caught(mail, focal.email)) == 21

    await eventually(all_sent, timeout=120)
    await asyncio.sleep(3)  # anything sent twice would have a second Message-ID by now
    for person in (officer, focal):
        ids = [str(m["Message-ID"]) for m in caught(mail, person.email)]
        assert len(ids) == len(set(ids)) == 21
    assert caught(mail, other_state.email) == [] and caught(mail, planner.email) == []
    async with console_db.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT count(*), count(sent_at), count(DISTINCT (event_id, person)) FROM email_outbox "
                "WHERE address IN (:a, :b)"
            ),
            {"a": officer.email, "b": focal.email},
        )
        assert tuple(rows.one()) == (42, 42, 42)

    # In the console: the bell counts them, the list links to the case in pages of 20, newest first; mark
    # all as read empties the bell.
    listed = await officer.client.get("/notifications")
    assert "Notifications, 21 unread" in listed.text
    assert listed.text.count(f'href="/cases/{case_id}"') == 20 and SECRET not in listed.text
    older = re.search(r'href="(/notifications\?after=[^"]+)">Older notifications', listed.text)
    assert older is not None
    rest = await officer.client.get(older.group(1).replace("&amp;", "&"))
    assert rest.text.count(f'href="/cases/{case_id}"') == 1 and "Older notifications" not in rest.text
    token = await officer.csrf()
    assert (await officer.client.post("/notifications/read", data={"csrf_token": token})).status_code == 303
    assert "unread" not in (await officer.client.get("/notifications")).text.split("<main")[0]
    for person in (officer, focal, other_state, planner):
        await person.client.aclose()


async def subjects(console_db: Any, tag: str) -> set[str]:
    async with console_db.connect() as conn:
        found = await conn.execute(
            text("SELECT subject FROM person WHERE email LIKE :t"), {"t": f"%-{tag}@%"}
        )
        return {row[0] for row in found}


async def test_a_daily_digest_gathers_a_persons_notices_in_their_language(
    platform: LocalStack, settings: Settings, console_db: Any
) -> None:
    tag = uuid.uuid4().hex[:8]
    focal = await sign_in("state_focal_point", f"digest-{tag}@sen.test", "SEN", language="fr")
    token = await focal.csrf("/notifications/settings")
    # What the form posts: every radio group's choice (each is checked, immediately by default).
    chosen = {"csrf_token": token, "email": focal.email, **dict.fromkeys(KINDS, "immediate")}
    chosen["case_deadline_missed"] = "digest"
    saved = await focal.client.post("/notifications/settings", data=chosen)
    assert saved.status_code == 303, saved.text
    page = await focal.client.get("/notifications/settings")
    assert 'id="case_deadline_missed-digest" name="case_deadline_missed" value="digest" checked' in page.text

    events = [deadline(f"digest-{tag}-{n}", f"DIGEST-{tag}-{n}", missed=True, days=-n) for n in (1, 2)]
    await publish(settings, events)

    async def waiting() -> bool:
        async with console_db.connect() as conn:
            found = await conn.execute(
                text(
                    "SELECT count(*) FROM notification n JOIN person p ON p.subject = n.person "
                    "WHERE p.email = :e AND n.delivery = 'digest' AND n.digested_at IS NULL"
                ),
                {"e": focal.email},
            )
            return bool(found.scalar_one() == 2)

    await eventually(waiting, timeout=60)
    await asyncio.sleep(2)
    assert caught(platform.mail_dir, focal.email) == []  # a digest, not an email each
    console_settings = settings.model_copy(update={"console_port": platform.ports.console})
    await compose_digests(session_factory(console_db), console_settings, datetime.now(UTC))

    async def digested() -> list[EmailMessage]:
        return caught(platform.mail_dir, focal.email)

    [message] = await eventually(digested, timeout=60)
    text_ = body(message)
    assert "Récapitulatif quotidien UNCOPS" in str(message["Subject"])
    assert "Votre récapitulatif quotidien : 2 notifications" in text_
    assert "== Dossiers ==" in text_
    assert text_.index(f"DIGEST-{tag}-1") < text_.index(f"DIGEST-{tag}-2")
    # A second composition the same day writes nothing more.
    await compose_digests(session_factory(console_db), console_settings, datetime.now(UTC))
    await asyncio.sleep(3)
    assert len(caught(platform.mail_dir, focal.email)) == 1
    await focal.client.aclose()


async def test_an_email_the_smtp_server_cannot_take_waits_and_goes_later(
    platform: LocalStack, settings: Settings, console_db: Any
) -> None:
    tag = uuid.uuid4().hex[:8]
    officer = await sign_in("conduct_officer", f"retry-{tag}@un.test")
    platform.stop("mailcatcher")
    try:
        event = deadline(f"retry-{tag}", f"RETRY-{tag}")
        await publish(settings, [event])

        async def failed_once() -> bool:
            async with console_db.connect() as conn:
                found = await conn.execute(
                    text("SELECT attempts, last_error, sent_at FROM email_outbox WHERE address = :a"),
                    {"a": officer.email},
                )
                row = found.first()
                return row is not None and row[0] >= 1 and row[1] is not None and row[2] is None

        await eventually(failed_once, timeout=60)
    finally:
        platform.start_mailcatcher()

    async def arrived() -> list[EmailMessage]:
        return caught(platform.mail_dir, officer.email)

    [message] = await eventually(arrived, timeout=120)
    assert f"RETRY-{tag}" in str(message["Subject"])
    await officer.client.aclose()
