"""Wiring of the pledges service: its routes and consumers."""

from services.common.runtime import ServiceDefinition
from services.pledges.api import imports, pledges, reports
from services.pledges.consumers import subscriptions

SERVICE = ServiceDefinition(
    name="pledges",
    title="UNCOPS pledge intake",
    description="Member States' pledges from the UN Chiefs of Police Summits: intake, review and follow-up.",
    # Fixed paths (/pledges/summary, /pledges/import...) come before /pledges/{pledge_id}.
    routers=[imports.router, reports.router, pledges.router],
    subscriptions=subscriptions,
    tags=[
        {"name": "imports", "description": "Bulk intake of pledges from CSV or JSON"},
        {"name": "reports", "description": "Summaries, financial pledges and the CSV export"},
        {"name": "pledges", "description": "Pledges: submission, reading and their life cycle's actions"},
    ],
)
