"""The statistics' summary (case_statistics, kept by case_file's triggers, migration 0003) against a direct
count of the case files: after cases taken through a mix of steps over HTTP, under concurrent writes, and
after the migration's backfill of case files stored before it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import httpx
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from deploy.stack import LocalStack
from services.cases.domain.intake import CaseIntake, open_case
from services.cases.models import CaseRow
from services.cases.store import row_values
from services.common.auth import Role
from services.common.database import create_engine, session_factory
from services.common.migrations import upgrade
from services.common.settings import Settings
from tests.conftest import bearer, eventually, url
from tests.e2e.test_case_lifecycle import TODAY, intake, step

KEY = "year, mission, personnel_category, police_contributing_country, allegation_type, category, result"
# What GET /cases/statistics answered before the summary: the count over case_file itself.
DIRECT = (
    "SELECT extract(year FROM reported_on)::int AS year, mission, personnel_category, "
    "police_contributing_country, allegation_type, category, coalesce(finding, 'pending') AS result, "
    "count(*)::int AS allegations, sum(victims_adult)::int AS victims_adult, "
    "sum(victims_minor)::int AS victims_minor FROM case_file GROUP BY 1, 2, 3, 4, 5, 6, 7"
)
HEADLINE = "year, mission, police_contributing_country, result"


def mismatch_query(summary: str, key: str) -> str:
    """Groups where a summary and the direct count differ. One statement, so one snapshot: both as of the
    same moment, whatever else writes meanwhile."""
    direct = (
        f"SELECT {key}, sum(allegations)::int AS allegations, sum(victims_adult)::int AS victims_adult, "
        f"sum(victims_minor)::int AS victims_minor FROM ({DIRECT}) AS d GROUP BY {key}"
    )
    return (
        f"SELECT '{summary}' AS summary, {key}, s.allegations AS counted, d.allegations AS direct, "
        "s.victims_adult AS counted_adult, d.victims_adult AS direct_adult, "
        "s.victims_minor AS counted_minor, d.victims_minor AS direct_minor "
        f"FROM {summary} AS s FULL JOIN ({direct}) AS d USING ({key}) "
        "WHERE s.allegations IS DISTINCT FROM d.allegations "
        "OR s.victims_adult IS DISTINCT FROM d.victims_adult "
        "OR s.victims_minor IS DISTINCT FROM d.victims_minor"
    )


MISMATCHES = [mismatch_query("case_statistics", KEY), mismatch_query("case_statistics_headline", HEADLINE)]


ALL_DIMENSIONS: list[tuple[str, str | int | float | bool | None]] = [
    ("by", d)
    for d in ("year", "mission", "personnel_category", "nationality", "allegation_type", "category", "result")
]


@pytest_asyncio.fixture(scope="module")
async def cases_db(stack: LocalStack) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(stack.database_url("cases"), pool_size=2)
    yield engine
    await engine.dispose()


async def mismatches(engine: AsyncEngine) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        return [dict(r._mapping) for query in MISMATCHES for r in await conn.execute(text(query))]


async def summary(engine: AsyncEngine, year: int) -> dict[tuple[str, str], tuple[int, int, int]]:
    """(nationality, result) -> (allegations, adult victims, minor victims) in the summary for a year."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT police_contributing_country, result, allegations, victims_adult, victims_minor "
                "FROM case_statistics WHERE year = :year"
            ),
            {"year": year},
        )
        return {(r[0], r[1]): (r[2], r[3], r[4]) for r in rows}


async def forget(engine: AsyncEngine, case_ids: list[str]) -> None:
    """Remove the case files a test wrote straight into the table: written without the service, they have no
    events, and left behind they would make the statistics disagree with the public topic for later tests
    (test_partner_gateway.py rebuilds the statistics from the topic alone)."""
    async with engine.begin() as conn:
        await conn.execute(text("DELETE FROM case_file WHERE id = ANY(:ids)"), {"ids": case_ids})


def case_row(country: str, reported_on: date, victims: int = 1, minors: int = 0) -> CaseRow:
    now = datetime.now(UTC)
    case = open_case(
        str(uuid.uuid4()),
        f"UNFICYP-{reported_on.year}-{uuid.uuid4().hex[:8]}",
        CaseIntake(
            mission="UNFICYP",
            personnel_category="individual_police_officer",
            police_contributing_country=country,
            allegation_type="sexual_exploitation",
            reported_on=reported_on,
            how_reported="hotline",
            victims=victims,
            victims_minor=minors,
        ),
        now,
    )
    return CaseRow(id=case.case_id, opened_at=now, **row_values(case, now))


