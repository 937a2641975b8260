"""Wiring of the console: its pages, its session cookie (signed, HttpOnly, SameSite), its security headers
(a strict Content-Security-Policy: no inline script or style, nothing from another origin), its static
files (its own CSS and script, htmx from the npm package `make install` puts in node_modules), health and
metrics."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException
from starlette.middleware.sessions import SessionMiddleware

from services.common import interactive_docs, observability
from services.common.app import Health, Readiness, TraceAndMetricsMiddleware
from services.common.database import ping
from services.common.runtime import ServiceDefinition, ServiceRuntime
from services.common.settings import CONSOLE, DEVELOPMENT_CONSOLE_SECRET, Settings
from services.console import consumers
from services.console.api import (
    agenda,
    attachments,
    budget,
    calendars,
    cases,
    delegations,
    home,
    mail,
    notifications,
    pledges,
    programme,
    reports,
    sign_in,
    summits,
    victims,
)
from services.console.gateway import Apis, ApiTime, Refused, SignInAgain, waiting
from services.console.pages import CsrfRefused, NotSignedIn, back_to, render, see_other, sign_in_url
from services.console.service import notifications as notifying
from services.console.service.people import LocalSignInRefused

HERE = Path(__file__).parent

# Notifications to people (issue 18): the console's own database, its consumer of the three topics and its
# email sender, run by the same ServiceRuntime as the other services (`uncops consume console`, or in the
# console's process unless UNCOPS_BACKGROUND=false). It has no outbox: it publishes nothing.
SERVICE = ServiceDefinition(
    name=CONSOLE,
    title="UNCOPS console",
    description="Notifications to people: the console's consumer and email sender",
    routers=(),
    subscriptions=consumers.subscriptions,
    background=lambda runtime: notifying.loops(runtime.sessions, runtime.settings),
)
SESSION_HOURS = 8
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ]
)
SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


def security_headers(issuer_origin: str | None) -> list[tuple[bytes, bytes]]:
    """The headers, where the sign-in and sign-out forms may also lead to the identity provider (browsers
    apply form-action to a form's redirects too)."""
    if issuer_origin is None:
        return SECURITY_HEADERS
    policy = CONTENT_SECURITY_POLICY.replace("form-action 'self'", f"form-action 'self' {issuer_origin}")
    return [(b"content-security-policy", policy.encode()), *SECURITY_HEADERS[1:]]


# /docs (Swagger UI, from local files, of the console's few operations) starts with an inline script: the
# one page allowed inline code. It shows no one's data.
DOCS_POLICY = CONTENT_SECURITY_POLICY.replace(
    "script-src 'self'", "script-src 'self' 'unsafe-inline'"
).replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")


class SecurityHeaders:
    """The same headers on every answer, pages and files alike (pure ASGI)."""

    def __init__(self, app: Any, headers: list[tuple[bytes, bytes]] = SECURITY_HEADERS) -> None:
        self.app = app
        self.headers = headers
        self.docs_headers = [(b"content-security-policy", DOCS_POLICY.encode()), *headers[1:]]

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        headers = self.docs_headers if scope["path"] == "/docs" else self.headers

        async def with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", []).extend(headers)
            await send(message)

        await self.app(scope, receive, with_headers)


class ServerTiming:
    """``Server-Timing: api;dur=…, console;dur=…`` on every page: how long it waited on the APIs, and how
    long the console itself took (rendering, sessions, its own code), so each can be measured apart."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        spent = ApiTime()
        token = waiting.set(spent)
        started = time.perf_counter()

        async def timed(message: Any) -> None:
            if message["type"] == "http.response.start":
                total = (time.perf_counter() - started) * 1000
                api = spent.seconds * 1000
                value = f'api;dur={api:.2f};desc="{spent.calls} calls", console;dur={total - api:.2f}'
                message.setdefault("headers", []).append((b"server-timing", value.encode()))
            await send(message)

        try:
            await self.app(scope, receive, timed)
        finally:
            waiting.reset(token)


def create(settings: Settings) -> FastAPI:
    secret = settings.console_session_secret.get_secret_value()
    if settings.environment == "production" and secret == DEVELOPMENT_CONSOLE_SECRET:
        raise RuntimeError("UNCOPS_CONSOLE_SESSION_SECRET is the development secret: set a real one")
    vendor = settings.console_node_modules / "htmx.org" / "dist"
    if not vendor.is_dir():
        raise RuntimeError(
            f"{vendor} is missing: run `make install` (it installs the console's npm packages)"
        )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        observability.configure(CONSOLE, settings.log_level)
        app.state.apis = Apis(settings)
        if settings.background:
            runtime.start_background(relay=False, consumers=True)
        try:
            yield
        finally:
            await app.state.apis.close()
            await runtime.close()

    app = FastAPI(
        title="UNCOPS console",
        description="The web pages of the UNCOPS Platform (its only operations: health and metrics)",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    runtime = ServiceRuntime(SERVICE, settings)
    app.state.runtime = runtime
    app.state.identity = sign_in.identity_provider(settings)
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret,
        session_cookie="uncops_console",
        max_age=SESSION_HOURS * 3600,
        same_site="lax",  # strict would drop the cookie on the identity provider's redirect back
        https_only=settings.environment == "production",
    )
    app.add_middleware(SecurityHeaders, headers=security_headers(sign_in.issuer_origin(settings)))
    app.add_middleware(ServerTiming)
    app.add_middleware(TraceAndMetricsMiddleware, service=CONSOLE)
    app.mount("/static/vendor", StaticFiles(directory=vendor), name="vendor")
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    # reports before cases: /cases/statistics is not the case "statistics".
    routers: tuple[APIRouter, ...] = (
        home.router,
        sign_in.router,
        reports.router,
        cases.router,
        victims.router,
        attachments.router,
    )
    # The summit pages: the summits, a summit and its plan, delegations, budget, agenda, programme, and the
    # calendar feeds.
    routers += (
        summits.router,
        delegations.router,
        budget.router,
        agenda.router,
        programme.router,
        calendars.router,
    )
    routers += (pledges.router,)  # the secretariat's review, follow-up and import; the focal points' pledges
    routers += (notifications.router, mail.router)  # issue 18: notifications, preferences, caught mail
    for router in routers:
        app.include_router(router, dependencies=[Depends(notifications.count_unread)])
    interactive_docs.install(app)
    _operations(app)
    _errors(app)
    return app


def _operations(app: FastAPI) -> None:
    @app.get("/healthz", tags=["operations"], summary="The process is alive")
    async def healthz() -> Health:
        return Health(status="ok", service=CONSOLE)

    @app.get(
        "/readyz",
        tags=["operations"],
        summary="The three APIs and the console's database answer",
        responses={200: {"model": Readiness}, 503: {"model": Readiness, "description": "Not ready"}},
    )
    async def readyz(request: Request) -> JSONResponse:
        checks = await request.app.state.apis.ready()
        # Its own database too (notifications to people, issue 18).
        try:
            await asyncio.wait_for(ping(request.app.state.runtime.engine), 3)
            checks["database"] = "ok"
        except (OSError, SQLAlchemyError, TimeoutError) as failed:
            checks["database"] = type(failed).__name__
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": checks}, status_code=200 if ready else 503
        )

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics", response_class=PlainTextResponse)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def _errors(app: FastAPI) -> None:
    @app.exception_handler(NotSignedIn)
    async def not_signed_in(request: Request, exc: NotSignedIn) -> RedirectResponse:
        return see_other(sign_in_url(exc.back_to))

    @app.exception_handler(SignInAgain)
    async def sign_in_again(request: Request, exc: SignInAgain) -> RedirectResponse:
        request.session.pop("person", None)
        return see_other(sign_in_url(back_to(request)))

    @app.exception_handler(CsrfRefused)
    async def csrf_refused(request: Request, exc: CsrfRefused) -> HTMLResponse:
        return render(request, "error.html", status_code=403, kind="csrf")

    @app.exception_handler(LocalSignInRefused)
    async def local_refused(request: Request, exc: LocalSignInRefused) -> HTMLResponse:
        return render(request, "error.html", status_code=403, kind="local", detail=exc.detail)

    @app.exception_handler(Refused)
    async def refused(request: Request, exc: Refused) -> HTMLResponse:
        kind = {404: "not_found", 403: "forbidden", 409: "refused"}.get(exc.status, "unavailable")
        status_code = exc.status if exc.status < 500 else 503
        return render(request, "error.html", status_code=status_code, kind=kind, detail=exc.detail)

    @app.exception_handler(RequestValidationError)
    async def invalid_address(request: Request, exc: RequestValidationError) -> HTMLResponse:
        return render(request, "error.html", status_code=400, kind="bad_request")

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if exc.status_code == 404:
            return render(request, "error.html", status_code=404, kind="not_found")
        if exc.status_code == 422:
            return render(request, "error.html", status_code=400, kind="bad_request")
        return render(request, "error.html", status_code=exc.status_code, kind="unavailable")
