"""Every error a service answers, as an RFC 9457 problem (``application/problem+json``), and the same
problems declared on every operation of its OpenAPI document.

A problem's ``type`` is ``https://uncops.un.org/problems/<slug>``, one slug per kind of error this platform
answers (``validation-error``, ``conflict``...; see ``KINDS``); any other HTTP status is ``about:blank`` with
the status phrase as its title, as RFC 9457 section 4.2.1 says. Clients branch on ``type`` and ``status``;
``detail`` is for people. A validation problem lists ``errors: [{field, reason}]``; a refused step says its
``state`` and ``allowed_actions``; every problem carries the request's ``correlation_id`` (also the
``X-Correlation-Id`` header), the one id to quote to support: an unexpected error shows nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.common.errors import DomainError, InvalidField
from services.common.observability import current_correlation_id, get_logger

log = get_logger(__name__)

MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://uncops.un.org/problems/"


@dataclass(frozen=True)
class Kind:
    slug: str
    title: str
    # How the OpenAPI document describes the response where it declares it on an operation.
    when: str

    @property
    def type(self) -> str:
        return TYPE_BASE + self.slug


KINDS: Mapping[int, Kind] = {
    400: Kind("bad-request", "Bad request", "The request cannot be read"),
    401: Kind("unauthenticated", "Authentication required", "No bearer token, or an expired or invalid one"),
    403: Kind("forbidden", "Not allowed", "The token's role or scope does not allow this"),
    404: Kind("not-found", "Not found", "Nothing with this id, or nothing this caller may see"),
    405: Kind("method-not-allowed", "Method not allowed", "The path does not answer this method"),
    409: Kind("conflict", "Conflict", "The current state does not allow this: see state and allowed_actions"),
    412: Kind("precondition-failed", "Version changed", "If-Match names a version that is no longer current"),
    413: Kind("content-too-large", "Request too large", "The body is larger than the configured limit"),
    415: Kind("unsupported-media-type", "Unsupported media type", "The body's Content-Type is not accepted"),
    422: Kind("validation-error", "Invalid request", "A field is missing or invalid: see errors"),
    429: Kind("too-many-requests", "Too many requests", "Slow down: see Retry-After"),
    500: Kind("server-error", "Unexpected error", "Unexpected error: quote the correlation_id"),
    503: Kind("unavailable", "Temporarily unavailable", "Not known in time: retry after Retry-After"),
}


class FieldError(BaseModel):
    field: str = Field(
        description="Where: a dotted path into the body (`terms.currency`, `speakers.0`), or a parameter "
        "prefixed by where it was sent (`query.limit`, `path.case_id`)",
        examples=["ends_on"],
    )
    reason: str = Field(examples=["must be on or after starts_on"])


class Problem(BaseModel):
    """An error, as RFC 9457 describes it. Members beyond these may be added (e.g. ``conflicts``)."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(
        description=f"What kind of error: `{TYPE_BASE}<slug>`, or `about:blank` for a plain HTTP status",
        examples=[TYPE_BASE + "validation-error"],
    )
    title: str = Field(description="A short summary of the kind of error", examples=["Invalid request"])
    status: int = Field(description="The HTTP status code", examples=[422])
    detail: str = Field(description="What went wrong this time, for people", examples=["ends_on: invalid"])
    instance: str = Field(description="The path of the request", examples=["/summits"])
    correlation_id: str | None = Field(
        None, description="The request's trace id (also its X-Correlation-Id header): quote it to support"
    )
    errors: list[FieldError] | None = Field(None, description="Validation: each invalid field and why")
    state: str | None = Field(None, description="A refused step: the state the resource is in")
    allowed_actions: list[str] | None = Field(None, description="A refused step: what the caller may do now")


def kind_of(status: int) -> Kind:
    known = KINDS.get(status)
    if known is not None:
        return known
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    return Kind("", phrase, phrase)


def problem(status: int, detail: str, instance: str, **members: Any) -> dict[str, Any]:
    """The body of a problem: the standard members and the correlation id, checked by ``Problem``, then any
    extension ``members`` (None is left out)."""
    kind = kind_of(status)
    standard = {name: members.pop(name) for name in ("errors", "state", "allowed_actions") if name in members}
    body = Problem(
        type=kind.type if kind.slug else "about:blank",
        title=kind.title,
        status=status,
        detail=detail,
        instance=instance,
        correlation_id=current_correlation_id(),
        **standard,
    ).model_dump(mode="json", exclude_none=True)
    body.update({name: value for name, value in members.items() if value is not None})
    return body


def problem_response(
    status: int, detail: str, instance: str, headers: Mapping[str, str] | None = None, **members: Any
) -> JSONResponse:
    return JSONResponse(
        problem(status, detail, instance, **members),
        status_code=status,
        headers=dict(headers) if headers else None,
        media_type=MEDIA_TYPE,
    )


def _invalid(instance: str, errors: list[dict[str, str]]) -> JSONResponse:
    shown = "; ".join(f"{error['field']}: {error['reason']}" for error in errors[:5])
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return problem_response(422, shown + more, instance, errors=errors)


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    headers: Mapping[str, str] = getattr(exc, "headers", None) or {}
    if isinstance(exc, InvalidField):
        response = _invalid(request.url.path, [{"field": exc.field, "reason": exc.reason}])
        response.headers.update(headers)
        return response
    # What a subclass adds to its body (a refused step's state and allowed actions, a schedule's
    # conflicts...) goes into the problem as extension members.
    members = {name: value for name, value in exc.body().items() if name != "detail"}
    return problem_response(exc.status_code, exc.detail, request.url.path, headers, **members)


