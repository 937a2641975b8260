"""Wiring of the pledges service: its routes, consumers and business gauges."""

from prometheus_client import Gauge

from services.common.metrics import GaugeByLabel
from services.common.runtime import ServiceDefinition, ServiceRuntime
from services.pledges import queries
from services.pledges.api import imports, pledges, reports
from services.pledges.consumers import subscriptions
from uncops_contracts.pledges import TrafficLight

# Issue 20 (docs/operations.md): refreshed every 30 s where the pledges relay runs.
PLEDGES_BY_TRAFFIC_LIGHT = GaugeByLabel(
    Gauge("uncops_pledges", "Pledges by reporting traffic light", ["traffic_light"]),
    known=(light.value for light in TrafficLight),
)


async def refresh_gauges(runtime: ServiceRuntime) -> None:
    async with runtime.sessions() as session:
        PLEDGES_BY_TRAFFIC_LIGHT.set(await queries.pledges_by_traffic_light(session))


SERVICE = ServiceDefinition(
    name="pledges",
    title="UNCOPS pledge intake",
    description="Member States' pledges from the UN Chiefs of Police Summits: intake, review and follow-up.",
    # Fixed paths (/pledges/summary, /pledges/import...) come before /pledges/{pledge_id}.
    routers=[imports.router, reports.router, pledges.router],
    subscriptions=subscriptions,
    gauges=refresh_gauges,
    tags=[
        {"name": "imports", "description": "Bulk intake of pledges from CSV or JSON"},
        {"name": "reports", "description": "Summaries, financial pledges and the CSV export"},
        {"name": "pledges", "description": "Pledges: submission, reading and their life cycle's actions"},
    ],
)
