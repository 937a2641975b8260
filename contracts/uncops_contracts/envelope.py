"""CloudEvents 1.0 envelope and its Kafka binary content mode mapping.

In binary mode the attributes travel as ``ce_*`` headers and the value is the event data as JSON,
so any CloudEvents SDK reads our messages and a partner never needs this module.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"
# Where a schema is served: <host>/contracts/schemas/<domain>/<name>.v<N>.json. The host part of the
# canonical base below is the schemas' $id; a deployment publishes ce_dataschema with its own base (the
# partner gateway's address, setting UNCOPS_SCHEMA_BASE_URL), always ending with this path.
SCHEMA_PATH = "/contracts/schemas"
SCHEMA_BASE = "https://uncops.un.org" + SCHEMA_PATH
TRACEPARENT_HEADER = "traceparent"


class EventPayload(BaseModel):
    """Base of every event's data. Closed: an unknown field is an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Set by each concrete event.
    domain: ClassVar[str]
    name: ClassVar[str]
    version: ClassVar[int] = 1
    topic: ClassVar[str]
    source: ClassVar[str]
    description: ClassVar[str] = ""

    @classmethod
    def event_type(cls) -> str:
        return f"org.un.uncops.{cls.domain}.{cls.name}.v{cls.version}"

    @classmethod
    def schema_path(cls) -> str:
        """Path of the checked-in JSON Schema, relative to ``contracts/schemas``."""
        return f"{cls.domain}/{cls.name}.v{cls.version}.json"

    @classmethod
    def dataschema(cls) -> str:
        return f"{SCHEMA_BASE}/{cls.schema_path()}"


class CloudEvent(BaseModel):
    """A CloudEvents 1.0 event whose data is JSON."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    source: str
    type: str
    specversion: str = SPEC_VERSION
    subject: str
    time: datetime = Field(default_factory=lambda: datetime.now(UTC))
    datacontenttype: str = CONTENT_TYPE
    dataschema: str
    data: dict[str, Any]
    # W3C trace context, carried as the CloudEvents distributed-tracing extension.
    traceparent: str | None = None

    @classmethod
    def of(cls, payload: EventPayload, subject: str, **attributes: Any) -> Self:
        return cls(
            source=payload.source,
            type=payload.event_type(),
            subject=subject,
            dataschema=payload.dataschema(),
            data=payload.model_dump(mode="json"),
            **attributes,
        )


_CONTENT_TYPE_HEADER = ("content-type", CONTENT_TYPE.encode())
_SPEC_VERSION_HEADER = ("ce_specversion", SPEC_VERSION.encode())


def kafka_headers(
    id: str, source: str, type: str, subject: str, time: datetime, dataschema: str, traceparent: str | None
) -> list[tuple[str, bytes]]:
    """The ``ce_*`` headers of binary content mode, from the event's attributes."""
    headers = [
        _CONTENT_TYPE_HEADER,
        ("ce_id", id.encode()),
        ("ce_source", source.encode()),
        ("ce_type", type.encode()),
        _SPEC_VERSION_HEADER,
        ("ce_subject", subject.encode()),
        ("ce_time", time.isoformat().replace("+00:00", "Z").encode()),
        ("ce_dataschema", dataschema.encode()),
    ]
    if traceparent:
        headers.append(("ce_traceparent", traceparent.encode()))
        headers.append((TRACEPARENT_HEADER, traceparent.encode()))
    return headers


def encode_data(data: dict[str, Any]) -> bytes:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


def encode_kafka(event: CloudEvent) -> tuple[list[tuple[str, bytes]], bytes]:
    """Headers and value of the Kafka message for ``event`` (binary content mode)."""
    headers = kafka_headers(
        event.id, event.source, event.type, event.subject, event.time, event.dataschema, event.traceparent
    )
    return headers, encode_data(event.data)


def decode_kafka(headers: Iterable[tuple[str, bytes]], value: bytes | None) -> CloudEvent:
    """Read a binary-mode Kafka message back; raises ValueError when it is not a valid event."""
    attributes: dict[str, Any] = {}
    for key, raw in headers:
        if key.startswith("ce_"):
            attributes[key[3:]] = raw.decode()
    missing = [a for a in ("id", "source", "type", "specversion", "subject") if a not in attributes]
    if missing:
        raise ValueError(f"not a CloudEvent: missing header(s) {', '.join('ce_' + m for m in missing)}")
    if attributes["specversion"] != SPEC_VERSION:
        raise ValueError(f"unsupported specversion {attributes['specversion']!r}")
    if value is None:
        raise ValueError("event has no data")
    try:
        data = json.loads(value)
    except json.JSONDecodeError as exc:
        raise ValueError(f"event data is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError("event data must be a JSON object")
    attributes.setdefault("dataschema", "")
    known = {k: v for k, v in attributes.items() if k in CloudEvent.model_fields}
    return CloudEvent.model_validate({**known, "data": data})
