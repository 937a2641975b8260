"""The CloudEvents envelope: Kafka binary content mode both ways, and interplay with the official SDK."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.v1.event import CloudEvent as SdkCloudEvent
from cloudevents.v1 import kafka as ce_kafka_v1
from pydantic import ValidationError

from uncops_contracts.envelope import CloudEvent, EventPayload, decode_kafka, encode_kafka
from uncops_contracts.pledges import PledgeKind, PledgeSubmitted, PledgeTerms
from uncops_contracts.registry import EVENT_TYPES

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def _pledge(**overrides: Any) -> PledgeSubmitted:
    fields: dict[str, Any] = {
        "pledge_id": "pl-42",
        "member_state": "KEN",
        "co_sponsors": ["GHA"],
        "summit": "unpcm-2026",
        "kind": PledgeKind.GENDER_PARITY,
        "title": "Raise the share of women in formed police units to 25 %",
        "terms": PledgeTerms(indicator="share of women", baseline=Decimal("12.5"), target=Decimal("25")),
        "submitted_at": datetime(2026, 5, 13, 9, 30, tzinfo=UTC),
        **overrides,
    }
    return PledgeSubmitted(**fields)


def _event(**attributes: Any) -> CloudEvent:
    return CloudEvent.of(_pledge(), subject="pl-42", **attributes)


def test_encode_decode_roundtrip() -> None:
    event = _event(traceparent=TRACEPARENT)
    headers, value = encode_kafka(event)
    assert decode_kafka(headers, value) == event
    assert PledgeSubmitted.model_validate(decode_kafka(headers, value).data) == _pledge()


def test_binary_mode_headers() -> None:
    event = _event()
    headers = dict(encode_kafka(event)[0])
    assert headers["content-type"] == b"application/json"
    assert headers["ce_type"] == b"org.un.uncops.pledges.pledge_submitted.v1"
    assert headers["ce_source"] == b"/uncops/pledges"
    assert headers["ce_subject"] == b"pl-42"
    assert headers["ce_specversion"] == b"1.0"
    assert headers["ce_dataschema"] == PledgeSubmitted.dataschema().encode()
    assert headers["ce_time"].endswith(b"Z")
    assert "ce_traceparent" not in headers  # only sent when there is a trace


def test_payloads_reject_unknown_fields() -> None:
    with pytest.raises(ValidationError, match="extra_forbidden"):
        _pledge(unexpected="x")
    with pytest.raises(ValidationError, match="extra_forbidden"):
        PledgeSubmitted.model_validate({**_pledge().model_dump(mode="json"), "unexpected": 1})


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_event_type_format(event_type: str) -> None:
    cls: type[EventPayload] = EVENT_TYPES[event_type]
    assert re.fullmatch(r"org\.un\.uncops\.[a-z_]+\.[a-z_]+\.v\d+", event_type)
    assert cls.event_type() == event_type
    assert re.fullmatch(r"/uncops/[a-z_]+", cls.source)


@pytest.mark.parametrize("missing", ["ce_id", "ce_source", "ce_type", "ce_specversion", "ce_subject"])
def test_decode_rejects_missing_ce_header(missing: str) -> None:
    headers, value = encode_kafka(_event())
    with pytest.raises(ValueError, match=missing):
        decode_kafka([(k, v) for k, v in headers if k != missing], value)


@pytest.mark.parametrize(
    ("value", "reason"),
    [(b"{not json", "not JSON"), (b"[1, 2]", "JSON object"), (b'"text"', "JSON object"), (None, "no data")],
)
def test_decode_rejects_bad_value(value: bytes | None, reason: str) -> None:
    headers, _ = encode_kafka(_event())
    with pytest.raises(ValueError, match=reason):
        decode_kafka(headers, value)


def test_decode_rejects_other_specversion() -> None:
    headers, value = encode_kafka(_event())
    headers = [(k, b"0.3" if k == "ce_specversion" else v) for k, v in headers]
    with pytest.raises(ValueError, match="specversion"):
        decode_kafka(headers, value)


# ------------------------------------------------------------------------- the official CloudEvents SDK


def test_official_sdk_reads_our_messages() -> None:
    event = _event(traceparent=TRACEPARENT)
    headers, value = encode_kafka(event)
    message = ce_kafka.KafkaMessage(headers=dict(headers), key=b"pl-42", value=value)
    read = ce_kafka.from_binary_event(message)
    assert read.get_specversion() == "1.0"
    assert (read.get_id(), read.get_type(), read.get_source(), read.get_subject()) == (
        event.id,
        event.type,
        event.source,
        event.subject,
    )
    assert read.get_time() == event.time
    assert read.get_dataschema() == event.dataschema
    assert read.get_datacontenttype() == "application/json"
    assert read.get_data() == event.data
    assert read.get_extension("traceparent") == TRACEPARENT
    assert read.get_extension("partitionkey") == "pl-42"


def test_legacy_sdk_api_reads_our_messages() -> None:
    # cloudevents.v1 is the 1.x API kept in 2.x, which many consumers still use.
    event = _event()
    headers, value = encode_kafka(event)
    read = ce_kafka_v1.from_binary(ce_kafka_v1.KafkaMessage(dict(headers), b"pl-42", value))
    assert (read["id"], read["type"], read["source"], read["subject"]) == (
        event.id,
        event.type,
        event.source,
        event.subject,
    )
    assert read.get_data() == event.data


def test_we_read_messages_made_by_the_official_sdk() -> None:
    data = _pledge().model_dump(mode="json")
    sdk_event = SdkCloudEvent(
        attributes={
            "id": "ev-1",
            "source": "/uncops/pledges",
            "type": PledgeSubmitted.event_type(),
            "specversion": "1.0",
            "subject": "pl-42",
            "time": datetime(2026, 5, 13, 9, 30, tzinfo=UTC),
            "dataschema": PledgeSubmitted.dataschema(),
            "datacontenttype": "application/json",
        },
        data=data,
    )
    message = ce_kafka.to_binary_event(sdk_event)
    event = decode_kafka(list(message.headers.items()), message.value)
    assert (event.id, event.type, event.subject) == ("ev-1", PledgeSubmitted.event_type(), "pl-42")
    assert event.data == data
    assert json.loads(message.value) == data
