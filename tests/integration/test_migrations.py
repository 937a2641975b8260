"""Each service's migrations apply to an empty database, are idempotent, and downgrade cleanly."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from deploy.stack import LocalStack
from services.common.migrations import current_revision, downgrade, head_revision, upgrade

TABLES = {
    "pledges": {"outbox", "inbox", "pledge", "pledge_import", "alembic_version", "idempotency_key"},
    "cases": {
        "outbox",
        "inbox",
        "alembic_version",
        "case_file",
        "victim_identity",
        "case_audit",
        "case_reference_counter",
        "review_flag",
        "case_statistics",
        "case_statistics_headline",
        "idempotency_key",
    },
    "summit": {
        "outbox",
        "inbox",
        "summit",
        "milestone",
        "summit_pledge",
        "funding_receipt",
        "budget_line",
        "expenditure",
        "public_allegation",
        "delegation",
        "participant",
        "room",
        "agenda_session",
        "agenda_session_person",
        "programme_release",
        "calendar_feed",
        "summit_audit",
        "alembic_version",
        "idempotency_key",
    },
    # Notifications to people (issue 18): the console's own database.
    "console": {
        "inbox",
        "person",
        "case_projection",
        "notification",
        "notification_preference",
        "email_outbox",
        "alembic_version",
    },
    # The partner gateway (issue 18); it publishes nothing, but its runtime's relay reads an outbox.
    "partners": {
        "outbox",
        "inbox",
        "partner",
        "webhook_subscription",
        "webhook_delivery",
        "webhook_attempt",
        "partner_notification",
        "alembic_version",
        "idempotency_key",
    },
}


@pytest.mark.parametrize("service", sorted(TABLES))
async def test_migrations_on_an_empty_database(stack: LocalStack, service: str) -> None:
    name = f"migration_test_{service}_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{stack.ports.postgres}/postgres")
    await admin.execute(f'CREATE DATABASE "{name}"')
    database_url = f"postgresql+asyncpg://postgres@127.0.0.1:{stack.ports.postgres}/{name}"
    try:
        await asyncio.to_thread(upgrade, service, database_url)
        first = await _tables(stack, name)
        await asyncio.to_thread(upgrade, service, database_url)  # again: nothing to do, nothing breaks
        assert await _tables(stack, name) == first == TABLES[service]
        assert await asyncio.to_thread(current_revision, database_url) == head_revision(service, database_url)
        await asyncio.to_thread(downgrade, service, database_url)
        assert await _tables(stack, name) == {"alembic_version"}
        await asyncio.to_thread(upgrade, service, database_url)
        assert await _tables(stack, name) == TABLES[service]
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


async def _tables(stack: LocalStack, database: str) -> set[str]:
    conn = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{stack.ports.postgres}/{database}")
    try:
        rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {r["tablename"] for r in rows}
    finally:
        await conn.close()
