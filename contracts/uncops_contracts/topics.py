"""The Kafka topics of the platform: one per domain, plus a partner-facing public cases topic."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Topic:
    name: str
    producer: str
    description: str
    restricted: bool = False

    @property
    def dlq(self) -> str:
        """Where consumers park messages they cannot process."""
        return f"{self.name}.dlq"


PLEDGES = Topic(
    "uncops.pledges.v1",
    producer="pledges",
    description="What happened to Member States' pledges: submission, review, follow-up, fulfilment.",
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
)
SUMMIT = Topic(
    "uncops.summit.v1",
    producer="summit",
    description="Summit planning: milestones, delegations, programme and funding.",
)

TOPICS: dict[str, Topic] = {t.name: t for t in (PLEDGES, CASES, CASES_PUBLIC, SUMMIT)}
