"""Synthetic misconduct cases for the cases benchmarks: HTTP intakes, and case_file rows for bulk loading.

Every case is clearly synthetic (references ``<MISSION>-<YEAR>-B000042``, "Synthetic" in every free text) and
follows realistic distributions: ~10 missions, ~40 police-contributing countries (a long tail), the UN's
allegation types, personnel categories, report dates over five years, and a status that depends on the
case's age (old cases are mostly closed). The ``state`` JSONB of a row is a real ``Case``: templates are
built with the domain itself (``open_case`` then ``apply`` of the commands that lead to each status), then
varied per row (ids, mission, country, unit, type, dates, counts); deadlines move with the case's dates.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

from services.cases.domain.case import Case
from services.cases.domain.commands import (
    AddInterimMeasure,
    CloseCase,
    CloseNotCredible,
    RecordFinding,
    RecordHearing,
    RecordNoteVerbale,
    RecordProsecutionOutcome,
    RecordUnAction,
    ReferForInvestigation,
    ReferForProsecution,
    ReplyToNotification,
    StartAssessment,
)
from services.cases.domain.intake import CaseIntake, category_of, open_case
from services.cases.domain.lifecycle import apply
from services.cases.store import row_values
from services.common.actor import Actor
from uncops_contracts.cases import (
    CATEGORY_2_TYPES,
    SEA_TYPES,
    AllegationType,
    CaseStatus,
    ClosureReason,
    Finding,
    InterimMeasure,
    PersonnelCategory,
    ProsecutionOutcome,
    UnAction,
)
from uncops_contracts.policies import CasePolicy

OFFICER = Actor(subject="bench-cdo", role="conduct_officer")

# Missions with UN Police and roughly how many allegations each has had (weights, not figures).
MISSIONS: dict[str, int] = {
    "MINUSCA": 24,
    "MONUSCO": 20,
    "UNMISS": 14,
    "MINUSMA": 10,
    "UNAMID": 8,
    "MINUSTAH": 7,
    "UNISFA": 5,
    "UNMIL": 5,
    "BINUH": 4,
    "UNFICYP": 3,
}
# Forty contributing countries; weights fall off with rank (a few contribute most of the personnel).
COUNTRIES = (
    "SEN", "RWA", "BGD", "NPL", "EGY", "IND", "PAK", "JOR", "TGO", "BFA",
    "NER", "CMR", "TCD", "BEN", "GHA", "NGA", "IDN", "CHN", "ZMB", "KEN",
    "MAR", "TUN", "GIN", "CIV", "MLI", "ETH", "UGA", "TZA", "ZWE", "MWI",
    "MDG", "DJI", "MRT", "GAB", "COG", "BDI", "FRA", "NOR", "BRA", "URY",
)  # fmt: skip
COUNTRY_WEIGHTS = {code: 1 / (rank + 1) ** 0.8 for rank, code in enumerate(COUNTRIES)}
ALLEGATIONS: dict[AllegationType, int] = {
    AllegationType.SEXUAL_EXPLOITATION: 10,
    AllegationType.SEXUAL_ABUSE: 6,
    AllegationType.SEA_OTHER: 2,
    AllegationType.SEA_UNKNOWN: 1,
    AllegationType.RISK_TO_LIFE: 3,
    AllegationType.ASSAULT: 8,
    AllegationType.TORTURE_OR_ABUSE_OF_DETAINEES: 1,
    AllegationType.CORRUPTION_OR_FRAUD: 6,
    AllegationType.SIGNIFICANT_THEFT: 4,
    AllegationType.TRAFFICKING: 1,
    AllegationType.OTHER_SERIOUS: 4,
    AllegationType.HARASSMENT: 6,
    AllegationType.ABUSE_OF_AUTHORITY: 8,
    AllegationType.MINOR_THEFT: 5,
    AllegationType.BREACH_OF_RULES: 12,
    AllegationType.TRAFFIC_OFFENCE: 10,
    AllegationType.CURFEW_VIOLATION: 5,
    AllegationType.OTHER_MINOR: 8,
}
PERSONNEL: dict[PersonnelCategory, int] = {
    PersonnelCategory.INDIVIDUAL_POLICE_OFFICER: 40,
    PersonnelCategory.FORMED_POLICE_UNIT: 50,
    PersonnelCategory.OTHER_UN_POLICE: 10,
}
HOW_REPORTED = ("community-based complaint network", "hotline", "mission staff", "NGO", "victim in person")
OFFICERS = tuple(f"cdo-{n:02d}" for n in range(1, 31))
# Status by age of the case (years since it was reported): (upper bound of the age, weights).
STATUS_BY_AGE: tuple[tuple[float, dict[str, int]], ...] = (
    (
        0.25,
        {"received": 15, "preliminary_assessment": 20, "under_investigation": 50, "action_pending": 5,
         "closed_not_credible": 10},
    ),
    (
        1.0,
        {"preliminary_assessment": 3, "under_investigation": 40, "action_pending": 15, "prosecution": 5,
         "closed_not_credible": 12, "closed_not_substantiated": 15, "closed_action_completed": 10},
    ),
    (
        2.0,
        {"under_investigation": 12, "action_pending": 12, "prosecution": 8, "prosecution_concluded": 4,
         "closed_not_credible": 14, "closed_not_substantiated": 25, "closed_action_completed": 25},
    ),
    (
        99.0,
        {"under_investigation": 4, "action_pending": 6, "prosecution": 5, "prosecution_concluded": 3,
         "closed_not_credible": 15, "closed_not_substantiated": 32, "closed_action_completed": 35},
    ),
)  # fmt: skip
# Columns of case_file in the order the rows below give them.
COLUMNS = (
    "id", "reference", "version", "status", "mission", "personnel_category", "police_contributing_country",
    "unit", "category", "allegation_type", "urgent", "incident_date", "reported_on", "assigned_officer",
    "investigating_entity", "finding", "credible", "overdue", "next_due_at", "opened_at", "updated_at",
    "state",
)  # fmt: skip


_CUMULATIVE: dict[int, tuple[list[Any], list[float]]] = {}  # id of a constant table -> population


def _weighted(rng: random.Random, weights: dict[Any, Any]) -> Any:
    # Only ever called with this module's constant tables: their cumulative weights are computed once.
    key = id(weights)
    if key not in _CUMULATIVE:
        total, cumulative = 0.0, []
        for weight in weights.values():
            total += weight
            cumulative.append(total)
        _CUMULATIVE[key] = (list(weights), cumulative)
    population, cumulative = _CUMULATIVE[key]
    return rng.choices(population, cum_weights=cumulative)[0]


def _group(allegation: AllegationType) -> str:
    if allegation in SEA_TYPES:
        return "sea"
    return "category_2" if allegation in CATEGORY_2_TYPES else "category_1"


GROUP_EXAMPLE = {
    "sea": AllegationType.SEXUAL_EXPLOITATION,
    "category_1": AllegationType.ASSAULT,
    "category_2": AllegationType.BREACH_OF_RULES,
}


def intake_body(rng: random.Random, today: date, n: int, investigable: bool = True) -> dict[str, Any]:
    """A valid POST /cases body. ``investigable``: a personnel category whose referral starts the
    investigation at once (individual police officers, other UN Police), as the throughput run needs."""
    if investigable:
        personnel = rng.choice(
            [PersonnelCategory.INDIVIDUAL_POLICE_OFFICER, PersonnelCategory.OTHER_UN_POLICE]
        )
    else:
        personnel = _weighted(rng, PERSONNEL)
    country = _weighted(rng, COUNTRY_WEIGHTS)
    allegation = _weighted(rng, ALLEGATIONS)
    reported = today - timedelta(days=rng.randint(0, 30))
    victims = rng.choice((0, 1, 1, 1, 2, 3)) if allegation in SEA_TYPES else rng.choice((0, 0, 1))
    body: dict[str, Any] = {
        "mission": _weighted(rng, MISSIONS),
        "personnel_category": personnel.value,
        "police_contributing_country": country,
        "allegation_type": allegation.value,
        "incident_date": str(reported - timedelta(days=rng.randint(0, 60))),
        "reported_on": str(reported),
        "how_reported": rng.choice(HOW_REPORTED),
        "alleged_perpetrators": rng.choice((1, 1, 1, 2, 3)),
        "victims": victims,
        "victims_minor": rng.randint(0, victims) if victims and rng.random() < 0.3 else 0,
        "description": f"Synthetic benchmark case {n}: no real person or event.",
    }
    if personnel is PersonnelCategory.FORMED_POLICE_UNIT:
        body["unit"] = f"{country}FPU-{rng.randint(1, 3)}"
    return body


# ---------------------------------------------------------------- templates built with the domain


def _template_intake(personnel: PersonnelCategory, group: str, today: date) -> CaseIntake:
    return CaseIntake(
        mission="MINUSCA",
        personnel_category=personnel,
        police_contributing_country="SEN",
        unit="SENFPU-1" if personnel is PersonnelCategory.FORMED_POLICE_UNIT else None,
        allegation_type=GROUP_EXAMPLE[group],
        incident_date=today - timedelta(days=40),
        reported_on=today - timedelta(days=10),
        how_reported="hotline",
        alleged_perpetrators=1,
        victims=1 if group == "sea" else 0,
        description="Synthetic benchmark case: no real person or event. " * 4,
    )


def _investigate(case: Case, now: datetime, policy: CasePolicy) -> Case:
    today = now.date()
    steps: list[Any] = [StartAssessment(), ReferForInvestigation()]
    for command in steps:
        case = apply(case, command, OFFICER, now, policy).case
    if case.status is CaseStatus.AWAITING_PCC_REPLY:
        reply = ReplyToNotification(
            investigates=True, national_investigation_officer="Synthetic NIO", note="Synthetic reply."
        )
        case = apply(case, reply, OFFICER, now, policy).case
    for command in (
        AddInterimMeasure(measure=InterimMeasure.ADMINISTRATIVE_LEAVE, on=today, note="Synthetic."),
        RecordNoteVerbale(direction="sent", reference="NV/SYN/001", on=today, subject="Synthetic."),
    ):
        case = apply(case, command, OFFICER, now, policy).case
    return case


def _status_case(status: str, start: Case, now: datetime, policy: CasePolicy) -> Case:
    today = now.date()

    def run(case: Case, *commands: Any) -> Case:
        for command in commands:
            case = apply(case, command, OFFICER, now, policy).case
        return case

    found = RecordFinding(finding=Finding.SUBSTANTIATED, summary="Synthetic finding.")
    un_action = RecordUnAction(taken=UnAction.REPATRIATION, on=today, note="Synthetic.")
    if status == "received":
        return start
    if status == "preliminary_assessment":
        return run(start, StartAssessment())
    if status == "closed_not_credible":
        return run(start, StartAssessment(), CloseNotCredible(reason="Synthetic: not credible."))
    if status == "awaiting_pcc_reply":
        return run(start, StartAssessment(), ReferForInvestigation())
    investigated = _investigate(start, now, policy)
    if status == "under_investigation":
        return investigated
    if status == "closed_not_substantiated":
        return run(investigated, RecordFinding(finding=Finding.NOT_SUBSTANTIATED, summary="Synthetic."))
    if status == "action_pending":
        return run(investigated, found, un_action)
    if status == "closed_action_completed":
        close = CloseCase(reason=ClosureReason.ACTION_COMPLETED, note="Synthetic closure.")
        return run(investigated, found, un_action, close)
    prosecuted = run(
        investigated,
        found,
        ReferForProsecution(on=today, note="Synthetic."),
        RecordHearing(on=today, court="Synthetic court", charges="Synthetic charges"),
    )
    if status == "prosecution":
        return prosecuted
    if status == "prosecution_concluded":
        outcome = RecordProsecutionOutcome(outcome=ProsecutionOutcome.CONVICTED, on=today, sentence="2 years")
        return run(prosecuted, outcome)
    raise ValueError(status)


class Templates:
    """A real case per (personnel category, allegation group, status), as JSON."""

    def __init__(self, now: datetime, policy: CasePolicy) -> None:
        self.now = now
        self.by_key: dict[tuple[PersonnelCategory, str, str], dict[str, Any]] = {}
        statuses = {s for _, weights in STATUS_BY_AGE for s in weights}
        for personnel in PersonnelCategory:
            for group in GROUP_EXAMPLE:
                start = open_case(
                    str(uuid.uuid4()),
                    "MINUSCA-2000-B000000",
                    _template_intake(personnel, group, now.date()),
                    now,
                )
                for status in statuses:
                    case = _status_case(status, start, now, policy)
                    self.by_key[(personnel, group, status)] = case.model_dump(mode="json")


def _shift(value: str | None, delta: timedelta) -> str | None:
    if value is None:
        return None
    return (datetime.fromisoformat(value) + delta).isoformat().replace("+00:00", "Z")


def case_rows(
    count: int, first: int, now: datetime, templates: Templates, seed: int = 2272, years: float = 5.0
) -> Iterator[tuple[Any, ...]]:
    """``count`` case_file rows in COLUMNS order, numbered from ``first`` (references stay unique)."""
    rng = random.Random(seed + first)
    today = now.date()
    span_days = int(365 * years)
    for n in range(first, first + count):
        personnel = _weighted(rng, PERSONNEL)
        allegation = _weighted(rng, ALLEGATIONS)
        group = _group(allegation)
        reported = today - timedelta(days=min(rng.randint(0, span_days), rng.randint(0, span_days)))
        age_years = (today - reported).days / 365
        weights = next(w for bound, w in STATUS_BY_AGE if age_years <= bound)
        status = _weighted(rng, weights)
        template = templates.by_key[(personnel, group, status)]
        mission = _weighted(rng, MISSIONS)
        country = _weighted(rng, COUNTRY_WEIGHTS)
        opened_at = datetime.combine(reported, datetime.min.time(), UTC) + timedelta(
            days=rng.randint(0, 3), seconds=rng.randint(8 * 3600, 18 * 3600)
        )
        delta = opened_at - templates.now
        incident = reported - timedelta(days=rng.randint(0, 90)) if rng.random() < 0.9 else None
        victims = rng.choice((0, 1, 1, 1, 2, 3)) if group == "sea" else rng.choice((0, 0, 1))
        minors = rng.randint(0, victims) if victims and rng.random() < 0.3 else 0
        deadlines = []
        for d in template["deadlines"]:
            due = datetime.fromisoformat(d["due_at"]) + delta
            warn = datetime.fromisoformat(d["warn_at"]) + delta
            deadlines.append(
                {
                    **d,
                    "started_at": _shift(d["started_at"], delta),
                    "due_at": _shift(d["due_at"], delta),
                    "warn_at": _shift(d["warn_at"], delta),
                    "warned": warn <= now,
                    "missed": due <= now and d["kind"] != "follow_up",
                    "overdue_since": _shift(d["due_at"], delta)
                    if due <= now and d["kind"] == "follow_up"
                    else None,
                }
            )
        state = {
            **template,
            "case_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "reference": f"{mission}-{reported.year}-B{n:06d}",
            "opened_at": opened_at.isoformat().replace("+00:00", "Z"),
            "mission": mission,
            "police_contributing_country": country,
            "unit": f"{country}FPU-{rng.randint(1, 3)}"
            if personnel is PersonnelCategory.FORMED_POLICE_UNIT
            else None,
            "allegation_type": allegation.value,
            "category": category_of(allegation).value,
            "incident_date": incident.isoformat() if incident else None,
            "reported_on": reported.isoformat(),
            "victims_adult": victims - minors,
            "victims_minor": minors,
            "alleged_perpetrators": rng.choice((1, 1, 1, 2, 3)),
            "assigned_officer": rng.choice(OFFICERS) if rng.random() < 0.8 else None,
            "investigation_started_at": _shift(template["investigation_started_at"], delta),
            "investigation_completed_at": _shift(template["investigation_completed_at"], delta),
            "deadlines": deadlines,
        }
        running = [d for d in deadlines if not d["paused_at"] and not d["missed"]]
        overdue = any(
            d["missed"] or d["overdue_since"] or datetime.fromisoformat(d["due_at"]) <= now for d in deadlines
        )
        yield (
            state["case_id"],
            state["reference"],
            state["version"],
            state["status"],
            mission,
            personnel.value,
            country,
            state["unit"],
            state["category"],
            allegation.value,
            False,
            incident,
            reported,
            state["assigned_officer"],
            state["investigating_entity"],
            state["finding"],
            state["closure_reason"] != ClosureReason.NOT_CREDIBLE.value,
            overdue,
            min((datetime.fromisoformat(d["due_at"]) for d in running), default=None),
            opened_at,
            opened_at + timedelta(days=rng.randint(0, 30)),
            json.dumps(state, separators=(",", ":")),
        )


def check_row(row: tuple[Any, ...], now: datetime) -> None:
    """The row's state is a valid Case and its columns are what the service itself would store."""
    case = Case.model_validate_json(row[-1])
    stored = dict(zip(COLUMNS, row, strict=True))
    expected = row_values(case, now)
    for name in ("status", "mission", "police_contributing_country", "category", "allegation_type", "finding",
                 "investigating_entity", "reported_on", "incident_date", "unit", "credible", "next_due_at",
                 "overdue", "version"):  # fmt: skip
        if stored[name] != expected[name]:
            raise AssertionError(
                f"synthetic row {stored['id']}: {name} {stored[name]!r} != {expected[name]!r}"
            )
