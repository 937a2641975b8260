"""Case statistics kept as counts: summary tables that PostgreSQL maintains with every write to case_file;
a partial keyset index for the overdue list.

Counting 100,000 case files for every ``GET /cases/statistics`` took 60-110 ms; the summaries hold one row
per combination of the counted dimensions (SUMMARIES below: every dimension, and the headline four).
Triggers keep them, not the service's code, so every path that writes case_file counts: the API, the
workflow's activity, a bulk COPY, an operator's fix. They are statement-level and read the transition
tables, so a COPY of many rows makes one grouped upsert per summary, and a statement that changes nothing
counted (the audit head's update) writes nothing. Increments are ``INSERT ... ON CONFLICT DO UPDATE`` in
key order: concurrent writers wait on the row they both change and neither's increment is lost; and two
statements lock the rows they share in the same order, so they do not deadlock each other.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

# How a case file's row maps to the summaries' keys (services/cases/queries.py reads the same names).
KEY_OF_CASE = {
    "year": "extract(year FROM reported_on)::int",
    "mission": "mission",
    "personnel_category": "personnel_category",
    "police_contributing_country": "police_contributing_country",
    "allegation_type": "allegation_type",
    "category": "category",
    "result": "coalesce(finding, 'pending')",
}
# Two grains: every dimension the endpoint offers, where groups are nearly as many as the cases (100,000
# synthetic cases make 57,000), and the headline tables' year, mission, nationality and result, a few
# thousand rows that any question about those four alone sums instead.
SUMMARIES = {
    "case_statistics": tuple(KEY_OF_CASE),
    "case_statistics_headline": ("year", "mission", "police_contributing_country", "result"),
}


def _columns(key: tuple[str, ...], alias: str = "") -> str:
    return ", ".join(f"{alias}{name}" for name in key)


def _rows(key: tuple[str, ...], table: str, sign: str) -> str:
    expressions = ", ".join(KEY_OF_CASE[name] for name in key)
    return f"SELECT {expressions}, {sign}1, {sign}victims_adult, {sign}victims_minor FROM {table}"  # noqa: S608


def _count(summary: str, tables: dict[str, str]) -> str:
    """Add the deltas of the transition ``tables`` (name: sign), grouped, in key order, then remove the
    groups that reached zero. This transaction holds such a row's lock since its upsert; an upsert waiting
    on that lock inserts the row afresh once this commits."""
    key = SUMMARIES[summary]
    k = _columns(key)
    delta = " UNION ALL ".join(_rows(key, table, sign) for table, sign in tables.items())
    count = f"""
        WITH delta ({k}, allegations, victims_adult, victims_minor) AS ({delta}),
        applied AS (
            INSERT INTO {summary} AS s ({k}, allegations, victims_adult, victims_minor)
            SELECT {k}, sum(allegations), sum(victims_adult), sum(victims_minor)
            FROM delta
            GROUP BY {k}
            HAVING sum(allegations) <> 0 OR sum(victims_adult) <> 0 OR sum(victims_minor) <> 0
            ORDER BY {k}
            ON CONFLICT ({k}) DO UPDATE
            SET allegations = s.allegations + excluded.allegations,
                victims_adult = s.victims_adult + excluded.victims_adult,
                victims_minor = s.victims_minor + excluded.victims_minor
            RETURNING s.allegations
        )
        SELECT count(*) FILTER (WHERE allegations = 0) INTO emptied FROM applied;
    """  # noqa: S608
    if "old_rows" not in tables:
        return count
    expressions = ", ".join(KEY_OF_CASE[name] for name in key)
    remove = f"""
        IF emptied > 0 THEN
            DELETE FROM {summary} AS s
            USING (SELECT DISTINCT {expressions} FROM old_rows) AS o ({k})
            WHERE ({_columns(key, "s.")}) = ({_columns(key, "o.")}) AND s.allegations = 0;
        END IF;
    """  # noqa: S608
    return count + remove


def _branch(tables: dict[str, str]) -> str:
    return "".join(_count(summary, tables) for summary in SUMMARIES)


# Each branch names only the transition tables its event has (an INSERT has no old rows).
FUNCTION = f"""
CREATE OR REPLACE FUNCTION case_statistics_count() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    emptied bigint;
BEGIN
    IF TG_OP = 'INSERT' THEN
        {_branch({"new_rows": ""})}
    ELSIF TG_OP = 'UPDATE' THEN
        {_branch({"new_rows": "", "old_rows": "-"})}
    ELSE
        {_branch({"old_rows": "-"})}
    END IF;
    RETURN NULL;
