"""Errors as RFC 9457 problems (services/common/problems.py): every kind a service answers, rendered by the
app every service builds (create_app), and declared on every operation of the three OpenAPI documents."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import pytest
from fastapi import APIRouter, FastAPI, Query
from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator
from pydantic import BaseModel

from services.common.app import IfMatch, Route, create_app, expected_version
from services.common.auth import Role, TokenVerifier, issue_token, require_roles
from services.common.errors import Conflict, DomainError, InvalidField, NotFound, VersionConflict
from services.common.problems import MEDIA_TYPE, TYPE_BASE
from services.common.runtime import ServiceDefinition
from services.common.settings import PARTNERS, SERVICES, Settings
from uncops.cli import load_service

SETTINGS = Settings(environment="test")


class Unavailable(DomainError):
    """Like part of the platform's 503: a domain error that asks for response headers."""

    status_code = 503

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.headers = {"Retry-After": "5"}


class Clash(Conflict):
    """Like the summit's ScheduleConflict: a refusal whose body says more."""

    def body(self) -> dict[str, object]:
        return {**super().body(), "conflicts": [{"kind": "room_double_booked", "room_id": None}]}


class Gone(DomainError):
    status_code = 410


class Body(BaseModel):
    title: str
    count: int


router = APIRouter(prefix="/things", tags=["things"], route_class=Route)
PLANNERS = require_roles(Role.PLANNER)


@router.post("", status_code=201)
async def create_thing(_: Annotated[Any, PLANNERS], body: Body) -> dict[str, str]:
    if body.title == "taken":
        raise InvalidField("title", "already used by another thing")
    return {"title": body.title}


@router.get("/{thing_id}")
async def get_thing(_: Annotated[Any, PLANNERS], thing_id: str, mode: Annotated[str, Query()] = "a") -> Any:
    if thing_id == "missing":
        raise NotFound(f"no thing {thing_id}")
    if thing_id == "gone":
        raise Gone("removed last year")
    if thing_id == "clash":
        raise Clash("the room is booked", state="draft")
    if thing_id == "busy":
        raise Unavailable("the outcome is not known yet")
    if thing_id == "broken":
        raise RuntimeError("secret internals: password=hunter2")
    return {"id": thing_id, "mode": mode}


@router.post("/{thing_id}/actions")
async def act_on_thing(_: Annotated[Any, PLANNERS], thing_id: str, if_match: IfMatch = None) -> Any:
    version = expected_version(if_match)
    if version is not None and version != 3:
        raise VersionConflict(f"at version 3, not {version}")
    raise Conflict("close is not allowed on an open thing", state="open", allowed_actions=("assess", "refer"))


@pytest.fixture(scope="module")
def app() -> FastAPI:
    built = create_app(
        ServiceDefinition(name="things", title="Things", description="", routers=[router]), SETTINGS
    )
    built.state.token_verifier = TokenVerifier(SETTINGS)
    return built


@pytest.fixture(scope="module")
def client(app: FastAPI) -> TestClient:
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture(scope="module")
def validate(client: TestClient) -> Any:
    spec = client.get("/openapi.json").json()
    validator = Draft202012Validator(
        {"$ref": "#/components/schemas/Problem", "components": spec["components"]}
    )

    def check(response: Any, status: int, slug: str) -> dict[str, Any]:
        assert response.status_code == status, response.text
        assert response.headers["content-type"] == MEDIA_TYPE
        body: dict[str, Any] = response.json()
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(body)]
        assert errors == [], body
        assert body["type"] == (TYPE_BASE + slug if slug else "about:blank")
        assert body["status"] == status and body["title"] and body["detail"]
        assert body["instance"] == response.request.url.path
        return body

    return check


def planner() -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(SETTINGS, Role.PLANNER)}"}


def test_request_validation_lists_each_field_and_reason(client: TestClient, validate: Any) -> None:
    body = validate(client.post("/things", headers=planner(), json={"count": "x"}), 422, "validation-error")

    assert body["errors"] == [
        {"field": "title", "reason": "Field required"},
        {"field": "count", "reason": "Input should be a valid integer, unable to parse string as an integer"},
    ]
    assert body["detail"].startswith("title: Field required; count: ")


def test_a_domain_rule_refusing_a_value_is_a_validation_problem(client: TestClient, validate: Any) -> None:
    response = client.post("/things", headers=planner(), json={"title": "taken", "count": 1})

    body = validate(response, 422, "validation-error")
    assert body["errors"] == [{"field": "title", "reason": "already used by another thing"}]


def test_a_nul_character_is_refused_naming_the_field(client: TestClient, validate: Any) -> None:
    response = client.post("/things", headers=planner(), json={"title": "a\u0000b", "count": 1})

    body = validate(response, 422, "validation-error")
    assert [error["field"] for error in body["errors"]] == ["title"]
    query = validate(client.get("/things/t?mode=a%00", headers=planner()), 422, "validation-error")
    assert [error["field"] for error in query["errors"]] == ["query.mode"]


def test_a_malformed_if_match_is_a_validation_problem(client: TestClient, validate: Any) -> None:
    response = client.post("/things/t/actions", headers={**planner(), "If-Match": "three"})

    assert validate(response, 422, "validation-error")["errors"] == [
        {"field": "If-Match", "reason": 'the ETag of the resource, e.g. "3"'}
    ]


