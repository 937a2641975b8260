"""A pledge submitted over HTTP reaches Kafka as a CloudEvent and the summit service's own table."""

from __future__ import annotations

import json
import uuid

import httpx
import jsonschema
from cloudevents.core.bindings.kafka import KafkaMessage, from_binary_event
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from deploy.stack import REPO, LocalStack
from services.common.auth import Role
from services.common.settings import Settings
from tests.conftest import bearer, eventually, topic_reader, url

SCHEMA = json.loads((REPO / "contracts/schemas/pledges/pledge_submitted.v1.json").read_text())


def china_financial_pledge(title: str = "Financial support for UNCOPS III") -> dict[str, object]:
    return {
        "member_state": "CHN",
        "summit": "UNCOPS-2018",
        "kind": "financial_support",
        "title": title,
        "text": "Chair's Note, para 13.",
        "terms": {"amount": "250000.00", "currency": "USD", "target_date": "2030-06-30"},
        "supports_summit": "UNCOPS-III",
    }


async def test_every_service_answers_health(platform: LocalStack, http: httpx.AsyncClient) -> None:
    for service in ("pledges", "cases", "summit"):
        assert (await http.get(url(service, "/healthz"))).json()["status"] == "ok"
        ready = await http.get(url(service, "/readyz"))
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"database": "ok", "kafka": "ok", "temporal": "ok"}
        metrics = await http.get(url(service, "/metrics"))
        assert "uncops_http_requests_total" in metrics.text
        assert (await http.get(url(service, "/openapi.json"))).status_code == 200
        assert (await http.get(url(service, "/docs"))).status_code == 200


async def test_submitted_pledge_flows_to_kafka_and_summit(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient, summit_db: AsyncEngine
) -> None:
    reader = await topic_reader(settings, "uncops.pledges.v1")
    traceparent = f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01"
    try:
        response = await http.post(
            url("pledges", "/pledges"),
            json=china_financial_pledge(),
            headers={**bearer(settings, Role.STATE_FOCAL_POINT, "CHN"), "traceparent": traceparent},
        )
        assert response.status_code == 201, response.text
        pledge = response.json()
        assert response.headers["location"] == f"/pledges/{pledge['id']}"
        # The correlation id is the caller's trace id, continued rather than replaced.
        assert response.headers["x-correlation-id"] == traceparent.split("-")[1]

        async def find_event() -> object:
            batches = await reader.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    if record.key == pledge["id"].encode():
                        return record
            return None

        record = await eventually(find_event, timeout=30)
    finally:
        await reader.stop()

    # The official CloudEvents SDK reads it (binary content mode).
    event = from_binary_event(KafkaMessage(headers=dict(record.headers), key=record.key, value=record.value))
    assert event.get_type() == "org.un.uncops.pledges.pledge_submitted.v1"
    assert event.get_source() == "/uncops/pledges"
    assert event.get_subject() == pledge["id"]
    assert event.get_specversion() == "1.0"
    dataschema = event.get_dataschema()
    # Published with the stack's schema base (UNCOPS_SCHEMA_BASE_URL: the partner gateway), not the $id's.
    gateway = f"http://127.0.0.1:{platform.ports.partners}"
    assert dataschema == f"{gateway}/contracts/schemas/pledges/pledge_submitted.v1.json"
    data = event.get_data()
    assert isinstance(data, dict)
    headers = dict(record.headers)
    assert headers["content-type"] == b"application/json"
    assert headers["traceparent"].decode().split("-")[1] == traceparent.split("-")[1]
    jsonschema.Draft202012Validator(SCHEMA).validate(data)
    assert data["pledge_id"] == pledge["id"]
    assert data["terms"]["amount"] == "250000.00"

    # The summit service consumed it into its own table, through its inbox.
    async def stored() -> object:
        async with summit_db.connect() as conn:
            return (
                await conn.execute(
                    text("SELECT amount, currency FROM summit_pledge WHERE pledge_id = :id"),
                    {"id": pledge["id"]},
                )
            ).first()

    row = await eventually(stored, timeout=30)
    assert (str(row.amount), row.currency) == ("250000.00", "USD")
    async with summit_db.connect() as conn:
        inbox = await conn.scalar(
            text("SELECT count(*) FROM inbox WHERE event_id = :id"), {"id": event.get_id()}
        )
    assert inbox == 1


async def test_idempotent_retry_creates_one_pledge(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    headers = {**bearer(settings, Role.STATE_FOCAL_POINT, "CHN"), "Idempotency-Key": str(uuid.uuid4())}
    body = china_financial_pledge("Retried submission")
    first = await http.post(url("pledges", "/pledges"), json=body, headers=headers)
    again = await http.post(url("pledges", "/pledges"), json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["idempotent-replayed"] == "true"
    changed = await http.post(
        url("pledges", "/pledges"), json={**body, "title": "Another pledge"}, headers=headers
    )
    assert changed.status_code == 409


async def test_bad_input_names_the_field(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    headers = bearer(settings, Role.STATE_FOCAL_POINT, "CHN")
    no_amount = china_financial_pledge()
    no_amount["terms"] = {"target_date": "2030-01-01"}
    cases = {
        "terms.amount": no_amount,
        "member_state": {**china_financial_pledge(), "member_state": "China"},
        "kind": {**china_financial_pledge(), "kind": "world_peace"},
        "terms.target_date": {
            **china_financial_pledge(),
            "terms": {"amount": "1", "currency": "USD", "target_date": "2001-01-01"},
        },
        "surprise": {**china_financial_pledge(), "surprise": True},
    }
    for field, body in cases.items():
        response = await http.post(url("pledges", "/pledges"), json=body, headers=headers)
        assert response.status_code == 422, (field, response.text)
        assert any(error["field"] == field for error in response.json()["errors"]), (field, response.json())
