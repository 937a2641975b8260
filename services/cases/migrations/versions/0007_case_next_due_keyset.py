"""The officers' queue in deadline order: a keyset index on the case's next due date (a case with no running
deadline last), so ``GET /cases?sort=next_due`` reads a page from the index instead of sorting every case
(measured before it: p50 1.9 s over 100,000 cases under 20 officers, bench/console.py).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

# The same expression as services/cases/queries.py NEXT_DUE: PostgreSQL uses the index only for it.
NEXT_DUE = "coalesce(next_due_at, '9999-12-31 00:00:00+00'::timestamptz)"


def upgrade() -> None:
    op.execute(f"CREATE INDEX IF NOT EXISTS case_file_next_due_keyset ON case_file (({NEXT_DUE}), id)")


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS case_file_next_due_keyset")
