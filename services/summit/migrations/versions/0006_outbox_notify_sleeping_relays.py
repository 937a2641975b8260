"""An insert into the outbox notifies the relays only while one sleeps (services.common.schema
.notify_sleeping_relays): a notification per insert serialised the commits of the busiest writes. Until
every relay runs this release, a sleeping relay of the previous one (which takes no sleep lock) is woken by
its 2 s poll only.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

from collections.abc import Sequence

from services.common.schema import notify_every_insert, notify_sleeping_relays

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    notify_sleeping_relays()


def downgrade() -> None:
    # The previous release's relays do not take the sleep lock: every insert must wake them again.
    notify_every_insert()
