"""A case whose workflow run is gone (lost with the Temporal server's data, or a row written by hand, as
some tests do) takes its next step through a new run started from the stored case, as an ended case does,
instead of answering 500 (found by schemathesis, tests/e2e/test_fuzz.py)."""

from __future__ import annotations

from datetime import date

import httpx

from deploy.stack import LocalStack
from services.common.auth import Role
from services.common.database import create_engine, session_factory
from services.common.settings import Settings
from tests.conftest import bearer
from tests.e2e.test_case_lifecycle import step
from tests.e2e.test_case_statistics import case_row


async def test_a_step_on_a_case_without_a_run_starts_one(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    row = case_row("ISL", date(1996, 4, 2))  # a State and a year of their own: no other test counts them
    engine = create_engine(platform.database_url("cases"), pool_size=1)
    try:
        async with session_factory(engine)() as session, session.begin():
            session.add(row)
    finally:
        await engine.dispose()
    officer = bearer(settings, Role.CONDUCT_OFFICER, subject="cdo-no-run")

    refused = await step(http, officer, row.id, "refer_for_investigation", expect=409)
    assert refused["state"] == "received"
    case = await step(http, officer, row.id, "start_assessment")
    assert (case["status"], case["version"]) == ("preliminary_assessment", row.version + 1)
    case = await step(http, officer, row.id, "refer_for_investigation")  # through the new run
    assert case["version"] == row.version + 2
