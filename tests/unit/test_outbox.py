"""Writing events to the outbox (services/common/outbox.py), with a fake session: no database."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.database import OutboxEvent
from services.common.observability import configure, current_traceparent, tracer
from services.common.outbox import continued_trace, record_event
from services.common.relay import OutboxRelay, published_dataschema
from uncops_contracts.envelope import SCHEMA_BASE, encode_data
from uncops_contracts.pledges import PledgeKind, PledgeSubmitted, PledgeTerms


class FakeSession:
    def __init__(self) -> None:
        self.added: list[Any] = []

    def add(self, instance: Any) -> None:
        self.added.append(instance)


@pytest.fixture(autouse=True)
def configured() -> None:
    configure("test")


def payload() -> PledgeSubmitted:
    return PledgeSubmitted(
        pledge_id="pledge-42",
        member_state="SEN",
        co_sponsors=["FRA"],
        summit="UNCOPS-2018",
        kind=PledgeKind.FINANCIAL_SUPPORT,
        title="Support for UNCOPS III",
        terms=PledgeTerms(amount="1000.50", currency="USD"),
        supports_summit="UNCOPS-III",
        submitted_at=datetime(2025, 6, 20, 9, 30, tzinfo=UTC),
    )


def record(key: str = "pledge-42") -> tuple[FakeSession, Any]:
    session = FakeSession()
    event = record_event(cast(AsyncSession, session), payload(), key)
    return session, event


def test_the_outbox_row_describes_the_event() -> None:
    session, event = record()

    assert len(session.added) == 1
    row = session.added[0]
    assert isinstance(row, OutboxEvent)
    assert row.topic == "uncops.pledges.v1"
    assert row.key == "pledge-42"
    assert row.subject == "pledge-42"
    assert row.type == "org.un.uncops.pledges.pledge_submitted.v1"
    assert row.source == "/uncops/pledges"
    assert row.dataschema == PledgeSubmitted.dataschema()
    data = json.loads(row.value)
    assert data == payload().model_dump(mode="json")
    assert data["terms"]["amount"] == "1000.50"
    assert row is event
    assert isinstance(row.event_id, uuid.UUID)
    assert row.time.tzinfo is not None
    assert row.traceparent is None


def test_each_event_gets_its_own_id() -> None:
    (_, first), (_, second) = record(), record()

    assert first.event_id != second.event_id


def test_the_key_is_the_subject() -> None:
    session, event = record(key="another-aggregate")

    assert session.added[0].key == session.added[0].subject == event.key == "another-aggregate"


def test_the_traceparent_is_stored_inside_a_span() -> None:
    with tracer().start_as_current_span("request"):
        expected = current_traceparent()
        session, event = record()

    assert expected is not None
    assert session.added[0].traceparent == expected
    assert event.traceparent == expected


def test_the_value_is_the_compact_utf8_json_of_the_envelope_module() -> None:
    # The row's value is pydantic's own JSON; partners and the relay's tests rely on encode_data's form.
    event = payload().model_copy(update={"title": "Formation des unités de police — Côte d'Ivoire"})
    session = FakeSession()
    record_event(cast(AsyncSession, session), event, "pledge-42")

    value = session.added[0].value
    assert value == encode_data(event.model_dump(mode="json"))
    assert "Côte".encode() in value


# ---- issue 18: rows keep the canonical ce_dataschema; the relay publishes the deployment's base


def test_the_relay_swaps_the_canonical_schema_base_for_the_configured_one() -> None:
    stored = PledgeSubmitted.dataschema()
    gateway = "http://127.0.0.1:8004/contracts/schemas"

    assert published_dataschema(stored, gateway) == f"{gateway}/pledges/pledge_submitted.v1.json"
    assert published_dataschema(stored, SCHEMA_BASE) == stored
    # A row written with another base (by hand, or an older release) is sent as it was stored.
    assert (
        published_dataschema("https://elsewhere.example/x.json", gateway)
        == "https://elsewhere.example/x.json"
    )


def test_the_relay_encodes_each_schema_header_once() -> None:
    relay = OutboxRelay(
        "pledges",
        "postgresql+asyncpg://u@127.0.0.1/x",
        lambda: cast(AIOKafkaProducer, None),
        schema_base="https://partners.example.org/contracts/schemas/",
    )

    first = relay._dataschema(PledgeSubmitted.dataschema())

    assert first == (
        "ce_dataschema",
        b"https://partners.example.org/contracts/schemas/pledges/pledge_submitted.v1.json",
    )
    assert relay._dataschema(PledgeSubmitted.dataschema()) is first


def test_an_event_continues_the_current_span_in_the_callers_trace_and_else_the_callers_trace() -> None:
    request = "00-" + "a" * 32 + "-" + "1" * 16 + "-01"
    activity_span = "00-" + "a" * 32 + "-" + "2" * 16 + "-01"  # a child of the request, same trace
    workflow_start = "00-" + "b" * 32 + "-" + "3" * 16 + "-01"  # a timer's activity: the starter's trace
    assert continued_trace(request, activity_span) == activity_span
    assert continued_trace(request, workflow_start) == request
    assert continued_trace(None, activity_span) == activity_span
    assert continued_trace(request, None) == request
    assert continued_trace(None, None) is None
