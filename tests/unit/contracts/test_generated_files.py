"""The checked-in contracts (JSON Schemas, AsyncAPI document) are exactly what the models generate."""

from __future__ import annotations

import importlib.util
import json
import re
import tomllib
import types
import typing
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
import yaml
from jsonschema import Draft202012Validator, FormatChecker
from pydantic import BaseModel

from uncops_contracts.envelope import EventPayload
from uncops_contracts.registry import EVENT_TYPES
from uncops_contracts.schemagen import DOCUMENT_VERSION, message_id
from uncops_contracts.topics import TOPICS

CONTRACTS = Path(__file__).resolve().parents[3] / "contracts"
SCHEMAS = CONTRACTS / "schemas"
EVENTS = sorted(EVENT_TYPES.values(), key=lambda c: c.event_type())
EVENT_IDS = [c.event_type() for c in EVENTS]
STALE = "{} is stale or missing: run `make contracts` (python contracts/generate.py) and commit the result"


def _load_generate() -> types.ModuleType:
    # Loaded by path: contracts/generate.py is a dev script, not part of the installed package.
    spec = importlib.util.spec_from_file_location("contracts_generate", CONTRACTS / "generate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


generate = _load_generate()
EXPECTED: dict[Path, str] = generate.expected_files()


def _read(path: Path) -> str | None:
    return path.read_text() if path.exists() else None


@pytest.mark.parametrize("path", sorted(EXPECTED), ids=lambda p: str(p.relative_to(CONTRACTS)))
def test_checked_in_file_is_what_generation_produces(path: Path) -> None:
    assert _read(path) == EXPECTED[path], STALE.format(path.relative_to(CONTRACTS.parent))


@pytest.mark.parametrize("cls", EVENTS, ids=EVENT_IDS)
def test_every_event_type_has_a_schema_file(cls: type[EventPayload]) -> None:
    assert (SCHEMAS / cls.schema_path()).is_file(), STALE.format(cls.schema_path())


def test_no_orphan_schema_files() -> None:
    orphans = generate.orphan_schemas(EXPECTED)
    assert not orphans, f"schema files with no event type in EVENT_TYPES: {orphans}"


@pytest.mark.parametrize("path", sorted(SCHEMAS.rglob("*.json")), ids=lambda p: str(p.relative_to(SCHEMAS)))
def test_schema_file_is_a_valid_draft_2020_12_schema(path: Path) -> None:
    schema = json.loads(path.read_text())
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["additionalProperties"] is False  # closed, like the models


# ---------------------------------------------------------------- example events against their schemas

# Constrained strings the factory cannot guess: one sample per pattern, checked against the pattern.
PATTERN_SAMPLES = ["KEN", "USD", "FRA", "example", "2026-05", "2026", "ABC-123", "a1"]


def _sample(tp: Any, metadata: list[Any], where: str) -> Any:
    """A representative value of type ``tp`` (every optional field filled, to exercise the whole schema)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Annotated:
        return _sample(args[0], [*metadata, *tp.__metadata__], where)
    if origin in (typing.Union, types.UnionType):
        return _sample(next(a for a in args if a is not type(None)), metadata, where)
    if origin is typing.Literal:
        return args[0]
    if origin in (list, set, frozenset, tuple):
        return [_sample(args[0], [], f"{where}[]")]
    if origin is dict:
        return {"key": _sample(args[1], [], f"{where}.*")}
    if isinstance(tp, type) and issubclass(tp, Enum):
        return next(iter(tp)).value
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return _example_data(tp)
    pattern = next((m.pattern for m in metadata if getattr(m, "pattern", None)), None)
    simple: dict[Any, Any] = {
        bool: True,
        int: 3,
        float: 2.5,
        Decimal: "1500.50",
        datetime: datetime(2026, 5, 13, 9, 30, tzinfo=UTC),
        date: date(2026, 12, 31),
        time: time(9, 30),
        timedelta: timedelta(days=30),
        UUID: UUID("8c2b6a8e-3f4d-4c1e-9a55-0d7a1f3b2c10"),
    }
    if tp is str and pattern:
        match = next((s for s in PATTERN_SAMPLES if re.search(pattern, s)), None)
        assert match, f"add a sample matching {pattern!r} ({where}) to PATTERN_SAMPLES"
        return match
    if tp is str:
        return f"example {where}"
    assert tp in simple, f"the example factory does not know {tp!r} ({where}): add it to _sample"
    return simple[tp]


def _example_data(cls: type[BaseModel]) -> dict[str, Any]:
    return {
        name: _sample(field.annotation, list(field.metadata), f"{cls.__name__}.{name}")
        for name, field in cls.model_fields.items()
    }


@pytest.mark.parametrize("cls", EVENTS, ids=EVENT_IDS)
def test_example_event_validates_against_its_checked_in_schema(cls: type[EventPayload]) -> None:
    # Through the model first: the example is a real event, then its wire form (JSON mode) is checked.
    event = cls.model_validate(_example_data(cls))
    data = event.model_dump(mode="json")
    schema = json.loads((SCHEMAS / cls.schema_path()).read_text())
    validator = Draft202012Validator(schema, format_checker=FormatChecker())
    errors = [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(data)]
    assert not errors
    # And the schema is closed, as the model is: an unknown field is rejected by both.
    assert not validator.is_valid({**data, "unexpected_field": 1})


# ------------------------------------------------------------------------------------------- AsyncAPI


@pytest.fixture(scope="module")
def asyncapi() -> dict[str, Any]:
    text = (CONTRACTS / "asyncapi.yaml").read_text()
    assert text.startswith("# Generated by `make contracts`")
    return dict(yaml.safe_load(text))


def test_asyncapi_version_and_info(asyncapi: dict[str, Any]) -> None:
    assert asyncapi["asyncapi"] == "3.0.0"
    assert asyncapi["info"]["title"] == "UNCOPS Platform events"
    assert "binary content mode" in asyncapi["info"]["description"]
    local = asyncapi["servers"]["local"]
    assert (local["host"], local["protocol"]) == ("127.0.0.1:9092", "kafka")
    assert "bootstrap" in asyncapi["servers"]["production"]["variables"]


def test_asyncapi_version_is_the_contracts_package_version() -> None:
    project = tomllib.loads((CONTRACTS / "pyproject.toml").read_text())["project"]
    assert project["version"] == DOCUMENT_VERSION, "update DOCUMENT_VERSION in schemagen.py"


def test_asyncapi_has_a_channel_per_topic_and_its_dlq(asyncapi: dict[str, Any]) -> None:
    addresses = {c["address"] for c in asyncapi["channels"].values()}
    assert addresses == {t.name for t in TOPICS.values()} | {t.dlq for t in TOPICS.values()}
    send = {op["channel"]["$ref"] for op in asyncapi["operations"].values() if op["action"] == "send"}
    assert len(send) == len(TOPICS)
    receive = [op for op in asyncapi["operations"].values() if op["action"] == "receive"]
    assert len(receive) == sum(not t.restricted for t in TOPICS.values())


def test_asyncapi_says_which_topics_are_kept_forever(asyncapi: dict[str, Any]) -> None:
    kept = {
        channel["address"]: channel["bindings"]["kafka"]["topicConfiguration"]
        for channel in asyncapi["channels"].values()
        if "bindings" in channel
    }
    forever = {"cleanup.policy": ["delete"], "retention.ms": -1, "retention.bytes": -1}
    assert kept == {"uncops.pledges.v1": forever, "uncops.cases.public.v1": forever}


@pytest.mark.parametrize("cls", EVENTS, ids=EVENT_IDS)
def test_asyncapi_message_of_each_event(asyncapi: dict[str, Any], cls: type[EventPayload]) -> None:
    message = asyncapi["components"]["messages"][message_id(cls)]
    headers = message["headers"]["properties"]
    assert headers["ce_type"]["const"] == cls.event_type()
    # The base is a deployment setting: the header's pattern fixes the path and accepts any base.
    dataschema = headers["ce_dataschema"]
    assert "const" not in dataschema and dataschema["format"] == "uri"
    assert re.fullmatch(dataschema["pattern"], cls.dataschema())
    assert re.fullmatch(dataschema["pattern"], f"http://127.0.0.1:8004/contracts/schemas/{cls.schema_path()}")
    assert not re.fullmatch(dataschema["pattern"], f"https://uncops.un.org/schemas/{cls.schema_path()}")
    assert dataschema["examples"] == [cls.dataschema()]
    assert headers["ce_specversion"]["const"] == "1.0"
    assert message["bindings"]["kafka"]["key"]["type"] == "string"
    # On its topic's channel, and the payload $ref (and every $ref inside it) resolves in the document.
    channel = next(c for c in asyncapi["channels"].values() if c["address"] == cls.topic)
    assert message_id(cls) in channel["messages"]
    _assert_refs_resolve(asyncapi, message["payload"])
    _assert_refs_resolve(asyncapi, _resolve(asyncapi, message["payload"]["$ref"]))


def _resolve(document: dict[str, Any], ref: str) -> Any:
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def _assert_refs_resolve(document: dict[str, Any], node: Any) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                _resolve(document, value)
            else:
                _assert_refs_resolve(document, value)
    elif isinstance(node, list):
        for value in node:
            _assert_refs_resolve(document, value)
