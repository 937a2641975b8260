"""JSON Schemas and the AsyncAPI document of the event contracts, and the compatibility check between
two versions of a schema.

Pure functions over the pydantic models (no file or YAML I/O): ``contracts/generate.py`` writes their
output, and the tests compare it with the checked-in files, so the models stay the single source.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from uncops_contracts.envelope import CONTENT_TYPE, SCHEMA_BASE, SCHEMA_PATH, SPEC_VERSION, EventPayload
from uncops_contracts.registry import EVENT_TYPES
from uncops_contracts.topics import TOPICS, Topic

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
# The version of the contracts package (contracts/pyproject.toml); a test keeps the two in step. A
# constant rather than importlib.metadata so generation does not depend on what happens to be installed.
DOCUMENT_VERSION = "1.1.0"
KAFKA_BINDING_VERSION = "0.5.0"

Schema = dict[str, Any]


# --------------------------------------------------------------------------------------------- JSON Schema


def json_schema(cls: type[EventPayload]) -> Schema:
    """The JSON Schema (draft 2020-12) of an event's data, as partners validate it.

    Validation mode: it describes what a consumer built on the model accepts (a Decimal is a number or
    its string form), which is what a compatibility check between versions has to compare.
    """
    schema = cls.model_json_schema(ref_template="#/$defs/{model}")
    # A concrete event without a docstring would otherwise inherit none: its ClassVar says what it means.
    description = cls.description or schema.get("description", "")
    return {
        **schema,
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": cls.dataschema(),
        "title": cls.event_type(),
        "description": description,
    }


# ---------------------------------------------------------------------------------------- compatibility

# Constraint keywords and the direction that tightens them (+1: raising a minimum rejects old data).
_BOUNDS = {
    **dict.fromkeys(("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties"), 1),
    **dict.fromkeys(("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties"), -1),
}
_RefPair = tuple[str, str]


def compatibility_problems(old: Schema, new: Schema) -> list[str]:
    """Why data valid under ``old`` (the released schema) may not be read with ``new``; [] when compatible.

    Both are schemas of the same event type and version. Reported: a removed property (so also a rename),
    a changed type (type, format, anyOf alternatives, the resolved $ref target), an enum that lost a
    value, a tightened constraint, an optional property made required and a new required property.
    Adding an optional property or an enum value, or editing descriptions and titles, is compatible.
    """
    problems: list[str] = []
    _Comparison(old, new, problems).node(old, new, "", frozenset())
    return problems


class _Comparison:
    def __init__(self, old_root: Schema, new_root: Schema, problems: list[str]) -> None:
        self.old_root, self.new_root, self.problems = old_root, new_root, problems

    def report(self, path: str, problem: str) -> None:
        self.problems.append(f"{path or '(event data)'}: {problem}")

    def node(self, old: Schema, new: Schema, path: str, ancestors: frozenset[_RefPair]) -> None:
        old_alts = list(_alternatives(self.old_root, old))
        new_alts = list(_alternatives(self.new_root, new))
        old_kinds = [_kind(a) for _, a in old_alts]
        new_kinds = [_kind(a) for _, a in new_alts]
        # Alternatives are compared as sets of JSON types: reordering a union is harmless, while any added
        # or removed alternative changes what the field may hold (conservative: widening is a change too).
        if sorted(old_kinds) != sorted(new_kinds):
            self.report(path, f"type changed from {'|'.join(old_kinds)} to {'|'.join(new_kinds)}")
            return
        for kind in dict.fromkeys(old_kinds):
            pairs = zip(
                (a for a in old_alts if _kind(a[1]) == kind),
                (a for a in new_alts if _kind(a[1]) == kind),
                strict=True,
            )
            for (old_ref, old_alt), (new_ref, new_alt) in pairs:
                # Models can be recursive: stop at a pair of definitions already compared up this path.
                if old_ref and new_ref:
                    if (old_ref, new_ref) in ancestors:
                        continue
                    self.alternative(old_alt, new_alt, path, ancestors | {(old_ref, new_ref)})
                else:
                    self.alternative(old_alt, new_alt, path, ancestors)

    def alternative(self, old: Schema, new: Schema, path: str, ancestors: frozenset[_RefPair]) -> None:
        new_values, old_values = _values(new), _values(old)
        if new_values is not None:
            if old_values is None:
                self.report(path, f"restricted to the values {_show(new_values)}")
            elif removed := [v for v in old_values if v not in new_values]:
                self.report(path, f"value(s) {_show(removed)} removed from the allowed values")
        if new.get("pattern") is not None and new.get("pattern") != old.get("pattern"):
            self.report(path, f"pattern changed from {old.get('pattern')!r} to {new['pattern']!r}")
        for key, sign in _BOUNDS.items():
            before, after = old.get(key), new.get(key)
            if after is not None and (before is None or (after - before) * sign > 0):
                self.report(path, f"{key} tightened from {before} to {after}")
        if "items" in old or "items" in new:
            self.node(old.get("items", {}), new.get("items", {}), f"{path}[]", ancestors)
        if "properties" in old or "properties" in new:
            self.properties(old, new, path, ancestors)
        old_extra, new_extra = old.get("additionalProperties", True), new.get("additionalProperties", True)
        if isinstance(old_extra, dict) and isinstance(new_extra, dict):  # the values of a dict[str, X]
            self.node(old_extra, new_extra, f"{path}.*", ancestors)
        elif old_extra is not False and new_extra is False:
            self.report(path, "no longer allows additional properties")

    def properties(self, old: Schema, new: Schema, path: str, ancestors: frozenset[_RefPair]) -> None:
        old_props, new_props = old.get("properties", {}), new.get("properties", {})
        old_required, new_required = set(old.get("required", ())), set(new.get("required", ()))
        prefix = f"{path}." if path else ""
        for name, old_prop in old_props.items():
            if name not in new_props:
                self.report(prefix + name, "property removed")
                continue
            self.node(old_prop, new_props[name], prefix + name, ancestors)
            if name in new_required and name not in old_required:
                self.report(prefix + name, "optional property made required")
        for name in new_props:  # in schema order, not set order, so the report is stable
            if name not in old_props and name in new_required:
                self.report(prefix + name, "new required property")


def _resolve(root: Schema, node: Schema) -> tuple[str | None, Schema]:
    """Follow local $refs ("#/a/b") to the schema they name, in $defs or in AsyncAPI components alike.

    Returns the last $ref followed too, which identifies a definition for the recursion guard.
    """
    ref = None
    while "$ref" in node:
        ref = node["$ref"]
        target: Any = root
        for part in ref.removeprefix("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        # Keywords next to a $ref (allowed in 2020-12) refine it; the target provides the rest.
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return ref, node


def _alternatives(root: Schema, node: Schema) -> Iterator[tuple[str | None, Schema]]:
    """The flat alternatives a value may match: anyOf/oneOf unpacked, `type: [a, b]` split."""
    ref, node = _resolve(root, node)
    for union in ("anyOf", "oneOf"):
        if union in node:
            for sub in node[union]:
                yield from _alternatives(root, sub)
            return
    if isinstance(node.get("type"), list):
        for type_ in node["type"]:
            yield ref, {**node, "type": type_}
        return
    yield ref, node


_JSON_TYPES = {str: "string", bool: "boolean", int: "integer", float: "number", type(None): "null"}


def _kind(node: Schema) -> str:
    """The JSON type of one alternative, with its format: a date and a free-text string differ to a reader."""
    type_ = node.get("type")
    if type_ is None:
        values = _values(node)
        if values:
            type_ = "|".join(dict.fromkeys(_JSON_TYPES.get(type(v), "object") for v in values))
        elif "properties" in node:
            type_ = "object"
        else:
            type_ = "any"
    return f"{type_}({node['format']})" if "format" in node else str(type_)


def _values(node: Schema) -> list[Any] | None:
    """The closed set of values an alternative allows (enum or const), or None when it is open."""
    if "enum" in node:
        return list(node["enum"])
    return [node["const"]] if "const" in node else None


def _show(values: list[Any]) -> str:
    return ", ".join(json.dumps(v) for v in values)


# ------------------------------------------------------------------------------------- release versions

# The package version is semantic, over what a release promises (its manifest, contracts/released/):
# patch = titles and descriptions only; minor = an allowed addition (an optional property, an enum value,
# a new event type or version, a new topic); major = anything a reader of the release could trip on
# (an incompatible schema change, a removed event version or topic, a topic made restricted).
BUMPS = ("none", "patch", "minor", "major")
_DOC_KEYWORDS = frozenset({"title", "description", "examples"})
# Keywords whose object maps names (of properties, of definitions) to schemas, rather than being a schema.
_NAME_MAPS = frozenset({"properties", "$defs", "patternProperties", "dependentSchemas"})


def release_manifest() -> Schema:
    """What the current models promise, as a release records it: the version, every topic (restricted or
    not) and every event's JSON Schema by its path under contracts/schemas."""
    return {
        "version": DOCUMENT_VERSION,
        "topics": {t.name: {"restricted": t.restricted} for t in TOPICS.values()},
        "schemas": {cls.schema_path(): json_schema(cls) for cls in EVENT_TYPES.values()},
    }


