"""Wiring of the partner gateway: its routes, its consumer and its webhook dispatcher."""

from __future__ import annotations

from collections.abc import Sequence

from services.common.runtime import BackgroundTask, ServiceDefinition, ServiceRuntime
from services.partners.api import contracts, deliveries, events, partners, subscriptions
from services.partners.consumers import SUBSCRIPTIONS
from services.partners.service import Dispatcher


def dispatcher(runtime: ServiceRuntime) -> Sequence[BackgroundTask]:
    return [("webhooks:dispatcher", Dispatcher(runtime.sessions, runtime.database_url, runtime.settings).run)]


SERVICE = ServiceDefinition(
    name="partners",
    title="UNCOPS partner gateway",
    description=(
        "For partner systems that do not run Kafka clients: signed webhooks (Standard Webhooks), an event "
        "feed to catch up and rebuild from, and the contracts' JSON Schemas and AsyncAPI document at their "
        "URLs."
    ),
    # Fixed paths (/webhooks/notifications) before /webhooks/subscriptions/{id}... and /events/stream
    # before nothing that could read it as a parameter.
    routers=[partners.router, deliveries.router, subscriptions.router, events.router, contracts.router],
    subscriptions=SUBSCRIPTIONS,
    background=dispatcher,
    tags=[
        {"name": "partners", "description": "Each partner's scope: the topics it may read, its contact"},
        {
            "name": "subscriptions",
            "description": "Webhook subscriptions: create, read, change, pause, rotate",
        },
        {"name": "deliveries", "description": "Webhook deliveries, their attempts, redelivery, notices"},
        {"name": "events", "description": "The event feed: CloudEvents from the start of a topic, and live"},
        {"name": "contracts", "description": "The events' JSON Schemas and the AsyncAPI document (public)"},
    ],
)
