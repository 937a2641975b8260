"""The only code of the console that talks to the APIs: every call carries the signed-in person's token, so
each API applies its own rules and scopes to the person, as if they called it themselves."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import httpx

from services.common.settings import SERVICES, Settings
from services.console.domain.person import Person


@dataclass
class ApiTime:
    """The time one page spent waiting on the APIs (the rest of its time is the console's own): the wall
    time while at least one call was in flight, so calls made at once count once."""

    seconds: float = 0.0
    calls: int = 0
    _in_flight: int = 0
    _busy_since: float = 0.0

    def begin(self) -> None:
        if self._in_flight == 0:
            self._busy_since = time.perf_counter()
        self._in_flight += 1
        self.calls += 1

    def end(self) -> None:
        self._in_flight -= 1
        if self._in_flight == 0:
            self.seconds += time.perf_counter() - self._busy_since


waiting: ContextVar[ApiTime | None] = ContextVar("console_api_time", default=None)


@contextlib.contextmanager
def _waited() -> Iterator[None]:
    spent = waiting.get()
    if spent is not None:
        spent.begin()
    try:
        yield
    finally:
        if spent is not None:
            spent.end()


class SignInAgain(Exception):
    """The API no longer accepts the person's token (expired, or signed with a retired key)."""


@dataclass
class Refused(Exception):
    """An API's answer of 4xx or 5xx, with its problem body (RFC 9457) as sent."""

    status: int
    problem: dict[str, Any] = field(default_factory=dict)

    @property
    def detail(self) -> str:
        detail = self.problem.get("detail")
        return detail if isinstance(detail, str) else ""

    @property
    def field_errors(self) -> dict[str, str]:
        found = {}
        for error in self.problem.get("errors") or ():
            if isinstance(error, dict) and "field" in error:
                found[str(error["field"]).rsplit(".", 1)[-1]] = str(error.get("reason", ""))
        return found

    @property
    def allowed_actions(self) -> list[str]:
        return [str(a) for a in self.problem.get("allowed_actions") or ()]


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any
    headers: Mapping[str, str]


class Apis:
    """One HTTP client for the three APIs, kept for the life of the console process."""

    def __init__(self, settings: Settings, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._bases = {service: settings.api_url(service) for service in SERVICES}
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(settings.step_timeout_seconds + 5, connect=3),
            limits=httpx.Limits(max_connections=100, keepalive_expiry=2),
            transport=transport,
        )
        self._documents: dict[str, dict[str, Any]] = {}

    async def close(self) -> None:
        await self._client.aclose()

    async def call(
        self,
        person: Person,
        service: str,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        wait_seconds: float | None = None,
    ) -> Answer:
        """``wait_seconds``: how long to wait for an answer slower than a step (a bulk invitation). An answer
        that does not come in time is a 503: the form is sent again under the same key."""
        waits: httpx.Timeout | httpx._client.UseClientDefault = (
            httpx.Timeout(wait_seconds, connect=3) if wait_seconds is not None else httpx.USE_CLIENT_DEFAULT
        )
        try:
            with _waited():
                response = await self._client.request(
                    method,
                    self._bases[service] + path,
                    params={k: v for k, v in (params or {}).items() if v not in (None, "")},
                    json=json,
                    headers={"Authorization": f"Bearer {person.token}", **(headers or {})},
                    timeout=waits,
                )
        except httpx.TimeoutException:
            raise Refused(503, {"detail": ""}) from None
        if response.status_code == 401:
            raise SignInAgain()
        body = _body(response)
        if response.status_code >= 400:
            raise Refused(response.status_code, body if isinstance(body, dict) else {})
        return Answer(response.status_code, body, response.headers)

    async def send_file(
        self,
        person: Person,
        service: str,
        path: str,
        content: bytes,
        content_type: str,
        *,
        params: Mapping[str, Any],
        headers: Mapping[str, str],
    ) -> Answer:
        """POSTs a file's bytes as the request body (an attachment)."""
        with _waited():
            response = await self._client.post(
                self._bases[service] + path,
                content=content,
                params=params,
                headers={"Authorization": f"Bearer {person.token}", "Content-Type": content_type, **headers},
            )
        if response.status_code == 401:
            raise SignInAgain()
        body = _body(response)
        if response.status_code >= 400:
            raise Refused(response.status_code, body if isinstance(body, dict) else {})
        return Answer(response.status_code, body, response.headers)

    async def fetch_file(self, person: Person, service: str, path: str) -> httpx.Response:
        """GETs a file (an attachment's bytes), its media type and file name in the headers."""
        with _waited():
            response = await self._client.get(
                self._bases[service] + path, headers={"Authorization": f"Bearer {person.token}"}
            )
        if response.status_code == 401:
            raise SignInAgain()
        if response.status_code >= 400:
            body = _body(response)
            raise Refused(response.status_code, body if isinstance(body, dict) else {})
        return response

    async def calendar_feed(self, token: str, if_none_match: str | None) -> httpx.Response:
        """A calendar feed polled by a calendar application: no person and no bearer token, the secret in the
        path is the credential (the summit API answers 404 to an unknown or revoked one, 304 when nothing
        changed since ``if_none_match``)."""
        with _waited():
            return await self._client.get(
                self._bases["summit"] + f"/calendars/{token}.ics",
                headers={"If-None-Match": if_none_match} if if_none_match else {},
            )

    async def document(self, service: str) -> dict[str, Any]:
        """The API's OpenAPI document (the contract the step forms are laid out from), fetched once."""
        document = self._documents.get(service)
        if document is None:
            response = await self._client.get(self._bases[service] + "/openapi.json")
            response.raise_for_status()
            document = self._documents[service] = response.json()
        return document

    async def ready(self) -> dict[str, str]:
        checks = {}
        for service, base in self._bases.items():
            try:
                response = await self._client.get(base + "/healthz", timeout=3)
                checks[service] = "ok" if response.status_code == 200 else f"answered {response.status_code}"
            except httpx.HTTPError as exc:
                checks[service] = type(exc).__name__
        return checks


def _body(response: httpx.Response) -> Any:
    if "json" in response.headers.get("content-type", ""):
        try:
            return response.json()
        except ValueError:
            return None
    return response.text