def required_bump(released: Schema, current: Schema) -> tuple[str, list[str]]:
    """The smallest version bump from the ``released`` manifest to ``current``, one of BUMPS, with the
    changes that need it (the most severe kind's)."""
    changes: dict[str, list[str]] = {bump: [] for bump in BUMPS[1:]}
    old_topics, new_topics = released["topics"], current["topics"]
    for name, topic in old_topics.items():
        if name not in new_topics:
            changes["major"].append(f"topic {name} removed")
        elif new_topics[name]["restricted"] and not topic["restricted"]:
            changes["major"].append(f"topic {name} made restricted")
    changes["minor"] += [f"topic {name} added" for name in new_topics if name not in old_topics]
    old_schemas, new_schemas = released["schemas"], current["schemas"]
    for path, old in old_schemas.items():
        new = new_schemas.get(path)
        if new is None:
            changes["major"].append(f"{path}: event version removed")
        elif problems := compatibility_problems(old, new):
            changes["major"] += [f"{path}: {problem}" for problem in problems]
        elif _without_docs(old) != _without_docs(new):
            additions = list(_additions(old, new, ""))
            changes["minor"] += [f"{path}: {a}" for a in additions] or [f"{path}: changed compatibly"]
        elif old != new:
            changes["patch"].append(f"{path}: titles or descriptions changed")
    changes["minor"] += [
        f"{path}: new event type or version" for path in new_schemas if path not in old_schemas
    ]
    for bump in reversed(BUMPS[1:]):
        if changes[bump]:
            return bump, changes[bump]
    return "none", []


