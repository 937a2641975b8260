"""Idempotency-Key on every request that creates or acts, in every service: the first answer is kept and a
retry with the same key gets it again, marked ``Idempotent-Replayed: true``; the same key with another
request is refused (409); a request still running under the key is refused (409, Retry-After) rather than
run twice at once.

Applied by the shared route class (services.common.app.Route) to every POST, PUT, PATCH and DELETE that
carries the header. Keys belong to the caller (the token's subject), so two callers' keys never collide.
The first answer is stored only when it is definitive: a 2xx, or a 4xx other than those a retry may
change (401, 403, 408, 429). A 5xx, and a 503 whose outcome is unknown (services.common.commands), release
the key, so the retry runs again; a workflow step then re-attaches to the Update it started, whose id is
derived from the key (``next_update_id``), and is applied once.

One table per service database, ``idempotency_key``, a row per (subject, key): claimed by an insert before
the request runs (the insert-first claim: of two concurrent requests, one inserts, the other sees the
claim), completed with the answer, or deleted. Kept ``idempotency_ttl_hours`` and swept by the API process.

The first commit a request makes marks its claim in the same transaction (``mark_committed``, run by every
session of the service before it commits). A marked claim is never run again: if its request dies after
committing and before its answer is stored (a crash, a 5xx), a retry learns that the request was applied
and its answer lost (``AnswerLost``), instead of creating a second case, room or receipt.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import re
import time
import uuid
from collections.abc import Callable, Coroutine, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import sqlalchemy as sa
from fastapi import HTTPException, Request, Response, status
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from services.common.errors import Conflict, InvalidField

KEY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 200
# Visible ASCII: a UUID, a ULID, a client's own request id all fit; nothing that breaks a log line.
_KEY = re.compile(rf"[\x21-\x7e]{{1,{MAX_KEY_LENGTH}}}")
KEY_RULE = f"1 to {MAX_KEY_LENGTH} visible ASCII characters (a UUID, say)"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# A claim whose request has not answered for this long is abandoned (its process died): the same request
# may take it over. Requests bound their own waits well below this (step_timeout_seconds).
CLAIM_LEASE_SECONDS = 60
# What a retry may change, so not kept: the caller's credentials, a timeout, a rate limit.
_RETRYABLE_CLIENT_ERRORS = frozenset({401, 403, 408, 429})
# The headers of the first answer that a replay repeats (never Date, Content-Length, correlation ids).
REPLAYED_HEADERS = frozenset(
    {"content-type", "location", "etag", "last-modified", "link", "content-location", "content-language"}
)
SWEEP_INTERVAL_SECONDS = 60
SWEEP_BATCH = 1_000

metadata = sa.MetaData()
idempotency_key = sa.Table(
    "idempotency_key",
    metadata,
    sa.Column("scope", sa.Text, primary_key=True),  # the caller: the token's subject
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("method", sa.Text, nullable=False),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("fingerprint", sa.Text, nullable=False),  # of method, path, query and body (``fingerprint``)
    sa.Column("claim", sa.Text, nullable=False),  # the request running under the key, or that answered
    sa.Column("status", sa.Integer),  # NULL while the request runs
    sa.Column("headers", sa.Text),  # JSON object of REPLAYED_HEADERS
    sa.Column("body", sa.LargeBinary),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
    # Set in the transaction of the request's first commit (``mark_committed``): its effect is stored.
    sa.Column("committed_at", sa.DateTime(timezone=True)),
    sa.Index("idempotency_key_created_at", "created_at"),  # the sweep's
)


def checked_key(value: str) -> str:
    """The key as sent, if well formed; else 422 naming the header."""
    if not _KEY.fullmatch(value):
        raise InvalidField(KEY_HEADER, KEY_RULE)
    return value


def fingerprint(method: str, path: str, query: str, content_type: str, body: bytes) -> str:
    """What identifies a request, so that a key reused for another request is caught. The same JSON with
    its members in another order, or the same form under another multipart boundary, is the same request."""
    if content_type.startswith("application/json") or content_type.endswith("+json"):
        with contextlib.suppress(ValueError):  # not JSON: compared as bytes (the route refuses it anyway)
            body = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    elif content_type.startswith("multipart/"):
        boundary = re.search(r'boundary="?([^";]+)"?', content_type)
        if boundary:
            body = body.replace(boundary.group(1).encode(), b"")
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), "&".join(sorted(query.split("&"))).encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def kept(status: int) -> bool:
    """Whether an answer is definitive, so replayed: a success or a client error a retry cannot change."""
    return 200 <= status < 300 or (400 <= status < 500 and status not in _RETRYABLE_CLIENT_ERRORS)


@dataclass(frozen=True)
class StoredAnswer:
    status: int
    headers: dict[str, str]
    body: bytes

    def response(self) -> Response:
        return Response(self.body, self.status, headers={**self.headers, REPLAYED_HEADER: "true"})


@dataclass(frozen=True)
class Found:
    """The row a claim ran into."""

    method: str
    path: str
    fingerprint: str
    answer: StoredAnswer | None  # None: its request is still running, or died
    committed: bool = False  # its request committed what it did
    abandoned: bool = False  # its request stopped answering (CLAIM_LEASE_SECONDS) or failed after committing


class KeyReused(Conflict):
    def __init__(self, method: str, path: str) -> None:
        super().__init__(
            f"{KEY_HEADER} was already used for another request ({method} {path} with another body): "
            "a new request needs a new key"
        )


class KeyInFlight(Conflict):
    def __init__(self) -> None:
        super().__init__(f"a request with this {KEY_HEADER} is still running: retry shortly for its answer")
        self.headers = {"Retry-After": "1"}


class AnswerLost(Conflict):
    def __init__(self) -> None:
        super().__init__(
            f"the first request with this {KEY_HEADER} was applied, but its answer was lost when the service "
            "stopped: read the resource to see the result; it will not be applied again"
        )


def decide(found: Found, method: str, path: str, print_: str) -> StoredAnswer:
    """The stored answer a retry gets, or why it gets none."""
    if (found.method, found.path, found.fingerprint) != (method, path, print_):
        raise KeyReused(found.method, found.path)
    if found.answer is None:
        if found.committed and found.abandoned:
            raise AnswerLost()
        raise KeyInFlight()
    return found.answer


# The store: constant SQL on the runtime's asyncpg connections, each statement its own transaction.
_CLAIM = """
INSERT INTO idempotency_key AS k (scope, key, method, path, fingerprint, claim, created_at, claimed_at)
VALUES ($1, $2, $3, $4, $5, $6, now(), now())
ON CONFLICT (scope, key) DO UPDATE SET
    method = EXCLUDED.method, path = EXCLUDED.path, fingerprint = EXCLUDED.fingerprint,
    claim = EXCLUDED.claim, status = NULL, headers = NULL, body = NULL,
    created_at = now(), claimed_at = now()