async def _invalid_request(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "field": ".".join(str(part) for part in error["loc"] if part != "body") or "body",
            "reason": error["msg"],
        }
        for error in exc.errors()
    ]
    return _invalid(request.url.path, errors)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    """Starlette's and FastAPI's HTTPException: auth (401 with its Bearer challenge, 403), an unknown path
    (404), a method the path does not answer (405 with Allow), a body too large (413)..."""
    assert isinstance(exc, StarletteHTTPException)
    detail = str(exc.detail)
    # Starlette's own 404 and 405 say only the status phrase.
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"nothing at {request.url.path}"
    elif exc.status_code == 405 and detail == "Method Not Allowed":
        allowed = (exc.headers or {}).get("Allow", "")
        only = f" (only {allowed})" if allowed else ""
        detail = f"{request.url.path} does not answer {request.method}{only}"
    return problem_response(exc.status_code, detail, request.url.path, exc.headers)


class _UnexpectedErrors:
    """An exception no handler took becomes a 500 problem with the correlation id and no stack trace (the
    log has it, under the same correlation id). Sits inside the tracing middleware, so the request's span
    (whose trace id is the correlation id) is still current."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking(message: Any) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking)
        except Exception:
            if started:
                raise
            log.exception("unexpected error", method=scope["method"], path=scope["path"])
            correlation = current_correlation_id()
            detail = "An unexpected error occurred" + (
                f"; quote correlation id {correlation} when reporting it" if correlation else ""
            )
            await problem_response(500, detail, scope["path"])(scope, receive, send)


def install(app: FastAPI) -> None:
    """Answers every error of ``app`` as a problem and declares them in its OpenAPI document. Call before
    adding the tracing middleware, so that middleware stays the outer one."""
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_middleware(_UnexpectedErrors)
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        first = app.openapi_schema is None
        schema = generate()
        if first:
            declare(schema)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


# ---- the OpenAPI document

_REF = "#/components/schemas/"
_WRITES = frozenset({"post", "put", "patch", "delete"})
_METHODS = frozenset({"get", "head", "options", *_WRITES})


def _example(status: int, operation_path: str) -> dict[str, Any]:
    kind = kind_of(status)
    example = {
        "type": kind.type,
        "title": kind.title,
        "status": status,
        "detail": kind.when,
        "instance": operation_path,
        "correlation_id": "4bf92f3577b34da6a3ce929d0e0e4736",
    }
    if status == 422:
        errors = [{"field": "ends_on", "reason": "invalid date"}]
        example |= {"detail": "ends_on: invalid date", "errors": errors}
    if status == 409:
        example |= {"state": "submitted", "allowed_actions": ["edit", "withdraw"]}
    return example


def _content(status: int, operation_path: str) -> dict[str, Any]:
    return {MEDIA_TYPE: {"schema": {"$ref": _REF + "Problem"}, "example": _example(status, operation_path)}}


def statuses_of(path: str, method: str, operation: Mapping[str, Any]) -> list[int]:
    """The problems an operation can answer: 400 if it takes a body (bytes that are not text cannot be read
    at all; malformed JSON text is a 422 naming the position), 401/403 if it needs a token, 422 if it takes
    any input or a token (a domain rule may refuse a value), 404 if its path names an id, 409 if it writes (a
    refused step, or an Idempotency-Key reused or in flight), 412 if it takes If-Match, 413 if it takes an
    Idempotency-Key (the body is read whole, up to a limit), 500 always, and 503 if it writes (a step whose
    outcome is not known in time)."""
    parameters = operation.get("parameters", [])
    authenticated = bool(operation.get("security"))
    takes_input = bool(parameters) or "requestBody" in operation

    def header(name: str) -> bool:
        return any(p.get("in") == "header" and p.get("name", "").lower() == name for p in parameters)

    writes = method in _WRITES
    found = [400] if "requestBody" in operation else []
    found += [401, 403] if authenticated else []
    found += [404] if "{" in path else []
    found += [409] if writes else []
    found += [412] if header("if-match") else []
    found += [413] if header("idempotency-key") else []
    found += [422] if authenticated or takes_input else []
    return [*found, 500, *([503] if writes else [])]


def _is_problem(components: Mapping[str, Any], schema: Mapping[str, Any]) -> bool:
    """Whether ``schema`` names a subclass of Problem (it requires every member a problem has)."""
    named = components.get(str(schema.get("$ref", "")).removeprefix(_REF), {})
    return set(Problem.model_json_schema()["required"]) <= set(named.get("required", ()))


def declare(schema: dict[str, Any]) -> None:
    """Adds the problem schema and, on every operation, the problems it can answer; replaces FastAPI's
    default 422 (``HTTPValidationError``, whose ``loc``/``msg`` are not what the services send)."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    problem_schema = Problem.model_json_schema(ref_template=_REF + "{model}")
    components.update(problem_schema.pop("$defs", {}))
    components["Problem"] = problem_schema
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            if method not in _METHODS:
                continue
            responses: dict[str, Any] = operation.setdefault("responses", {})
            for status in statuses_of(path, method, operation):
                responses.setdefault(str(status), {"description": kind_of(status).when})
            for code, response in responses.items():
                if not code.isdigit() or int(code) < 400:
                    continue
                content = response.setdefault("content", {})
                json_body = content.get("application/json", {}).get("schema")
                declared = _content(int(code), path)[MEDIA_TYPE]
                if json_body in ({}, None, {"$ref": _REF + "HTTPValidationError"}):
                    content.pop("application/json", None)  # FastAPI's own guess, not what is sent
                elif _is_problem(components, json_body):
                    # A route's own problem model (``responses={409: {"model": ...}}``, a subclass of
                    # Problem): FastAPI files it under application/json, but it is sent as a problem.
                    declared = {**declared, "schema": content.pop("application/json")["schema"]}
                content.setdefault(MEDIA_TYPE, declared)
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