def next_version(version: str, bump: str) -> str:
    """``version`` raised by ``bump`` (semantic versioning: a higher part resets the lower ones)."""
    major, minor, patch = (int(part) for part in version.split("."))
    if bump == "major":
        return f"{major + 1}.0.0"
    if bump == "minor":
        return f"{major}.{minor + 1}.0"
    if bump == "patch":
        return f"{major}.{minor}.{patch + 1}"
    return version


def version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def _without_docs(node: Any, names: bool = False) -> Any:
    if isinstance(node, dict):
        if names:
            return {k: _without_docs(v) for k, v in node.items()}
        return {k: _without_docs(v, k in _NAME_MAPS) for k, v in node.items() if k not in _DOC_KEYWORDS}
    if isinstance(node, list):
        return [_without_docs(v) for v in node]
    return node


def _additions(old: Any, new: Any, where: str) -> Iterator[str]:
    """The optional properties and enum values ``new`` adds to ``old`` (already known compatible)."""
    if not (isinstance(old, dict) and isinstance(new, dict)):
        return
    for key, value in new.items():
        if key not in old:
            continue
        if key in _NAME_MAPS and isinstance(value, dict):
            for name, sub in value.items():
                at = f"{where}.{name}" if where else name
                if name not in old[key]:
                    if key == "properties":
                        yield f"optional property {at} added"
                    continue
                yield from _additions(old[key][name], sub, at)
        elif key == "enum" and isinstance(value, list):
            added = [v for v in value if v not in old[key]]
            if added:
                yield f"{where or '(event data)'}: value(s) {_show(added)} added"
        elif key not in _DOC_KEYWORDS:
            if isinstance(value, list) and isinstance(old[key], list):
                for old_item, new_item in zip(old[key], value, strict=False):
                    yield from _additions(old_item, new_item, where)
            else:
                yield from _additions(old[key], value, where)