WHERE k.created_at < now() - make_interval(hours => $7)
   OR (k.status IS NULL AND k.committed_at IS NULL AND k.claimed_at < now() - make_interval(secs => $8)
       AND k.fingerprint = EXCLUDED.fingerprint)
RETURNING k.claim
"""
_FIND = """
SELECT method, path, fingerprint, status, headers, body, committed_at IS NOT NULL AS committed,
       claimed_at < now() - make_interval(secs => $3) AS abandoned
FROM idempotency_key WHERE scope = $1 AND key = $2
"""
_COMPLETE = (
    "UPDATE idempotency_key SET status = $4, headers = $5, body = $6"
    " WHERE scope = $1 AND key = $2 AND claim = $3"
)
# A claim whose request committed is kept, marked abandoned: its retry answers AnswerLost, never runs again.
_RELEASE = """
WITH released AS (
    DELETE FROM idempotency_key WHERE scope = $1 AND key = $2 AND claim = $3 AND committed_at IS NULL
    RETURNING 1
)
UPDATE idempotency_key SET claimed_at = '-infinity'
WHERE scope = $1 AND key = $2 AND claim = $3 AND committed_at IS NOT NULL
  AND NOT EXISTS (SELECT FROM released)
"""
_MARK_COMMITTED = sa.text(
    "UPDATE idempotency_key SET committed_at = now()"
    " WHERE scope = :scope AND key = :key AND claim = :claim AND committed_at IS NULL"
)
_SWEEP = """
DELETE FROM idempotency_key WHERE ctid = ANY(ARRAY(
    SELECT ctid FROM idempotency_key WHERE created_at < now() - make_interval(hours => $1) LIMIT $2))