async def test_statistics_follow_a_mix_of_steps_over_http(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient, cases_db: AsyncEngine
) -> None:
    officer = bearer(settings, Role.CONDUCT_OFFICER)
    country = "ISL"  # no other test files cases for Iceland's personnel

    async def by_result() -> dict[str, dict[str, int]]:
        response = await http.get(
            url("cases", "/cases/statistics"),
            headers=officer,
            params=[("by", "nationality"), ("by", "result")],
        )
        assert response.status_code == 200, response.text
        return {r["result"]: r for r in response.json() if r["nationality"] == country}

    async def new_case(**fields: Any) -> str:
        body = intake(police_contributing_country=country, mission="UNMISS", **fields)
        opened = await http.post(url("cases", "/cases"), headers=officer, json=body)
        assert opened.status_code == 201, opened.text
        return str(opened.json()["case_id"])

    assert await by_result() == {}
    not_credible = await new_case(victims=2, victims_minor=1)
    await step(http, officer, not_credible, "start_assessment")
    await step(http, officer, not_credible, "close_not_credible", reason="the complainant withdrew it")
    reopened = await new_case(victims=1, victims_minor=0)
    await step(http, officer, reopened, "start_assessment")
    await step(http, officer, reopened, "refer_for_investigation")
    await step(http, officer, reopened, "record_finding", finding="substantiated", summary="Corroborated.")
    found = await by_result()
    assert found["substantiated"]["allegations"] == 1 and found["substantiated"]["substantiated"] == 1
    assert found["pending"]["allegations"] == 1 and found["pending"]["victims_minor"] == 1
    await step(http, officer, reopened, "record_un_action", taken="repatriation", on=str(TODAY))
    await step(http, officer, reopened, "close", reason="action_completed", note="Repatriated, barred.")
    await step(http, officer, reopened, "reopen", reason="new evidence from the victim's advocate")
    # Reopened, it still has its finding; investigated afresh, it has none until the new one.
    assert (await by_result())["substantiated"]["allegations"] == 1
    await step(http, officer, reopened, "refer_for_investigation")
    assert "substantiated" not in await by_result()
    await step(http, officer, reopened, "record_finding", finding="not_substantiated", summary="Recanted.")
    victim_added = await new_case(victims=0, victims_minor=0)
    added = await http.post(
        url("cases", f"/cases/{victim_added}/victims"),
        headers=officer,
        json={"pseudonym": "V-31", "minor": True},
    )
    assert added.status_code == 200, added.text
    await new_case(allegation_type="assault", victims=1, victims_minor=0)

    final = await by_result()
    assert {result: row["allegations"] for result, row in final.items()} == {
        "pending": 3,
        "not_substantiated": 1,
    }
    assert (final["pending"]["victims_adult"], final["pending"]["victims_minor"]) == (2, 2)
    assert final["not_substantiated"]["substantiated"] == 0
    # Every dimension at once: the endpoint's rows for the country are the direct count's.
    response = await http.get(url("cases", "/cases/statistics"), headers=officer, params=ALL_DIMENSIONS)
    served = sorted(
        (
            r["year"],
            r["result"],
            r["allegation_type"],
            r["allegations"],
            r["victims_adult"],
            r["victims_minor"],
        )
        for r in response.json()
        if r["nationality"] == country
    )
    async with cases_db.connect() as conn:
        counted = await conn.execute(
            text(f"SELECT * FROM ({DIRECT}) AS d WHERE d.police_contributing_country = :c"),
            {"c": country},
        )
        direct = sorted(
            (r.year, r.result, r.allegation_type, r.allegations, r.victims_adult, r.victims_minor)
            for r in counted
        )
    assert served == direct and len(served) == 3
    assert await mismatches(cases_db) == []