END $$
"""


def upgrade() -> None:
    columns = {
        "year": sa.Integer,
        "mission": sa.Text,
        "personnel_category": sa.Text,
        "police_contributing_country": sa.String(3),
        "allegation_type": sa.Text,
        "category": sa.Text,
        "result": sa.Text,
    }
    for summary, key in SUMMARIES.items():
        op.create_table(
            summary,
            *(sa.Column(name, columns[name], nullable=False) for name in key),
            # integer, so that the endpoint's sums stay in bigint arithmetic (a sum of bigint is numeric)
            sa.Column("allegations", sa.Integer, nullable=False),
            sa.Column("victims_adult", sa.Integer, nullable=False),
            sa.Column("victims_minor", sa.Integer, nullable=False),
            sa.PrimaryKeyConstraint(*key, name=f"{summary}_pkey"),
        )
    op.execute(FUNCTION)
    op.execute(
        "CREATE TRIGGER case_statistics_insert AFTER INSERT ON case_file "
        "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION case_statistics_count()"
    )
    op.execute(
        "CREATE TRIGGER case_statistics_update AFTER UPDATE ON case_file "
        "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
        "FOR EACH STATEMENT EXECUTE FUNCTION case_statistics_count()"
    )
    op.execute(
        "CREATE TRIGGER case_statistics_delete AFTER DELETE ON case_file "
        "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION case_statistics_count()"
    )
    op.execute(
        """
        CREATE OR REPLACE FUNCTION case_statistics_clear() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN DELETE FROM case_statistics; DELETE FROM case_statistics_headline; RETURN NULL; END $$
        """
    )
    op.execute(
        "CREATE TRIGGER case_statistics_truncate AFTER TRUNCATE ON case_file "
        "FOR EACH STATEMENT EXECUTE FUNCTION case_statistics_clear()"
    )
    # The triggers exist before the backfill, in the same transaction: a write that waited for the lock
    # they took is counted by them, every earlier one by the backfill.
    for summary, key in SUMMARIES.items():
        groups = ", ".join(str(i + 1) for i in range(len(key)))
        op.execute(
            f"INSERT INTO {summary} ({_columns(key)}, allegations, victims_adult, victims_minor) "  # noqa: S608
            f"SELECT {', '.join(KEY_OF_CASE[name] for name in key)}, count(*), sum(victims_adult), "
            f"sum(victims_minor) FROM case_file GROUP BY {groups}"
        )
    # The statistics no longer read case_file, so their covering index only slows every write down.
    op.drop_index("case_file_statistics", table_name="case_file")
    # The overdue list, in either order, walks only overdue cases (a quarter or less) from its cursor; the
    # index on the flag alone could not give the order, so it goes.
    op.create_index(
        "case_file_overdue_keyset",
        "case_file",
        ["reported_on", "id"],
        postgresql_where=sa.text("overdue"),
    )
    op.drop_index("ix_case_file_overdue", table_name="case_file")


def downgrade() -> None:
    op.create_index("ix_case_file_overdue", "case_file", ["overdue"])
    op.drop_index("case_file_overdue_keyset", table_name="case_file")
    op.create_index(
        "case_file_statistics",
        "case_file",
        ["reported_on", "mission", "police_contributing_country", "finding"],
        postgresql_include=[
            "personnel_category",
            "allegation_type",
            "category",
            "victims_adult",
            "victims_minor",
        ],
    )
    for trigger in ("insert", "update", "delete", "truncate"):
        op.execute(f"DROP TRIGGER IF EXISTS case_statistics_{trigger} ON case_file")
    op.execute("DROP FUNCTION IF EXISTS case_statistics_clear()")
    op.execute("DROP FUNCTION IF EXISTS case_statistics_count()")
    for summary in SUMMARIES:
        op.drop_table(summary)
