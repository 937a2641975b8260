"""Wiring of the cases service: its routes and its business gauges."""

from prometheus_client import Gauge

from services.cases import queries
from services.cases.api import attachments, audit, cases, statistics, victims
from services.common.metrics import GaugeByLabel
from services.common.runtime import ServiceDefinition, ServiceRuntime
from uncops_contracts.cases import CaseStatus

# Issue 20 (docs/operations.md): refreshed every 30 s where the cases relay runs.
OPEN_CASES = GaugeByLabel(
    Gauge("uncops_cases_open", "Cases not closed, by stage", ["stage"]),
    known=(status.value for status in CaseStatus if status is not CaseStatus.CLOSED),
)
OVERDUE_CASES = GaugeByLabel(
    Gauge("uncops_cases_overdue", "Cases with a deadline past due (escalated), by mission", ["mission"])
)


async def refresh_gauges(runtime: ServiceRuntime) -> None:
    async with runtime.sessions() as session:
        OPEN_CASES.set(await queries.open_cases_by_stage(session))
        OVERDUE_CASES.set(await queries.overdue_cases_by_mission(session))


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