"""


@dataclass(frozen=True)
class Claim:
    scope: str
    key: str
    token: str


async def claim(
    conn: asyncpg.Connection, scope: str, key: str, method: str, path: str, print_: str, ttl_hours: int
) -> Claim | StoredAnswer:
    """Claims the key for this request; or the first answer under it (raising KeyReused or KeyInFlight when
    there is none to give)."""
    for _ in range(3):  # a claim released between our insert and our read: claim again
        token = uuid.uuid4().hex
        if await conn.fetchval(
            _CLAIM, scope, key, method, path, print_, token, ttl_hours, CLAIM_LEASE_SECONDS
        ):
            return Claim(scope, key, token)
        row = await conn.fetchrow(_FIND, scope, key, CLAIM_LEASE_SECONDS)
        if row is not None:
            answer = None
            if row["status"] is not None:
                answer = StoredAnswer(row["status"], json.loads(row["headers"]), bytes(row["body"]))
            found = Found(
                row["method"], row["path"], row["fingerprint"], answer, row["committed"], row["abandoned"]
            )
            return decide(found, method, path, print_)
    raise KeyInFlight()


async def complete(conn: asyncpg.Connection, held: Claim, answer: StoredAnswer) -> None:
    await conn.execute(
        _COMPLETE, held.scope, held.key, held.token, answer.status, json.dumps(answer.headers), answer.body
    )


async def release(conn: asyncpg.Connection, held: Claim) -> None:
    await conn.execute(_RELEASE, held.scope, held.key, held.token)


# The claim of the request running in this task (and the tasks it starts), for mark_committed.
_running: ContextVar[Claim | None] = ContextVar("uncops_idempotency_claim", default=None)


def mark_committed(session: Session) -> None:
    """Marks the running request's claim in the transaction about to commit (a ``before_commit`` hook of
    every session, services.common.database): once the request's effect is stored, it is never run again."""
    held = _running.get()
    if held is not None:
        session.execute(_MARK_COMMITTED, {"scope": held.scope, "key": held.key, "claim": held.token})


async def sweep(conn: asyncpg.Connection, ttl_hours: int) -> int:
    """Deletes up to SWEEP_BATCH expired keys; the number deleted."""
    status: str = await conn.execute(_SWEEP, ttl_hours, SWEEP_BATCH)
    return int(status.rsplit(" ", 1)[-1])


# The Update ids of a request made under a key: a retry of the request re-attaches to the Updates the first
# attempt started (Temporal deduplicates Updates by id within a workflow run) instead of acting again.
@dataclass
class _UpdateIds:
    base: str
    issued: dict[tuple[str, str], int] = field(default_factory=dict)


_update_ids: ContextVar[_UpdateIds | None] = ContextVar("uncops_update_ids", default=None)


def update_base(scope: str, key: str, print_: str) -> str:
    return "idem-" + hashlib.sha256(f"{scope}\0{key}\0{print_}".encode()).hexdigest()[:40]


class UpdateId:
    """The id of one Update a request sends (None without a key): the same on every attempt of the request.
    Numbered per workflow and Update name, counting only Updates the server answered, so a send retried
    within the request (after starting a workflow that was missing) keeps its id."""

    def __init__(self, workflow_id: str, update: str) -> None:
        self._ids = _update_ids.get()
        self._slot = (workflow_id, update)
        self.value: str | None = None
        if self._ids is not None:
            number = self._ids.issued.get(self._slot, 0)
            self.value = f"{self._ids.base}-{update}-{number}"

    def answered(self) -> None:
        if self._ids is not None:
            self._ids.issued[self._slot] = self._ids.issued.get(self._slot, 0) + 1


def honoured(endpoint: Callable[..., Any]) -> bool:
    return getattr(endpoint, "__uncops_idempotency__", True) is True