@pytest.mark.parametrize("authorization", [None, "Basic dXNlcjpwYXNz", "Bearer not.a.token"])
def test_401_is_a_problem_with_a_bearer_challenge(
    client: TestClient, validate: Any, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = client.get("/things/t", headers=headers)

    validate(response, 401, "unauthenticated")
    assert response.headers["www-authenticate"] == "Bearer"


def test_403_names_the_roles_needed(client: TestClient, validate: Any) -> None:
    partner = {"Authorization": f"Bearer {issue_token(SETTINGS, Role.PARTNER)}"}

    body = validate(client.get("/things/t", headers=partner), 403, "forbidden")
    assert "planner" in body["detail"]


def test_not_found(client: TestClient, validate: Any) -> None:
    body = validate(client.get("/things/missing", headers=planner()), 404, "not-found")

    assert body["detail"] == "no thing missing"


def test_a_refused_step_says_the_state_and_the_allowed_actions(client: TestClient, validate: Any) -> None:
    body = validate(client.post("/things/t/actions", headers=planner()), 409, "conflict")

    assert body["detail"] == "close is not allowed on an open thing"
    assert (body["state"], body["allowed_actions"]) == ("open", ["assess", "refer"])


def test_a_status_of_no_kind_of_ours_is_about_blank_with_the_status_phrase(
    client: TestClient, validate: Any
) -> None:
    body = validate(client.get("/things/gone", headers=planner()), 410, "")

    assert (body["title"], body["detail"]) == ("Gone", "removed last year")


def test_what_a_refusal_adds_to_its_body_is_kept(client: TestClient, validate: Any) -> None:
    body = validate(client.get("/things/clash", headers=planner()), 409, "conflict")

    assert body["conflicts"] == [{"kind": "room_double_booked", "room_id": None}]
    assert (body["state"], body["allowed_actions"]) == ("draft", [])


def test_a_stale_version_is_a_precondition_problem(client: TestClient, validate: Any) -> None:
    response = client.post("/things/t/actions", headers={**planner(), "If-Match": '"2"'})

    assert validate(response, 412, "precondition-failed")["detail"] == "at version 3, not 2"


def test_headers_a_domain_error_asks_for_are_sent(client: TestClient, validate: Any) -> None:
    response = client.get("/things/busy", headers=planner())

    validate(response, 503, "unavailable")
    assert response.headers["retry-after"] == "5"


def test_an_unknown_path_and_an_unanswered_method(client: TestClient, validate: Any) -> None:
    assert validate(client.get("/nowhere"), 404, "not-found")["detail"] == "nothing at /nowhere"
    response = client.delete("/healthz")

    assert (
        validate(response, 405, "method-not-allowed")["detail"]
        == "/healthz does not answer DELETE (only GET)"
    )
    assert response.headers["allow"] == "GET"


def test_an_unexpected_error_shows_the_correlation_id_and_nothing_of_the_error(
    client: TestClient, validate: Any
) -> None:
    trace_id = uuid.uuid4().hex
    traceparent = f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01"

    response = client.get("/things/broken", headers={**planner(), "traceparent": traceparent})

    body = validate(response, 500, "server-error")
    assert body["correlation_id"] == trace_id == response.headers["x-correlation-id"]
    assert trace_id in body["detail"]
    assert "hunter2" not in response.text and "RuntimeError" not in response.text
    assert "Traceback" not in response.text


# ---- the OpenAPI documents


@pytest.fixture(scope="module", params=(*SERVICES, PARTNERS))
def spec(request: pytest.FixtureRequest) -> dict[str, Any]:
    app = create_app(load_service(request.param), SETTINGS)
    document: dict[str, Any] = TestClient(app).get("/openapi.json").json()
    return document


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]


def is_problem(spec: dict[str, Any], schema: dict[str, Any]) -> bool:
    """The Problem schema, or a route's own subclass of it (the summit's ScheduleProblem, with conflicts)."""
    name = str(schema.get("$ref", "")).removeprefix("#/components/schemas/")
    named = spec["components"]["schemas"].get(name, {})
    problem = spec["components"]["schemas"]["Problem"]
    return name == "Problem" or (
        set(problem["required"]) <= set(named.get("required", ()))
        and set(problem["properties"]) <= set(named["properties"])
    )


def test_every_operation_declares_its_problems(spec: dict[str, Any]) -> None:
    missing = []
    for method, path, operation in operations(spec):
        expected = {"500"}
        if operation.get("security"):
            expected |= {"401", "403", "422"}
        if "{" in path:
            expected.add("404")
        if method != "get":
            expected.add("409")
        if any(
            p["in"] == "header" and p["name"].lower() == "if-match" for p in operation.get("parameters", [])
        ):
            expected.add("412")
        for status in sorted(expected):
            content = operation["responses"].get(status, {}).get("content", {})
            if not is_problem(spec, content.get(MEDIA_TYPE, {}).get("schema", {})):
                missing.append(f"{method.upper()} {path} {status}")
    assert missing == []
    authenticated = [op for _, _, op in operations(spec) if op.get("security")]
    assert len(authenticated) >= 8


def test_every_declared_error_is_a_problem_and_fastapis_422_is_gone(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
    assert schemas["Problem"]["required"] == ["type", "title", "status", "detail", "instance"]
    assert schemas["FieldError"]["required"] == ["field", "reason"]
    for method, path, operation in operations(spec):
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                assert MEDIA_TYPE in response["content"], (method, path, status)
                example = response["content"][MEDIA_TYPE]["example"]
                validator = Draft202012Validator(
                    {"$ref": "#/components/schemas/Problem", "components": spec["components"]}
                )
                assert validator.is_valid(example) and example["status"] == int(status)
