"""A request's first commit marks its Idempotency-Key claim, so a request that committed and then died is
never run again (services/common/idempotency.py).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from collections.abc import Sequence

from services.common.schema import mark_idempotency_commits, unmark_idempotency_commits

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    mark_idempotency_commits()


def downgrade() -> None:
    unmark_idempotency_commits()
