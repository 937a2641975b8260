"""DDL of the shared tables, used by each service's first migration (the same outbox and inbox everywhere)."""

from alembic import op
from sqlalchemy import MetaData

from services.common.database import InboxEvent, OutboxEvent
from services.common.outbox import NOTIFY_CHANNEL


def create_messaging_tables() -> None:
    bind = op.get_bind()
    metadata = MetaData()
    for table in (OutboxEvent.__table__, InboxEvent.__table__):  # type: ignore[attr-defined]
        table.to_metadata(metadata).create(bind, checkfirst=True)
    # NOTIFY is delivered at commit, which is exactly when the relay may see the row.
    op.execute(
        f"""
        CREATE OR REPLACE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM pg_notify('{NOTIFY_CHANNEL}', ''); RETURN NULL; END $$
        """
    )
    op.execute("DROP TRIGGER IF EXISTS outbox_inserted ON outbox")
    op.execute(
        "CREATE TRIGGER outbox_inserted AFTER INSERT ON outbox "
        "FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify()"
    )


def drop_messaging_tables() -> None:
    op.execute("DROP TRIGGER IF EXISTS outbox_inserted ON outbox")
    op.execute("DROP FUNCTION IF EXISTS outbox_notify()")
    op.drop_table("inbox")
    op.drop_table("outbox")
