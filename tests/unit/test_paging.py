"""The keyset pages' pieces without a database: the cursor read back against its columns' types (anything
else a 422 on ``cursor``), the sort keys taken from an order_by list, the predicate after a cursor, and the
Link header's URL."""

from __future__ import annotations

import base64
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Boolean, Column, Date, DateTime, Integer, MetaData, Numeric, String, Table, func
from sqlalchemy.dialects import postgresql
from starlette.requests import Request

from services.common.errors import InvalidField
from services.common.paging import after, decode_cursor, encode_cursor, next_link, sort_keys

THING = Table(
    "thing",
    MetaData(),
    Column("id", String, primary_key=True),
    Column("day", Date, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("naive_at", DateTime(), nullable=False),
    Column("position", Integer, nullable=False),
    Column("amount", Numeric, nullable=False),
    Column("head", Boolean, nullable=False),
    Column("note", String, nullable=True),
)
c = THING.c
TYPES = [c.day.type, c.at.type, c.naive_at.type, c.position.type, c.amount.type, c.head.type, c.id.type]
KEY = (
    date(2026, 3, 1),
    datetime(2026, 3, 1, 9, 30, tzinfo=UTC),
    datetime(2026, 3, 1, 9, 30),
    7,
    Decimal("12.50"),
    True,
    "case-1",
)


def test_a_cursor_reads_back_the_key_it_was_made_of() -> None:
    cursor = encode_cursor(KEY)
    assert decode_cursor(cursor, TYPES) == KEY
    assert "=" not in cursor and "/" not in cursor and "+" not in cursor  # safe in a query string as is


def raw(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("cursor", "types"),
    [
        ("yesterday|x", [c.day.type, c.id.type]),  # the old format, or anything typed by hand
        ("%%%", [c.id.type]),  # not base64
        (raw("not json"), [c.id.type]),
        (raw('{"a": 1}'), [c.id.type]),  # not a list
        (raw('["a", "b"]'), [c.id.type]),  # another list's key: not as many values
        (raw("[1]"), [c.id.type]),  # a number for a text column
        (raw('["2026-13-01"]'), [c.day.type]),  # not a date
        (raw('["yesterday"]'), [c.at.type]),
        (raw('["2026-03-01T09:30:00"]'), [c.at.type]),  # naive, for a column with a time zone
        (raw('["2026-03-01T09:30:00+00:00"]'), [c.naive_at.type]),  # the reverse
        (raw(f"[{2**31}]"), [c.position.type]),  # beyond PostgreSQL's integer
        (raw("[true]"), [c.position.type]),  # a boolean is not a number here
        (raw('["1"]'), [c.position.type]),
        (raw('["NaN"]'), [c.amount.type]),
        (raw('["lots"]'), [c.amount.type]),
        (raw("[1]"), [c.head.type]),
        (raw('["a\\u0000b"]'), [c.id.type]),  # PostgreSQL refuses NUL in text
        (raw("[null]"), [c.id.type]),
    ],
)
def test_a_cursor_not_made_here_is_a_422_naming_cursor(cursor: str, types: list[Any]) -> None:
    with pytest.raises(InvalidField) as refused:
        decode_cursor(cursor, types)
    assert refused.value.field == "cursor" and refused.value.status_code == 422


DIALECT: Any = postgresql.dialect()  # type: ignore[no-untyped-call]


def sql(clause: Any) -> str:
    return str(clause.compile(dialect=DIALECT, compile_kwargs={"literal_binds": True}))


def test_one_direction_is_a_row_comparison() -> None:
    keys = sort_keys([c.day.desc(), c.id.desc()])
    assert [k.descending for k in keys] == [True, True]
    assert sql(after(keys, (date(2026, 3, 1), "b"))) == "(thing.day, thing.id) < ('2026-03-01', 'b')"
    ascending = sort_keys([c.day, c.id.asc()])
    assert sql(after(ascending, (date(2026, 3, 1), "b"))) == "(thing.day, thing.id) > ('2026-03-01', 'b')"


def test_mixed_directions_are_written_out_term_by_term() -> None:
    keys = sort_keys([c.head.desc(), c.position, c.id])
    assert sql(after(keys, (True, 3, "b"))) == (
        "thing.head < true OR thing.head = true AND thing.position > 3 "
        "OR thing.head = true AND thing.position = 3 AND thing.id > 'b'"
    )


def test_an_expression_keeps_its_type_for_the_cursor() -> None:
    (key,) = sort_keys([func.coalesce(c.note, "")])
    assert key.expression.type.python_type is str


@pytest.mark.parametrize("order", [[c.note.nulls_first(), c.id], [c.note.desc().nulls_last(), c.id], []])
def test_an_order_a_keyset_cannot_follow_is_refused(order: list[Any]) -> None:
    with pytest.raises(ValueError):
        sort_keys(order)


def request(query: bytes) -> Request:
    return Request(
        {
            "type": "http",
            "method": "GET",
            "path": "/summits/s1/delegations",
            "query_string": query,
            "headers": [],
        }
    )


def test_the_next_link_keeps_the_other_parameters_and_replaces_the_cursor() -> None:
    link = next_link(request(b"status=invited&limit=2&cursor=old&after=older&by=a&by=b"), "next+1")
    assert link == '</summits/s1/delegations?status=invited&limit=2&by=a&by=b&cursor=next%2B1>; rel="next"'
