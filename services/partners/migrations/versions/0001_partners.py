"""The partner gateway: partners' scopes, webhook subscriptions, deliveries and attempts, notices to
partners; with the shared outbox, inbox and Idempotency-Key tables.

Revision ID: 0001
Revises:
Create Date: 2026-12-06
"""

from collections.abc import Sequence

from alembic import op
from sqlalchemy import MetaData

from services.common.schema import (
    create_idempotency_keys,
    create_messaging_tables,
    drop_idempotency_keys,
    drop_messaging_tables,
    mark_idempotency_commits,
)
from services.partners.models import (
    PartnerNotificationRow,
    PartnerRow,
    WebhookAttemptRow,
    WebhookDeliveryRow,
    WebhookSubscriptionRow,
)

revision: str = "0001"
down_revision: str | None = None
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

TABLES = (PartnerRow, WebhookSubscriptionRow, WebhookDeliveryRow, WebhookAttemptRow, PartnerNotificationRow)


def upgrade() -> None:
    create_messaging_tables()
    create_idempotency_keys()
    mark_idempotency_commits()
    metadata = MetaData()
    for model in TABLES:
        model.__table__.to_metadata(metadata)  # type: ignore[attr-defined]
    metadata.create_all(op.get_bind())


def downgrade() -> None:
    for model in reversed(TABLES):
        op.drop_table(model.__tablename__)  # type: ignore[arg-type]
    drop_idempotency_keys()
    drop_messaging_tables()
