"""One way to page a list that can grow: keyset pages with ``limit`` and an opaque ``cursor``, answered as
``{items, next_cursor}`` with a ``Link: <...>; rel="next"`` header while there is a next page.

Keyset, not offset: a page is found by the sort key of the last row of the page before, so a deep page
costs what the first does (the index is entered at the key) and a row added meanwhile neither repeats nor
hides another. The cursor is that key, JSON in URL-safe base64: opaque to clients, and read back against the
types of the sort columns, so a malformed or tampered cursor is a 422 naming ``cursor``, never a database
error. A list that cannot grow (one row per group of a report, say) is not paged and says so with
:func:`bounded`; tests/unit/test_paging_contract.py holds every list of the three documents to one or the
other.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Generic, TypeVar
from urllib.parse import urlencode

from fastapi import Depends, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, Select, and_, literal, or_, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped
from sqlalchemy.sql import coercions, operators, roles
from sqlalchemy.sql.elements import UnaryExpression
from sqlalchemy.types import TypeEngine

from services.common.errors import InvalidField

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
# A cursor holds a few sort values; anything longer was not made here.
MAX_CURSOR_LENGTH = 1024
_NOT_OURS = "not a next_cursor this list returned; start again without cursor"

T = TypeVar("T")
P = TypeVar("P", bound="Page[Any]")


class Page(BaseModel, Generic[T]):
    """One page of a list; ``next_cursor`` fetches the next (null: this is the last).

    Each list names its own: ``class CasePage(Page[CasePublic])``, so the document and the clients generated
    from it read ``CasePage`` rather than ``Page_CasePublic_``."""

    items: list[T] = Field(
        description=f"At most ``limit`` items (default {DEFAULT_LIMIT}, at most {MAX_LIMIT})"
    )
    next_cursor: str | None = Field(
        description="Pass as ?cursor= (the other parameters unchanged) for the next page; null on the last. "
        'The Link header with rel="next" carries the same URL'
    )


LINK_HEADER = {
    "Link": {
        "description": 'The next page\'s URL as ``<url>; rel="next"`` (RFC 8288); absent on the last page',
        "schema": {"type": "string"},
    }
}
# The route decorator's ``openapi_extra`` of every paged list: declares the Link header of its 200 answer.
PAGED: dict[str, Any] = {"responses": {"200": {"headers": LINK_HEADER}}}


def bounded(reason: str) -> dict[str, Any]:
    """The ``openapi_extra`` of a list that is not paged because it cannot grow: ``x-bounded`` says why (the
    operation's description says so too, for people)."""
    return {"x-bounded": reason}


# ---------------------------------------------------------------- the request's side


@dataclass(frozen=True)
class PageRequest:
    """What a paged list was asked for, and where its answer's Link header goes."""

    limit: int
    cursor: str | None
    request: Request | None = None
    response: Response | None = None

    def answer(self, page: type[P], items: Sequence[Any], next_cursor: str | None) -> P:
        """The page, with the Link header to the next one when there is one."""
        if next_cursor is not None and self.request is not None and self.response is not None:
            self.response.headers["Link"] = next_link(self.request, next_cursor)
        return page(items=list(items), next_cursor=next_cursor)


LimitQuery = Annotated[
    int,
    Query(
        ge=1,
        le=MAX_LIMIT,
        description=f"Items per page: {DEFAULT_LIMIT} unless given, at most {MAX_LIMIT} (more is a 422)",
    ),
]
CursorQuery = Annotated[
    str | None,
    Query(
        max_length=MAX_CURSOR_LENGTH,
        description="The previous page's next_cursor (opaque); absent for the first page",
    ),
]


async def page_request(
    request: Request, response: Response, limit: LimitQuery = DEFAULT_LIMIT, cursor: CursorQuery = None
) -> PageRequest:
    return PageRequest(limit=limit, cursor=cursor or None, request=request, response=response)


PageDep = Annotated[PageRequest, Depends(page_request)]


def next_link(request: Request, next_cursor: str, *, drop: Sequence[str] = ("after",)) -> str:
    """``<path?query>; rel="next"``: this request's URL (relative, so right behind any proxy) with the
    cursor replaced and every other parameter kept; ``drop`` names deprecated aliases of ``cursor``."""
    kept = [(k, v) for k, v in request.query_params.multi_items() if k != "cursor" and k not in drop]
    return f'<{request.url.path}?{urlencode([*kept, ("cursor", next_cursor)])}>; rel="next"'


# ---------------------------------------------------------------- the cursor


def encode_cursor(values: Sequence[Any]) -> str:
    """The sort key of a page's last row as an opaque cursor."""
    plain = [_plain(value) for value in values]
    text = json.dumps(plain, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"a sort key of type {type(value).__name__} cannot go in a cursor")


def decode_cursor(cursor: str, types: Sequence[TypeEngine[Any]]) -> tuple[Any, ...]:
    """The sort key a cursor holds, each value of its column's type; anything else is a 422 on ``cursor``."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        values = json.loads(text)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidField("cursor", _NOT_OURS) from None
    if not isinstance(values, list) or len(values) != len(types):
        raise InvalidField("cursor", _NOT_OURS)
    return tuple(_typed(value, column_type) for value, column_type in zip(values, types, strict=True))


# What a value of each SQL type may be in a cursor (PostgreSQL's integer and text limits included): a value
# PostgreSQL would refuse must be refused here, as a 422, rather than reach it and come back as a 500.
_INT_BOUNDS = {"SmallInteger": 2**15, "Integer": 2**31, "BigInteger": 2**63}


def _typed(value: Any, column_type: TypeEngine[Any]) -> Any:
    try:
        expected = column_type.python_type
    except NotImplementedError:  # pragma: no cover - a sort column always has a Python type
        expected = str
    if expected is bool:
        if isinstance(value, bool):
            return value
    elif expected is int:
        bound = _INT_BOUNDS.get(type(column_type).__name__, 2**63)
        if isinstance(value, int) and not isinstance(value, bool) and -bound <= value < bound:
            return value
    elif expected is str:
        if isinstance(value, str) and "\x00" not in value:
            return value
    elif expected is datetime:
        if isinstance(value, str):
            try:
                at = datetime.fromisoformat(value)
            except ValueError:
                raise InvalidField("cursor", _NOT_OURS) from None
            # A zoned column compared with a naive time (or the reverse) is an error in PostgreSQL.
            if (at.tzinfo is not None) == bool(getattr(column_type, "timezone", False)):
                return at
    elif expected is date:
        if isinstance(value, str):
            try:
                return date.fromisoformat(value)
            except ValueError:
                raise InvalidField("cursor", _NOT_OURS) from None
    elif expected is Decimal:
        if isinstance(value, str):
            try:
                number = Decimal(value)
            except InvalidOperation:
                raise InvalidField("cursor", _NOT_OURS) from None
            if number.is_finite():
                return number
    elif isinstance(value, expected):
        return value
    raise InvalidField("cursor", _NOT_OURS)


# ---------------------------------------------------------------- the keyset query


@dataclass(frozen=True)
class SortKey:
    """One column (or expression) of a keyset order and its direction."""

    expression: ColumnElement[Any]
    descending: bool = False


# What order_by takes: a column (``col(X.at)``), an expression, either with .asc() or .desc().
SortTerm = ColumnElement[Any] | Mapped[Any]


def sort_keys(order: Sequence[SortTerm]) -> list[SortKey]:
    """The keys of an ``order_by`` list written as usual (``col(X.at).desc(), col(X.id).desc()``). Each must
    be NOT NULL (a row comparison with NULL is unknown: wrap a nullable column in ``coalesce``), and the
    last must make the order total (the id): rows equal on it would be skipped or repeated."""
    keys = []
    for given in order:
        term: ColumnElement[Any] = coercions.expect(roles.OrderByRole, given)
        if isinstance(term, UnaryExpression) and term.modifier in (operators.desc_op, operators.asc_op):
            element = term.element
            if isinstance(element, UnaryExpression) and element.modifier in (
                operators.nulls_first_op,
                operators.nulls_last_op,
            ):
                raise ValueError("a keyset order cannot sort NULLs: coalesce the column instead")
            keys.append(SortKey(element, term.modifier is operators.desc_op))
        elif isinstance(term, UnaryExpression) and term.modifier in (
            operators.nulls_first_op,
            operators.nulls_last_op,
        ):
            raise ValueError("a keyset order cannot sort NULLs: coalesce the column instead")
        else:
            keys.append(SortKey(term))
    if not keys:
        raise ValueError("a keyset order needs at least one column")
    return keys


def after(keys: Sequence[SortKey], values: Sequence[Any]) -> ColumnElement[bool]:
    """The rows after ``values`` in the order of ``keys``. One direction: a row comparison, which lets
    PostgreSQL enter a matching index at the cursor (measured in bench/cases.py); mixed directions: the
    same written out term by term."""
    # Bound with their columns' types: SQLAlchemy compares a boolean column with < only to a typed value.
    bound = [literal(value, key.expression.type) for key, value in zip(keys, values, strict=True)]
    if all(k.descending == keys[0].descending for k in keys):
        position = tuple_(*(k.expression for k in keys))
        return position < tuple_(*bound) if keys[0].descending else position > tuple_(*bound)
    terms = []
    for i, key in enumerate(keys):
        equal = [k.expression == v for k, v in zip(keys[:i], bound[:i], strict=True)]
        beyond = key.expression < bound[i] if key.descending else key.expression > bound[i]
        terms.append(and_(*equal, beyond))
    return or_(*terms)


async def keyset_page(
    session: AsyncSession,
    query: Select[Any],
    order: Sequence[SortTerm],
    page: PageRequest,
) -> tuple[list[Any], str | None]:
    """A page of ``query`` (a select of one entity or column, not yet ordered) in ``order``, and the cursor
    of the next page (None on the last). Reads ``limit`` + 1 rows: the extra one says whether there is a
    next page without a count."""
    keys = sort_keys(order)
    if page.cursor is not None:
        values = decode_cursor(page.cursor, [k.expression.type for k in keys])
        query = query.where(after(keys, values))
    labelled = [k.expression.label(f"keyset_{i}") for i, k in enumerate(keys)]
    query = query.add_columns(*labelled).order_by(*order).limit(page.limit + 1)
    rows = (await session.execute(query)).all()
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    next_cursor = encode_cursor(tuple(rows[-1])[1:]) if more else None
    return [row[0] for row in rows], next_cursor