def not_replayed(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """Marks a route the shared mechanism leaves alone: one that honours the key its own way, or one whose
    answer must not be kept (a victim's identity). Its description says which."""
    endpoint.__uncops_idempotency__ = False  # type: ignore[attr-defined]
    return endpoint


def declared(openapi_extra: dict[str, Any] | None) -> dict[str, Any]:
    """The header in the operation's OpenAPI parameters."""
    parameter = {
        "name": KEY_HEADER,
        "in": "header",
        "required": False,
        "description": (
            "Makes a retry safe: the same key with the same request answers the first answer again "
            f"(marked `{REPLAYED_HEADER}: true`); with another request, 409. Kept "
            "`UNCOPS_IDEMPOTENCY_TTL_HOURS` (24 h by default)."
        ),
        "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH, "pattern": r"^[!-~]+$"},
    }
    extra = dict(openapi_extra or {})
    extra["parameters"] = [*extra.get("parameters", []), parameter]
    return extra


Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class _Sweeper:
    def __init__(self) -> None:
        self.last = 0.0

    def due(self) -> bool:
        now = time.monotonic()
        if now - self.last < SWEEP_INTERVAL_SECONDS:
            return False
        self.last = now
        return True


def guarded(handler: Handler) -> Handler:
    """The route's handler, honouring Idempotency-Key."""
    sweeper = _Sweeper()

    async def idempotent(request: Request) -> Response:
        raw = request.headers.get(KEY_HEADER)
        if raw is None:
            return await handler(request)
        key = checked_key(raw)
        scope = await _subject(request)
        if scope is None:
            return await handler(request)  # the route's own authentication answers 401
        runtime = request.app.state.runtime
        ttl = runtime.settings.idempotency_ttl_hours
        method, path = request.method, request.url.path
        body = await _body(request, runtime.settings.attachment_max_bytes)
        print_ = fingerprint(method, path, request.url.query, request.headers.get("content-type", ""), body)
        async with runtime.driver_connection() as conn:
            held = await claim(conn, scope, key, method, path, print_, ttl)
            if sweeper.due():
                await sweep(conn, ttl)
        if isinstance(held, StoredAnswer):
            return held.response()
        ids = _update_ids.set(_UpdateIds(update_base(scope, key, print_)))
        running = _running.set(held)
        try:
            response = await handler(request)
        except BaseException as exc:
            rendered = await _rendered(request, exc) if isinstance(exc, Exception) else None
            if rendered is not None and kept(rendered.status_code):
                await _finish(runtime, held, rendered)
                return rendered
            await _finish(runtime, held, None)
            raise
        finally:
            _update_ids.reset(ids)
            _running.reset(running)
        await _finish(runtime, held, response)
        return response

    return idempotent


async def _finish(runtime: Any, held: Claim, response: Response | None) -> None:
    body = getattr(response, "body", None)
    async with runtime.driver_connection() as conn:
        if response is not None and isinstance(body, bytes) and kept(response.status_code):
            headers = {k: v for k, v in response.headers.items() if k in REPLAYED_HEADERS}
            await complete(conn, held, StoredAnswer(response.status_code, headers, body))
        else:
            await release(conn, held)  # a retry runs again


async def _body(request: Request, limit: int) -> bytes:
    """The request's body, read once for the fingerprint and kept for the route (as ``Request.body`` keeps
    it); no larger than the largest body any route takes (an attachment)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(
                status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, f"a body is limited to {limit} bytes"
            )
        chunks.append(chunk)
    body = b"".join(chunks)
    request._body = body  # what Request.body() keeps: the route's own reading (stream or body) gets it
    return body


async def _subject(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    verifier = request.app.state.token_verifier
    try:
        if verifier.fetches_keys:
            principal = await asyncio.to_thread(verifier.verify, token)
        else:
            principal = verifier.verify(token)
    except Exception:
        return None  # the route's own authentication says why
    subject: str = principal.subject
    return subject


async def _rendered(request: Request, exc: Exception) -> Response | None:
    """The answer the app's exception handlers give for ``exc`` (as Starlette finds them), if one does."""
    handlers: Mapping[Any, Any] = request.app.exception_handlers
    for cls in type(exc).__mro__:
        handler = handlers.get(cls)
        if handler is not None:
            if asyncio.iscoroutinefunction(handler):
                response: Response = await handler(request, exc)
            else:
                response = await run_in_threadpool(handler, request, exc)
            return response
    return None