async def test_concurrent_writes_lose_no_count(platform: LocalStack, cases_db: AsyncEngine) -> None:
    """Case files of one group written by many transactions at once, each on its own connection."""
    sessions = session_factory(cases_db)
    country, reported_on = "LUX", date(2003, 5, 1)  # a year of its own: nothing else counts in it
    engines = [create_engine(platform.database_url("cases"), pool_size=1) for _ in range(12)]
    try:
        rows = [case_row(country, reported_on, victims=2, minors=1) for _ in range(36)]
        ids = [r.id for r in rows]

        async def insert(engine: AsyncEngine, batch: list[CaseRow]) -> None:
            for row in batch:
                async with session_factory(engine)() as session, session.begin():
                    session.add(row)

        await asyncio.gather(*(insert(e, rows[i::12]) for i, e in enumerate(engines)))
        assert await summary(cases_db, 2003) == {(country, "pending"): (36, 36, 36)}

        async def change(engine: AsyncEngine, sql: str, ids: list[str]) -> None:
            for case_id in ids:
                async with engine.begin() as conn:
                    await conn.execute(text(sql), {"id": case_id})

        found = "UPDATE case_file SET finding = 'substantiated' WHERE id = :id"
        minor = "UPDATE case_file SET victims_minor = victims_minor + 1 WHERE id = :id"
        gone = "DELETE FROM case_file WHERE id = :id"
        await asyncio.gather(
            *(change(e, found, ids[i:12:4]) for i, e in enumerate(engines[:4])),  # 12 found
            *(change(e, minor, ids[12 + i : 24 : 4]) for i, e in enumerate(engines[4:8])),  # 12 more minors
            *(change(e, gone, ids[24 + i :: 4]) for i, e in enumerate(engines[8:])),  # 12 removed
        )
        assert await summary(cases_db, 2003) == {
            (country, "substantiated"): (12, 12, 12),
            (country, "pending"): (12, 12, 24),
        }

        # A rolled-back write counts for nothing: the summary changes in the write's own transaction.
        async with sessions() as session:
            await session.begin()
            session.add(case_row(country, reported_on))
            await session.flush()
            await session.rollback()
        assert await summary(cases_db, 2003) == {
            (country, "substantiated"): (12, 12, 12),
            (country, "pending"): (12, 12, 24),
        }
        assert await mismatches(cases_db) == []
        await forget(cases_db, ids)
        assert await summary(cases_db, 2003) == {}
    finally:
        for engine in engines:
            await engine.dispose()


async def test_a_group_emptied_while_another_writer_waits_on_it(
    platform: LocalStack, cases_db: AsyncEngine
) -> None:
    """The last case leaves a group, which goes, while a new case of that group waits for the lock: the new
    case is counted once the first transaction commits."""
    dsn = f"postgresql://postgres@127.0.0.1:{platform.ports.postgres}/uncops_cases"
    sessions = session_factory(cases_db)
    leaving, joining = case_row("MLT", date(2004, 3, 1)), case_row("MLT", date(2004, 6, 1))
    leaving_id, joining_id = leaving.id, joining.id
    async with sessions() as session, session.begin():
        session.add(leaving)
    first, watcher = await asyncpg.connect(dsn), await asyncpg.connect(dsn)
    try:
        transaction = first.transaction()
        await transaction.start()
        await first.execute("UPDATE case_file SET finding = 'not_substantiated' WHERE id = $1", leaving_id)
        rows = await first.fetch("SELECT result FROM case_statistics WHERE year = 2004")
        assert [r["result"] for r in rows] == ["not_substantiated"]  # pending emptied and removed

        async def join() -> None:
            async with sessions() as session, session.begin():
                session.add(joining)

        waiting = asyncio.create_task(join())

        async def blocked() -> bool:
            if waiting.done():
                waiting.result()  # its error, if it failed
                raise AssertionError("the second writer did not wait for the first")
            # From outside the first transaction: a transaction sees one snapshot of pg_stat_activity.
            return bool(
                await watcher.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND query LIKE 'INSERT INTO case_file%'"
                )
            )

        assert await eventually(blocked, timeout=30)
        await transaction.commit()
        await waiting
    finally:
        await first.close()
        await watcher.close()
    assert await summary(cases_db, 2004) == {
        ("MLT", "not_substantiated"): (1, 1, 0),
        ("MLT", "pending"): (1, 1, 0),
    }
    assert await mismatches(cases_db) == []
    await forget(cases_db, [leaving_id, joining_id])
    assert await summary(cases_db, 2004) == {}


async def test_the_migration_counts_case_files_stored_before_it(stack: LocalStack) -> None:
    name = f"statistics_backfill_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{stack.ports.postgres}/postgres")
    await admin.execute(f'CREATE DATABASE "{name}"')
    database_url = f"postgresql+asyncpg://postgres@127.0.0.1:{stack.ports.postgres}/{name}"
    engine = create_engine(database_url, pool_size=1)
    try:
        await asyncio.to_thread(upgrade, "cases", database_url, "0002")
        stored = [
            case_row("NOR", date(2019, 1, 2), victims=3, minors=2),
            case_row("NOR", date(2019, 4, 5)),
            case_row("FIN", date(2020, 7, 8), victims=0),
        ]
        found_id = stored[1].id
        async with session_factory(engine)() as session, session.begin():
            session.add_all(stored)
            await session.flush()
            await session.execute(
                text("UPDATE case_file SET finding = 'substantiated' WHERE id = :id"), {"id": found_id}
            )
        await asyncio.to_thread(upgrade, "cases", database_url)
        assert await summary(engine, 2019) == {
            ("NOR", "pending"): (1, 1, 2),
            ("NOR", "substantiated"): (1, 1, 0),
        }
        assert await summary(engine, 2020) == {("FIN", "pending"): (1, 0, 0)}
        assert await mismatches(engine) == []
    finally:
        await engine.dispose()
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()
