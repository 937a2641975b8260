"""Shared, versioned event contracts of the UNCOPS Platform.

Partners need only this package (it depends on pydantic alone): the wheel also carries the JSON Schemas
and the AsyncAPI document (``uncops_contracts.documents``), generated into ``contracts/schemas`` and
``contracts/asyncapi.yaml``.
"""

from uncops_contracts.envelope import CloudEvent, EventPayload, decode_kafka, encode_kafka
from uncops_contracts.registry import EVENT_TYPES, event_class
from uncops_contracts.topics import TOPICS, Topic

__all__ = [
    "EVENT_TYPES",
    "TOPICS",
    "CloudEvent",
    "EventPayload",
    "Topic",
    "decode_kafka",
    "encode_kafka",
    "event_class",
]
