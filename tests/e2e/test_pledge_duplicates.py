"""Possible duplicates of a single submission, looked up by index (migrations 0005, 0006), on the real stack:
found among many look-alike pledges, following a title's edit, and for rows stored before the migration."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import asyncpg
import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from deploy.stack import LocalStack
from services.common.auth import Role
from services.common.migrations import upgrade
from services.common.settings import Settings
from services.pledges.domain.duplicates import normal_title, title_grams
from tests.conftest import bearer
from tests.e2e.test_pledge_lifecycle import step, submit


async def test_a_duplicate_is_found_among_many_look_alike_pledges(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    jordan = bearer(settings, Role.STATE_FOCAL_POINT, "JOR")
    kind = "equipment_training"
    tag = uuid.uuid4().hex[:6]
    original = await submit(
        http, jordan, member_state="JOR", kind=kind, title=f"Armoured personnel carriers {tag}"
    )
    # Look-alikes share most letter pairs with one another but none reaches the threshold.
    for n in range(40):
        look_alike = await submit(
            http, jordan, member_state="JOR", kind=kind, title=f"Women in formed police units {tag} {n:03d}"
        )
        assert original["id"] not in look_alike["possible_duplicate_of"]

    again = await submit(
        http, jordan, member_state="JOR", kind=kind, title=f"ARMOURED  personnel carriers {tag}."
    )
    assert again["possible_duplicate_of"] == [original["id"]]
    other_kind = await submit(
        http, jordan, member_state="JOR", kind="other", title=f"Armoured personnel carriers {tag}"
    )
    assert other_kind["possible_duplicate_of"] == []
    other_state = bearer(settings, Role.STATE_FOCAL_POINT, "JAM")
    elsewhere = await submit(
        http, other_state, member_state="JAM", kind=kind, title=f"Armoured personnel carriers {tag}"
    )
    assert elsewhere["possible_duplicate_of"] == []


async def test_long_titles_are_compared_too(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    # Titles up to 300 characters: longer than fuzzystrmatch measured when the database compared them.
    cuba = bearer(settings, Role.STATE_FOCAL_POINT, "CUB")
    tag = uuid.uuid4().hex[:6]
    long_title = f"Community policing {tag} " + "with regular training of local officers " * 7
    short_title = f"Community policing {tag} with regular training of local officers"
    assert len(long_title.strip()) > 255 > len(short_title)
    first = await submit(http, cuba, member_state="CUB", kind="other", title=long_title[:300])
    short = await submit(http, cuba, member_state="CUB", kind="other", title=short_title)
    assert short["possible_duplicate_of"] == []
    again = await submit(http, cuba, member_state="CUB", kind="other", title=long_title[:298] + "!")
    assert again["possible_duplicate_of"] == [first["id"]]
    # 250 characters against stored titles of 300: the database passes the long ones on to Python.
    near = await submit(http, cuba, member_state="CUB", kind="other", title=long_title[:250])
    assert first["id"] in near["possible_duplicate_of"]


async def test_the_lookup_follows_an_edited_title(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient, pledges_db: AsyncEngine
) -> None:
    peru = bearer(settings, Role.STATE_FOCAL_POINT, "PER")
    tag = uuid.uuid4().hex[:6]
    pledge = await submit(
        http,
        peru,
        member_state="PER",
        kind="predeployment_sea_training",
        title=f"Train trainers of police {tag}",
    )
    edited = await step(http, peru, pledge["id"], "edit", title=f"Mobile forensic laboratories {tag}")
    assert edited["title"] == f"Mobile forensic laboratories {tag}"
    async with pledges_db.connect() as conn:
        row = (
            await conn.execute(text("SELECT title_normal FROM pledge WHERE id = :id"), {"id": pledge["id"]})
        ).one()
    assert row.title_normal == f"mobile forensic laboratories {tag}"

    like_new = await submit(
        http,
        peru,
        member_state="PER",
        kind="predeployment_sea_training",
        title=f"Mobile forensic laboratory {tag}",
    )
    assert like_new["possible_duplicate_of"] == [pledge["id"]]
    like_old = await submit(
        http,
        peru,
        member_state="PER",
        kind="predeployment_sea_training",
        title=f"Train trainers of police {tag}",
    )
    assert like_old["possible_duplicate_of"] == []


async def test_the_migration_fills_the_title_columns_of_stored_pledges(stack: LocalStack) -> None:
    name = f"migration_test_titles_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{stack.ports.postgres}/postgres")
    await admin.execute(f'CREATE DATABASE "{name}"')
    database_url = f"postgresql+asyncpg://postgres@127.0.0.1:{stack.ports.postgres}/{name}"
    try:
        await asyncio.to_thread(upgrade, "pledges", database_url, "0004")
        conn = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{stack.ports.postgres}/{name}")
        try:
            await conn.execute(
                "INSERT INTO pledge (id, member_state, co_sponsors, summit, kind, title, text, status,"
                " missed_reports, delivered, possible_duplicate_of, state, submitted_by, submitted_at,"
                " version) VALUES ('p1', 'GHA', '{}', 'UNCOPS-2018', 'other', '  Women  in FPUs ', '',"
                " 'submitted', 0, '{}', '{}', '{}', 'test', $1, 1)",
                datetime.now(UTC),
            )
            await asyncio.to_thread(upgrade, "pledges", database_url, "0005")
            row = await conn.fetchrow("SELECT title_normal, title_grams FROM pledge WHERE id = 'p1'")
            await asyncio.to_thread(upgrade, "pledges", database_url, "0007")
            normal = await conn.fetchval("SELECT title_normal FROM pledge WHERE id = 'p1'")
            grams_column = (
                "SELECT column_default FROM information_schema.columns"
                " WHERE table_name = 'pledge' AND column_name = 'title_grams'"
            )
            grams_default = await conn.fetchval(grams_column)
            listed = await conn.fetch("SELECT indexname FROM pg_indexes WHERE tablename = 'pledge'")
            indexes = {index for (index,) in listed}
            await asyncio.to_thread(upgrade, "pledges", database_url)
            grams_at_head = await conn.fetch(grams_column)
            kept = await conn.fetchrow("SELECT title, title_normal FROM pledge WHERE id = 'p1'")
        finally:
            await conn.close()
        assert row is not None
        assert row["title_normal"] == normal_title("  Women  in FPUs ") == "women in fpus"
        assert row["title_grams"] == title_grams("women in fpus")
        # 0006 keeps the normalised title; the letter pairs are no longer written (an empty default, for
        # the previous release's replicas during a rolling deploy) and their GIN index goes.
        assert normal == "women in fpus" and grams_default is not None
        assert "pledge_state_kind_newest" in indexes
        assert not {"pledge_title_grams", "pledge_state_kind"} & indexes
        # 0008 drops the pairs' column, the pledge staying as it was.
        assert grams_at_head == []
        assert kept is not None and tuple(kept) == ("  Women  in FPUs ", "women in fpus")
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()