# ------------------------------------------------------------------------------------------------ AsyncAPI


def message_id(cls: type[EventPayload]) -> str:
    """Key of an event in components.messages and components.schemas, e.g. pledges.pledge_submitted.v1."""
    return f"{cls.domain}.{cls.name}.v{cls.version}"


def channel_id(address: str) -> str:
    return address.replace(".", "_")


def asyncapi_document() -> Schema:
    """The AsyncAPI 3.0.0 document of every topic and event: with the schemas, all a partner needs."""
    events = sorted(EVENT_TYPES.values(), key=message_id)
    events_by_topic: dict[str, list[type[EventPayload]]] = {name: [] for name in TOPICS}
    for cls in events:
        events_by_topic[cls.topic].append(cls)

    channels: Schema = {}
    operations: Schema = {}
    for topic in TOPICS.values():
        on_topic = events_by_topic[topic.name]
        refs = {message_id(c): {"$ref": f"#/components/messages/{message_id(c)}"} for c in on_topic}
        channels[channel_id(topic.name)] = {
            "address": topic.name,
            "title": topic.name,
            "description": topic.description + (" Restricted: not for partners." if topic.restricted else ""),
            "messages": refs,
            **_retention_binding(topic),
        }
        channels[channel_id(topic.dlq)] = {
            "address": topic.dlq,
            "title": topic.dlq,
            "description": (
                f"Dead-letter queue of {topic.name}: messages a consumer could not process, parked unchanged "
                "with the error in a header. A parked message need not be a valid event."
            ),
            "messages": dict(refs),
        }
        operations.update(_operations(topic, [message_id(c) for c in on_topic]))

    document: Schema = {
        "asyncapi": "3.0.0",
        "info": {
            "title": "UNCOPS Platform events",
            "version": DOCUMENT_VERSION,
            "description": (
                "Every event of the UNCOPS Platform. Events are CloudEvents 1.0 in the Kafka binary content "
                "mode: the attributes travel in ce_* headers and the event data is the JSON message value "
                "(content-type: application/json). The Kafka key is the id of the aggregate the event is "
                "about (also ce_subject), so one aggregate's events stay in order on one partition. "
                "ce_dataschema points at the event's JSON Schema. Delivery is at least once: deduplicate "
                "on ce_id. Generated from the uncops-contracts package; do not edit by hand."
            ),
        },
        "servers": {
            "local": {
                "host": "127.0.0.1:9092",
                "protocol": "kafka",
                "description": "The single-node Kafka broker that `make run` starts.",
            },
            "production": {
                "host": "{bootstrap}",
                "protocol": "kafka",
                "description": "A production Kafka cluster (TLS and SASL as its operator configures).",
                "variables": {
                    "bootstrap": {
                        "description": "A bootstrap server host:port (KAFKA_BOOTSTRAP_SERVERS).",
                        "default": "kafka.example.org:9093",
                    }
                },
            },
        },
        "defaultContentType": CONTENT_TYPE,
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": {message_id(c): _message(c) for c in events},
            "schemas": {message_id(c): _component_schema(c) for c in events},
        },
    }
    # A JSON round trip leaves plain, unshared data: YAML then writes no anchors/aliases between
    # messages that happen to share a dict.
    return dict(json.loads(json.dumps(document)))


def _retention_binding(topic: Topic) -> Schema:
    """A topic kept at its own retention says so (Kafka channel binding), so partners know how far back a
    rebuild can start."""
    if not topic.configs:
        return {}
    configs = topic.configs
    configuration: Schema = {
        "cleanup.policy": configs["cleanup.policy"].split(","),
        "retention.ms": int(configs["retention.ms"]),
        "retention.bytes": int(configs["retention.bytes"]),
    }
    return {
        "bindings": {"kafka": {"topicConfiguration": configuration, "bindingVersion": KAFKA_BINDING_VERSION}}
    }


