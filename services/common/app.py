"""The FastAPI application every service shares: health, metrics, tracing, errors, auth wiring."""

from __future__ import annotations

import asyncio
import gc
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from aiokafka.admin import AIOKafkaAdminClient
from fastapi import Depends, FastAPI, Header, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.routing import APIRoute
from opentelemetry import trace
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from pydantic import BaseModel, Field, WithJsonSchema
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client

from services.common import idempotency, interactive_docs, links, observability, problems, timing
from services.common.auth import TokenVerifier
from services.common.database import ping
from services.common.errors import InvalidField
from services.common.runtime import ServiceDefinition, ServiceRuntime
from services.common.settings import Settings
from services.common.text import NUL_REASON, nul_locations

REQUESTS = Counter("uncops_http_requests_total", "HTTP requests", ["service", "method", "route", "status"])
LATENCY = Histogram(
    "uncops_http_request_seconds",
    "HTTP request latency",
    ["service", "method", "route"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)

# One line per request but the probes (/healthz, /metrics), by TraceAndMetricsMiddleware.
ACCESS_LOG = observability.get_logger("uncops.access")


def runtime_of(request: Request) -> ServiceRuntime:
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


async def _runtime(request: Request) -> ServiceRuntime:
    # async: FastAPI runs a plain-function dependency in its thread pool, a hand-off on every request.
    return runtime_of(request)


async def db_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with runtime_of(request).sessions() as session:
        yield session


async def temporal_client(request: Request) -> Client:
    return await runtime_of(request).temporal()


SessionDep = Annotated[AsyncSession, Depends(db_session)]
TemporalDep = Annotated[Client, Depends(temporal_client)]
RuntimeDep = Annotated[ServiceRuntime, Depends(_runtime)]


_IF_MATCH = "The version (ETag) of the resource as you last read it"
# Declared as the plain string it is (a header is never null), under its real name: a generated client's
# ``if_match`` is then ``str``, sent as ``If-Match``.
IfMatch = Annotated[
    str | None,
    Header(alias="If-Match", description=_IF_MATCH),
    WithJsonSchema({"type": "string", "description": _IF_MATCH}),
]


def expected_version(if_match: str | None) -> int | None:
    """The version an ``If-Match`` header names, so a concurrent change is refused rather than overwritten."""
    if if_match is None:
        return None
    try:
        return int(if_match.strip().removeprefix("W/").strip('"'))
    except ValueError as exc:
        raise InvalidField("If-Match", 'the ETag of the resource, e.g. "3"') from exc


_YOUNG_GENERATION = 10_000  # Python's default is 700


class Route(APIRoute):
    """The route class of every service router: a NUL character in the path, the query or the JSON body is
    refused with 422 naming the field, before the route's own validation (services/common/text.py).

    Cheap when there is none: the body, which FastAPI reads anyway (and then takes from the request's
    cache), is parsed again only if it holds the escape ``\\u0000``.

    A request that creates or acts honours ``Idempotency-Key`` (services/common/idempotency.py).
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        if self._idempotent():
            self.openapi_extra = idempotency.declared(self.openapi_extra)

    def _idempotent(self) -> bool:
        return bool((self.methods or set()) & idempotency.UNSAFE_METHODS) and idempotency.honoured(
            self.endpoint
        )

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        reads_body = self.body_field is not None

        async def refusing_nul(request: Request) -> Response:
            found: list[tuple[str | int, ...]] = [
                ("path", name)
                for name, value in request.path_params.items()
                if isinstance(value, str) and "\x00" in value
            ]
            if b"%00" in request.scope.get("query_string", b""):
                query = request.query_params.multi_items()
                found += [("query", name) for name, value in query if "\x00" in value]
            if reads_body:
                body = await request.body()
                if b"\\u0000" in body:
                    try:
                        document = json.loads(body)
                    except ValueError:
                        document = None  # not JSON: FastAPI says so itself
                    found += [("body", *path) for path in nul_locations(document)]
            if found:
                raise RequestValidationError(
                    [{"loc": loc, "msg": NUL_REASON, "type": "string_nul_character"} for loc in found]
                )
            return await handler(request)

        return idempotency.guarded(refusing_nul) if self._idempotent() else refusing_nul


def operation_id(route: APIRoute) -> str:
    """The operationId of a route: its endpoint function's name in camelCase (``list_cases``: ``listCases``).

    Readable by the clients generated from the document; two operations of one service with the same
    function name would clash, which tests/unit/test_openapi_contract.py refuses.
    """
    head, *rest = route.name.strip("_").split("_")
    return head + "".join(word[:1].upper() + word[1:] for word in rest if word)


def require_discriminators(app: FastAPI) -> None:
    """Marks each union's discriminator (a step's ``action``) required in every member of the union in the
    OpenAPI document, as OpenAPI asks: pydantic leaves it optional since the Literal has a default, and a
    generated client would then let a step be sent without saying which step it is."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        first = app.openapi_schema is None
        schema = generate()
        if first:
            components = schema.get("components", {}).get("schemas", {})
            for union in _discriminated(schema):
                name = union["discriminator"]["propertyName"]
                for member in union["oneOf"]:
                    found = components[member["$ref"].rsplit("/", 1)[-1]]
                    if name not in found.setdefault("required", []):
                        found["required"].insert(0, name)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _discriminated(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if "discriminator" in node and "oneOf" in node:
            yield node
        for value in node.values():
            yield from _discriminated(value)
    elif isinstance(node, list):
        for value in node:
            yield from _discriminated(value)


class Health(BaseModel):
    status: str = Field(examples=["ok"])
    service: str = Field(examples=["cases"])


class Readiness(BaseModel):
    status: str = Field(description='"ready" or "not ready"', examples=["ready"])
    checks: dict[str, str] = Field(
        description='Each dependency ("database", "kafka", "temporal"): "ok" or why it is unavailable',
        examples=[{"database": "ok", "kafka": "ok", "temporal": "ok"}],
    )


OPERATIONS_TAG = {"name": "operations", "description": "Liveness, readiness and Prometheus metrics"}


def create_app(definition: ServiceDefinition, settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        observability.configure(definition.name, settings.log_level)
        runtime = ServiceRuntime(definition, settings)
        app.state.runtime = runtime
        app.state.token_verifier = TokenVerifier(settings)
        if settings.background:
            runtime.start_background()
        # What start-up made (modules, routes, models, pools) lives as long as the process: moved out of
        # the collector's generations, it is not walked again by each full collection. A request makes
        # thousands of short-lived objects, nearly all freed by reference counting: with a larger youngest
        # generation, 3,000 intake requests ran 13 collections instead of about 400 (0.035 ms of collecting
        # per request instead of 0.15).
        gc.freeze()
        gc.set_threshold(_YOUNG_GENERATION, *gc.get_threshold()[1:])
        try:
            yield
        finally:
            await runtime.close()

    app = FastAPI(
        title=definition.title,
        description=definition.description,
        version="0.1.0",
        lifespan=lifespan,
        openapi_tags=[*definition.tags, OPERATIONS_TAG],
        generate_unique_id_function=operation_id,
        # TraceAndMetricsMiddleware below makes the request's span and its Prometheus metrics; FastAPI's
        # own OpenTelemetry instrumentation would make a second span (and meters) for every request.
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
        # Served by interactive_docs from local files, not from a CDN.
        docs_url=None,
        redoc_url=None,
    )
    problems.install(app)
    require_discriminators(app)
    links.install(app)
    app.add_middleware(TraceAndMetricsMiddleware, service=definition.name)
    interactive_docs.install(app)

    @app.get("/healthz", tags=["operations"], summary="The process is alive")
    async def healthz() -> Health:
        """Answers as long as the process serves HTTP; it checks nothing else."""
        return Health(status="ok", service=definition.name)

    @app.get(
        "/readyz",
        tags=["operations"],
        summary="Database, Kafka and Temporal are reachable",
        responses={200: {"model": Readiness}, 503: {"model": Readiness, "description": "Not ready"}},
    )
    async def readyz(request: Request) -> JSONResponse:
        """200 when the database, Kafka and Temporal all answer within 3 seconds, else 503 naming which
        did not."""
        runtime = runtime_of(request)
        checks = await _readiness(runtime)
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": checks}, status_code=200 if ready else 503
        )

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics", response_class=PlainTextResponse)
    async def metrics() -> Response:
        """The process's metrics in Prometheus' text exposition format."""
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    for router in definition.routers:
        app.include_router(router)
    return app


async def _readiness(runtime: ServiceRuntime) -> dict[str, str]:
    async def check(probe: Callable[[], Awaitable[Any]]) -> str:
        try:
            await asyncio.wait_for(probe(), 3)
            return "ok"
        except Exception as exc:
            return f"unavailable: {type(exc).__name__}: {exc}"[:300]

    async def kafka() -> None:
        admin = AIOKafkaAdminClient(
            client_id=f"uncops-{runtime.name}-readyz", **runtime.settings.kafka_options()
        )
        await admin.start()
        try:
            await admin.describe_cluster()
        finally:
            await admin.close()

    async def temporal() -> None:
        client = await runtime.temporal()
        await client.service_client.check_health()

    database, kafka_status, temporal_status = await asyncio.gather(
        check(lambda: ping(runtime.engine)), check(kafka), check(temporal)
    )
    return {"database": database, "kafka": kafka_status, "temporal": temporal_status}


_TRACE_HEADERS = frozenset({b"traceparent", b"tracestate", b"baggage"})


class TraceAndMetricsMiddleware:
    """Continues (or starts) the trace of each request, returns its correlation id, records metrics.

    Pure ASGI rather than BaseHTTPMiddleware: it keeps the span current for the route's own code.
    """

    def __init__(self, app: Any, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Only the W3C trace context headers matter to the propagators (ASGI header names are lower case).
        carrier = {k.decode(): v.decode() for k, v in scope.get("headers", []) if k in _TRACE_HEADERS}
        method = scope["method"]
        started = time.perf_counter()
        status_code = 500
        with observability.continued_span(
            f"{method} {scope['path']}", carrier, kind=trace.SpanKind.SERVER, **{"http.method": method}
        ) as span:
            correlation = format(span.get_span_context().trace_id, "032x")
            phases = timing.begin()

            async def send_with_headers(message: Any) -> None:
                nonlocal status_code
                if message["type"] == "http.response.start":
                    status_code = message["status"]
                    headers = message.setdefault("headers", [])
                    headers.append((b"x-correlation-id", correlation.encode()))
                    headers.append((b"server-timing", timing.header(phases, time.perf_counter() - started)))
                await send(message)

            try:
                await self.app(scope, receive, send_with_headers)
            finally:
                route = scope.get("route")
                path = getattr(route, "path", "unmatched")
                if path not in ("/metrics", "/healthz"):
                    elapsed = time.perf_counter() - started
                    REQUESTS.labels(self.service, method, path, str(status_code)).inc()
                    LATENCY.labels(self.service, method, path).observe(elapsed)
                    # The access log (issue 20; uvicorn's own is off): the route's template, never the raw
                    # path or the query, which may carry a name or a case reference.
                    ACCESS_LOG.info(
                        "request",
                        method=method,
                        route=path,
                        status=status_code,
                        duration_ms=round(elapsed * 1000, 2),
                    )
                if status_code >= 500:
                    span.set_status(trace.StatusCode.ERROR)
                # Named by the route's template once known (issue 20): the raw path's ids would make every
                # span name unique in a tracing backend.
                span.update_name(f"{method} {path}")
                span.set_attribute("http.route", path)
                span.set_attribute("http.status_code", status_code)
