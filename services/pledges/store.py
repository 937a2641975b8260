"""Mapping a pledge's lifecycle state onto its row (what lists, filters and summaries query)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.pledges.domain import normal_title
from services.pledges.lifecycle import Pledge
from uncops_contracts.policies import PledgePolicy


def title_values(title: str) -> dict[str, Any]:
    """The title and the column the duplicate lookup reads, which changes with it."""
    return {"title": title, "title_normal": normal_title(title)}


def lifecycle_values(pledge: Pledge, policy: PledgePolicy, now: datetime) -> dict[str, Any]:
    light = pledge.traffic_light(now, policy)
    return {
        "status": pledge.status.value,
        "version": pledge.version,
        **title_values(pledge.title),
        "target_date": pledge.target_date,
        "next_report_due": pledge.next_report_due,
        "missed_reports": pledge.missed_reports,
        "traffic_light": light.value if light else None,
        "delivered": {currency: str(amount) for currency, amount in pledge.delivered.items()},
        "state": pledge.model_dump(mode="json"),
    }
