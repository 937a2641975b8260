"""The console's email outbox against the real PostgreSQL and the local mail catcher (issue 18): an email the
SMTP server accepted whose "sent" mark never committed (the process died in between) is sent again as the
same message — the same Message-ID, so the mail catcher keeps one file — and is then marked sent."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import text

from deploy.stack import LocalStack
from services.common.database import create_engine, session_factory
from services.common.settings import Settings
from services.console import store
from services.console.domain.notifications import message_id
from services.console.service import notifications


def caught(stack: LocalStack, tag: str) -> list[str]:
    return [p.name for p in stack.mail_dir.glob("*.eml") if tag in p.read_text(errors="replace")]


async def test_an_email_sent_again_after_a_crash_is_the_same_message(
    stack: LocalStack, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    tag = uuid.uuid4().hex
    engine = create_engine(stack.database_url("console"), pool_size=2)
    sessions = session_factory(engine)
    smtp = settings.model_copy(update={"smtp_port": stack.ports.smtp})
    try:
        async with sessions() as session, session.begin():
            await store.add_email(
                session,
                {
                    "event_id": f"event-{tag}",
                    "person": "person-1",
                    "address": f"officer-{tag}@un.test",
                    "language": "en",
                    "message_id": message_id(f"event-{tag}", "person-1"),
                    "subject": f"[UNCOPS] {tag}",
                    "body": "A deadline approaches.",
                },
            )

        async def crash(*_: Any) -> None:
            raise RuntimeError("killed between the SMTP server's acceptance and the mark")

        monkeypatch.setattr(store, "mark_sent", crash)
        with pytest.raises(RuntimeError):
            await notifications.send_waiting(sessions, smtp)
        assert len(caught(stack, tag)) == 1  # the server has it; our record does not say so
        monkeypatch.undo()

        await notifications.send_waiting(sessions, smtp)
        assert caught(stack, tag) == [f"{message_id(f'event-{tag}', 'person-1').strip('<>')}.eml"]
        async with engine.connect() as conn:
            row = await conn.execute(
                text("SELECT sent_at IS NOT NULL FROM email_outbox WHERE event_id = :e"),
                {"e": f"event-{tag}"},
            )
            assert row.scalar_one() is True
    finally:
        await engine.dispose()
