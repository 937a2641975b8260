"""HTTP routes of the partner gateway, one module per resource: partners.py (each partner's topic scope),
subscriptions.py (webhook subscriptions), deliveries.py (their deliveries, redelivery, notifications),
events.py (the event feed and its live stream), contracts.py (JSON Schemas and the AsyncAPI document)."""
