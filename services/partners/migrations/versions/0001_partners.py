"""The partner gateway: partners' scopes, webhook subscriptions, deliveries and attempts, notices to
partners; with the shared outbox, inbox and Idempotency-Key tables.

Revision ID: 0001
Revises:
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from services.common.schema import (
    create_idempotency_keys,
    create_messaging_tables,
    drop_idempotency_keys,
    drop_messaging_tables,
    mark_idempotency_commits,
)

revision: str = "0001"
down_revision: str | None = None
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    create_messaging_tables()
    create_idempotency_keys()
    mark_idempotency_commits()
    op.create_table(
        "partner",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("topics", postgresql.ARRAY(sa.Text), nullable=False),
        sa.Column("contact_email", sa.Text),
        sa.Column("updated_by", sa.Text, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
    )
    op.create_table(
        "webhook_subscription",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("partner_id", sa.Text, nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("event_types", postgresql.ARRAY(sa.Text), nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("secret", sa.Text, nullable=False),
        sa.Column("previous_secret", sa.Text),
        sa.Column("previous_secret_until", WHEN),
        sa.Column("failing_since", WHEN),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_index(
        "webhook_subscription_partner_keyset", "webhook_subscription", ["partner_id", "created_at", "id"]
    )
    op.create_table(
        "webhook_delivery",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("seq", sa.BigInteger, sa.Identity(), nullable=False),
        sa.Column("subscription_id", sa.Text, nullable=False),
        sa.Column("event_id", sa.Text, nullable=False),
        sa.Column("event_type", sa.Text, nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("redeliveries", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", WHEN, nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("delivered_at", WHEN),
        sa.UniqueConstraint("subscription_id", "event_id", name="webhook_delivery_once"),
    )
    op.create_index("webhook_delivery_list", "webhook_delivery", ["subscription_id", "seq"])
    # The claim's probes: a subscription's pending deliveries by subject, and what falls due.
    pending = sa.text("status = 'pending'")
    op.create_index(
        "webhook_delivery_pending_key",
        "webhook_delivery",
        ["subscription_id", "subject", "seq"],
        postgresql_where=pending,
    )
    op.create_index("webhook_delivery_due", "webhook_delivery", ["next_attempt_at"], postgresql_where=pending)
    op.create_index("webhook_delivery_since", "webhook_delivery", ["subscription_id", "created_at"])
    op.create_table(
        "webhook_attempt",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("delivery_id", sa.Text, nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("at", WHEN, nullable=False),
        sa.Column("status_code", sa.Integer),
        sa.Column("latency_ms", sa.Integer, nullable=False),
        sa.Column("response_excerpt", sa.Text),
        sa.Column("error", sa.Text),
    )
    op.create_index("webhook_attempt_delivery", "webhook_attempt", ["delivery_id", "id"])
    op.create_table(
        "partner_notification",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("partner_id", sa.Text, nullable=False),
        sa.Column("subscription_id", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("contact_email", sa.Text),
        sa.Column("created_at", WHEN, nullable=False),
    )
    op.create_index("partner_notification_keyset", "partner_notification", ["partner_id", "created_at", "id"])


def downgrade() -> None:
    for table in (
        "partner_notification",
        "webhook_attempt",
        "webhook_delivery",
        "webhook_subscription",
        "partner",
    ):
        op.drop_table(table)
    drop_idempotency_keys()
    drop_messaging_tables()
