"""What the console takes from events (issue 18): the restricted cases topic (the console is a UN system),
the pledges and the summit topics, each event applied through the inbox with the notifications and emails it
makes (service/notifications.apply_event)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.consumer import Subscription
from services.console.domain.notifications import KINDS
from services.console.service import notifications
from uncops_contracts import CloudEvent
from uncops_contracts.registry import EVENT_TYPES
from uncops_contracts.topics import CASES, PLEDGES, SUMMIT

if TYPE_CHECKING:
    from services.common.runtime import ServiceRuntime


def subscriptions(runtime: ServiceRuntime) -> Sequence[Subscription]:
    settings = runtime.settings

    async def notify(session: AsyncSession, event: CloudEvent) -> None:
        await notifications.apply_event(session, event, settings)

    wanted = {*KINDS, "case_changed"}
    return [
        Subscription(
            name="console.notifications",
            topics=[CASES.name, PLEDGES.name, SUMMIT.name],
            handlers={
                event_type: notify for event_type in EVENT_TYPES if event_type.split(".")[-2] in wanted
            },
        )
    ]
