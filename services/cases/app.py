"""Wiring of the cases service: its routes and its business gauges."""

from prometheus_client import Gauge

from services.cases import queries
from services.cases.api import attachments, audit, cases, statistics, victims
from services.common.metrics import set_by_label
from services.common.runtime import ServiceDefinition, ServiceRuntime
from uncops_contracts.cases import CaseStatus

# Issue 20 (docs/operations.md): refreshed every 30 s where the cases relay runs.
OPEN_CASES = Gauge("uncops_cases_open", "Cases not closed, by stage", ["stage"])
OVERDUE_CASES = Gauge("uncops_cases_overdue", "Cases with a deadline past due (escalated)")


async def refresh_gauges(runtime: ServiceRuntime) -> None:
    async with runtime.sessions() as session:
        by_stage = await queries.open_cases_by_stage(session)
        overdue = await queries.overdue_cases(session)
    set_by_label(OPEN_CASES, by_stage, known=(s.value for s in CaseStatus if s is not CaseStatus.CLOSED))
    OVERDUE_CASES.set(overdue)


SERVICE = ServiceDefinition(
    name="cases",
    title="UNCOPS misconduct case tracking",
    description=(
        "Misconduct cases involving UN Police, from referral to the last court decision: deadlines that "
        "escalate, victims known by pseudonyms, every step audited."
    ),
    # Fixed paths (/cases/statistics) before the paths that take a case id.
    routers=[statistics.router, cases.router, victims.router, attachments.router, audit.router],
    gauges=refresh_gauges,
    tags=[
        {"name": "cases", "description": "Cases: intake, finding them, reading one, and the steps it allows"},
        {"name": "victims", "description": "Victims known by pseudonyms; an identity revealed only audited"},
        {"name": "attachments", "description": "Documents attached to a case, stored with their SHA-256"},
        {"name": "audit", "description": "A case's hash-chained audit trail and its verification"},
        {
            "name": "statistics",
            "description": "Counts in the shape of the UN's public misconduct data; SCR 2272 review flags",
        },
    ],
)
