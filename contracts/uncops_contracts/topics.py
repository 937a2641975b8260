"""The Kafka topics of the platform: one per domain, plus a partner-facing public cases topic."""

from dataclasses import dataclass

# retention.ms of a topic kept forever: partners rebuild their view from its first event
# (docs/decisions/0004-partner-topics-kept-forever.md).
FOREVER = -1


@dataclass(frozen=True)
class Topic:
    name: str
    producer: str
    description: str
    restricted: bool = False
    # None: the cluster's default retention (7 days unless its operator says otherwise).
    retention_ms: int | None = None

    @property
    def dlq(self) -> str:
        """Where consumers park messages they cannot process."""
        return f"{self.name}.dlq"

    @property
    def configs(self) -> dict[str, str]:
        """The topic-level Kafka configs this topic is created with (and kept at) by `uncops topics`."""
        if self.retention_ms is None:
            return {}
        # Explicit, whatever the cluster's defaults: deletion by age only (never compaction, which would keep
        # one event per key), and no size limit, which would otherwise cut the history short.
        return {"cleanup.policy": "delete", "retention.ms": str(self.retention_ms), "retention.bytes": "-1"}


PLEDGES = Topic(
    "uncops.pledges.v1",
    producer="pledges",
    description="What happened to Member States' pledges: submission, review, follow-up, fulfilment.",
    retention_ms=FOREVER,
)
CASES = Topic(
    "uncops.cases.v1",
    producer="cases",
    description="Every transition of a misconduct case with case detail (never a victim's identity).",
    restricted=True,
)
CASES_PUBLIC = Topic(
    "uncops.cases.public.v1",
    producer="cases",
    description=(
        "Partner-facing misconduct data: the fields of the UN's public data, "
        "nothing that identifies a person."
    ),
    retention_ms=FOREVER,
)
SUMMIT = Topic(
    "uncops.summit.v1",
    producer="summit",
    description="Summit planning: milestones, delegations, programme and funding.",
)

TOPICS: dict[str, Topic] = {t.name: t for t in (PLEDGES, CASES, CASES_PUBLIC, SUMMIT)}