def _operations(topic: Topic, message_ids: list[str]) -> Schema:
    channel = channel_id(topic.name)
    # Without `messages` an operation covers every message of its channel, which is what an empty list
    # would wrongly deny for a topic whose events are not defined yet.
    messages = {"messages": [{"$ref": f"#/channels/{channel}/messages/{m}"} for m in message_ids]}
    operations: Schema = {
        f"send_{channel}": {
            "action": "send",
            "channel": {"$ref": f"#/channels/{channel}"},
            "title": f"The {topic.producer} service publishes to {topic.name}",
            "summary": f"Published by the {topic.producer} service through its transactional outbox.",
            **(messages if message_ids else {}),
        }
    }
    if not topic.restricted:
        operations[f"receive_{channel}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{channel}"},
            "title": f"Partners consume {topic.name}",
            "summary": "Partner systems read this topic; unknown event types must be skipped, not failed.",
            **(messages if message_ids else {}),
        }
    return operations


def _message(cls: type[EventPayload]) -> Schema:
    string: Schema = {"type": "string"}
    headers: Schema = {
        "type": "object",
        "required": [
            "ce_id",
            "ce_source",
            "ce_type",
            "ce_specversion",
            "ce_subject",
            "ce_time",
            "ce_dataschema",
            "content-type",
        ],
        "properties": {
            "ce_id": {**string, "description": "Unique id of the event; repeats are the same event."},
            "ce_source": {**string, "const": cls.source, "description": "The producing service."},
            "ce_type": {**string, "const": cls.event_type()},
            "ce_specversion": {**string, "const": SPEC_VERSION},
            "ce_subject": {**string, "description": "Id of the aggregate the event is about (= the key)."},
            "ce_time": {**string, "format": "date-time", "description": "When it happened (RFC 3339)."},
            "ce_dataschema": _dataschema_header(cls),
            "content-type": {**string, "const": CONTENT_TYPE},
            "ce_traceparent": {**string, "description": "W3C trace context (CloudEvents extension)."},
            "traceparent": {**string, "description": "W3C trace context, for tracing libraries."},
        },
    }
    return {
        "name": cls.event_type(),
        "title": f"{cls.name.replace('_', ' ').capitalize()} (v{cls.version})",
        "summary": cls.description,
        "contentType": CONTENT_TYPE,
        "headers": headers,
        "payload": {"$ref": f"#/components/schemas/{message_id(cls)}"},
        "bindings": {
            "kafka": {
                "key": {**string, "description": "Id of the aggregate the event is about (= ce_subject)."},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }


def _dataschema_header(cls: type[EventPayload]) -> Schema:
    """ce_dataschema's base is a deployment setting (UNCOPS_SCHEMA_BASE_URL: the partner gateway's address);
    its path is fixed, so the header is described by the end of the URL rather than a constant."""
    path = f"{SCHEMA_PATH}/{cls.schema_path()}"
    return {
        "type": "string",
        "format": "uri",
        "pattern": "^https?://.+" + re.escape(path) + "$",
        "description": (
            f"URL of this event's JSON Schema: <base>/{cls.schema_path()}, where <base> is the platform's "
            f"schema base URL, ending with {SCHEMA_PATH} (the partner gateway's public address in "
            f"production; {SCHEMA_BASE} by default, which is also the schema's $id). "
            "A GET on it returns the schema."
        ),
        "examples": [cls.dataschema()],
    }


def _component_schema(cls: type[EventPayload]) -> Schema:
    """The event's JSON Schema as a component: its $defs stay inside it and its $refs point there.

    $id and $schema are dropped, since an $id would make JSON Schema tools resolve the rewritten refs
    against the standalone file instead of this document; ce_dataschema still names that file.
    """
    schema = {k: v for k, v in json_schema(cls).items() if k not in ("$id", "$schema")}
    return dict(_rewrite_refs(schema, f"#/components/schemas/{message_id(cls)}/$defs/"))


def _rewrite_refs(node: Any, prefix: str) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            node = {**node, "$ref": prefix + ref.removeprefix("#/$defs/")}
        return {k: v if k == "$ref" else _rewrite_refs(v, prefix) for k, v in node.items()}
    if isinstance(node, list):
        return [_rewrite_refs(v, prefix) for v in node]
    return node
