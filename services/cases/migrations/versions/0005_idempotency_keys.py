"""Idempotency-Keys of the requests that create or act, with their first answers, replayed on a retry
(services/common/idempotency.py).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from collections.abc import Sequence

from services.common.schema import create_idempotency_keys, drop_idempotency_keys

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    create_idempotency_keys()


def downgrade() -> None:
    drop_idempotency_keys()
