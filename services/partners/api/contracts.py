"""The contracts at their URLs, public: each event's JSON Schema at the path of its ``ce_dataschema`` URL
(``/contracts/schemas/<domain>/<name>.v<N>.json``) and the AsyncAPI document, with ETags so a validator
that follows the links caches them.

The files are read from ``contracts_dir`` (UNCOPS_CONTRACTS_DIR) when set, else from the repository's
contracts/ folder, else from the uncops_contracts package's data (a wheel-installed deployment)."""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi import Path as PathParameter
from fastapi.responses import Response

from services.common.app import Route, runtime_of
from services.common.errors import NotFound

router = APIRouter(tags=["contracts"], route_class=Route)

REPOSITORY_CONTRACTS = Path(__file__).resolve().parents[3] / "contracts"
CACHE_CONTROL = "public, max-age=3600"


class SchemaResponse(Response):
    media_type = "application/schema+json"


class YamlResponse(Response):
    media_type = "application/yaml"


@dataclass(frozen=True)
class Document:
    content: bytes
    etag: str


def contracts_dir(configured: Path | None) -> Path:
    if configured is not None:
        return configured
    if (REPOSITORY_CONTRACTS / "schemas").is_dir():
        return REPOSITORY_CONTRACTS
    return Path(str(resources.files("uncops_contracts")))


@functools.lru_cache(maxsize=256)
def _document(path: Path) -> Document:
    content = path.read_bytes()
    return Document(content, '"' + hashlib.sha256(content).hexdigest()[:32] + '"')


def _answer(path: Path, if_none_match: str | None, response_class: type[Response]) -> Response:
    if not path.is_file():
        raise NotFound(f"no contract document at {path.name}")
    document = _document(path)
    headers = {"ETag": document.etag, "Cache-Control": CACHE_CONTROL}
    if if_none_match and document.etag in [t.strip().removeprefix("W/") for t in if_none_match.split(",")]:
        return Response(status_code=304, headers=headers)
    return response_class(document.content, headers=headers)


IfNoneMatch = Annotated[
    str | None, Header(alias="If-None-Match", max_length=500, description="The ETag you hold: 304 if current")
]


@router.get(
    "/contracts/schemas/{domain}/{name}",
    summary="An event's JSON Schema, at its dataschema URL",
    response_class=SchemaResponse,
    responses={
        200: {"content": {"application/schema+json": {"schema": {"type": "object"}}}},
        304: {"description": "Not modified: the ETag in If-None-Match is current"},
    },
)
async def get_schema(
    request: Request,
    domain: Annotated[str, PathParameter(pattern=r"^[a-z][a-z_]{0,40}$", examples=["cases"])],
    name: Annotated[
        str,
        PathParameter(
            pattern=r"^[a-z][a-z0-9_]{0,80}\.v[0-9]{1,3}\.json$", examples=["case_changed.v1.json"]
        ),
    ],
    if_none_match: IfNoneMatch = None,
) -> Response:
    """The JSON Schema (draft 2020-12) of an event type's data, where the event's ``dataschema`` URL
    points. Public: no token needed."""
    base = contracts_dir(runtime_of(request).settings.contracts_dir)
    return _answer(base / "schemas" / domain / name, if_none_match, SchemaResponse)


@router.get(
    "/asyncapi.yaml",
    summary="The AsyncAPI document of every topic",
    response_class=YamlResponse,
    responses={
        200: {"content": {"application/yaml": {"schema": {"type": "object"}}}},
        304: {"description": "Not modified: the ETag in If-None-Match is current"},
    },
)
async def get_asyncapi(request: Request, if_none_match: IfNoneMatch = None) -> Response:
    """The AsyncAPI 3.0 document of the platform's topics, their messages and schemas. Public: no token
    needed."""
    base = contracts_dir(runtime_of(request).settings.contracts_dir)
    return _answer(base / "asyncapi.yaml", if_none_match, YamlResponse)
