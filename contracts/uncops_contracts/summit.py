"""Events of summit planning, published on ``uncops.summit.v1`` by the summit service."""

from datetime import date, datetime
from decimal import Decimal
from typing import ClassVar

from uncops_contracts.envelope import EventPayload
from uncops_contracts.topics import SUMMIT


class _SummitEvent(EventPayload):
    domain: ClassVar[str] = "summit"
    topic: ClassVar[str] = SUMMIT.name
    source: ClassVar[str] = "/uncops/summit"


class _MilestoneEvent(_SummitEvent):
    milestone_id: str
    summit_id: str
    title: str
    due_at: datetime


class MilestoneDue(_MilestoneEvent):
    name: ClassVar[str] = "milestone_due"
    description: ClassVar[str] = "A summit milestone reached its warning point before falling due."


class MilestoneCompleted(_MilestoneEvent):
    name: ClassVar[str] = "milestone_completed"
    description: ClassVar[str] = "A planner marked a summit milestone completed."

    completed_at: datetime
    completed_by: str


class MilestoneOverdue(_MilestoneEvent):
    name: ClassVar[str] = "milestone_overdue"
    description: ClassVar[str] = "A summit milestone passed its due date without being completed."


class FundingReceived(_SummitEvent):
    name: ClassVar[str] = "funding_received"
    description: ClassVar[str] = (
        "Money for a summit arrived; it counts towards the financial pledge it names."
    )

    receipt_id: str
    summit_id: str
    member_state: str
    pledge_id: str | None
    amount: Decimal
    currency: str
    received_on: date
