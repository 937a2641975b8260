"""A clearly synthetic set of misconduct cases for `make run`, loaded through the cases API.

Nothing here is real: every case says so in its description, units are named ``FPU-<country>-<n>``,
national investigation officers ``NIO DEMO-<country>-<n>``, notes verbales ``NV/DEMO/...``, and no case has a
victim's identity. The set is the same for a given day (``random.Random(2018)``; dates are counted back from
today): about 300 cases reported over the last three years in the active missions, by a plausible spread of
police-contributing countries, IPO and FPU personnel, SEA and other misconduct. The older a case, the further
it went: some are still received, others were closed as not credible, referred to OIOS, the mission or the
contributing country (whose focal point replies and names its NIO), found substantiated or not, followed by
UN and national action, prosecuted and closed.

Each step goes through ``POST /cases/{id}/actions`` as a conduct officer would take it, or as the
contributing country's focal point for the State's part; at most 16 requests are in flight.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

import httpx

from services.common.auth import Role, issue_token
from services.common.settings import Settings
from uncops_contracts.cases import CATEGORY_2_TYPES, SEA_TYPES, AllegationType
from uncops_contracts.reference import is_member_state, missions

SEED = 2018
CASES = 300
MAX_IN_FLIGHT = 16
DESCRIPTION = "SYNTHETIC DEMO CASE — not real data"
YEARS_BACK = 3
# How strongly age pushes a case on (0: age does not matter; 1: the oldest cases nearly all finished).
MATURITY = 0.6

# Major police-contributing countries (ISO 3166 alpha-3), weighted roughly by how many police they deploy;
# the FPU contributors among them are the ones that send formed units.
PCCS: dict[str, int] = {
    "SEN": 9, "EGY": 8, "RWA": 8, "BGD": 7, "NPL": 6, "JOR": 6, "TGO": 6, "BFA": 5, "NER": 5, "CMR": 5,
    "BEN": 4, "IDN": 4, "PAK": 4, "IND": 3, "CHN": 3, "GHA": 3, "NGA": 3, "MRT": 3, "DJI": 2, "COD": 2,
    "GIN": 2, "CIV": 2, "TUN": 2, "MDG": 1, "ZMB": 1, "ZWE": 1, "KEN": 1, "MAR": 1, "BRA": 1, "UKR": 1,
}  # fmt: skip
FPU_CONTRIBUTORS = frozenset(
    {"SEN", "EGY", "RWA", "BGD", "NPL", "JOR", "TGO", "BFA", "NER", "CMR", "BEN", "IDN", "PAK", "IND", "CHN"}
    | {"GHA", "NGA", "MRT", "DJI", "COD"}
)
# Missions weighted by the size of their police component; formed police units serve in the first three.
MISSION_WEIGHTS = {"MINUSCA": 10, "MONUSCO": 8, "UNMISS": 8, "UNISFA": 2, "BINUH": 2, "UNMIK": 1}
FPU_MISSIONS = frozenset({"MINUSCA", "MONUSCO", "UNMISS"})
HOW_REPORTED = (
    "community-based complaint network",
    "mission conduct and discipline team",
    "conduct and discipline hotline",
    "UN Police supervisor",
    "non-governmental organisation",
    "victim in person",
    "UN agency partner",
    "local authorities",
)
CRIMES = frozenset(
    SEA_TYPES
    | {
        AllegationType.ASSAULT,
        AllegationType.TORTURE_OR_ABUSE_OF_DETAINEES,
        AllegationType.TRAFFICKING,
        AllegationType.CORRUPTION_OR_FRAUD,
        AllegationType.RISK_TO_LIFE,
        AllegationType.SIGNIFICANT_THEFT,
    }
)
OTHER_CATEGORY_1 = [t for t in AllegationType if t not in SEA_TYPES and t not in CATEGORY_2_TYPES]
OFFICERS = tuple(f"cdo-demo-{n}" for n in range(1, 7))

Actor = Literal["officer", "state"]


@dataclass
class Step:
    actor: Actor
    body: dict[str, Any]


@dataclass
class DemoCase:
    intake: dict[str, Any]
    steps: list[Step] = field(default_factory=list)


def _weighted(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def plan(today: date, count: int = CASES, seed: int = SEED) -> list[DemoCase]:
    """The demo cases and the steps each one takes: the same list for the same day."""
    rng = random.Random(seed)
    active = {code for code, mission in missions().items() if mission.active}
    mission_weights = {m: w for m, w in MISSION_WEIGHTS.items() if m in active} or dict.fromkeys(active, 1)
    pccs = {code: w for code, w in PCCS.items() if is_member_state(code)}
    return [_case(rng, today, n, mission_weights, pccs) for n in range(count)]


def _case(
    rng: random.Random, today: date, n: int, mission_weights: dict[str, int], pccs: dict[str, int]
) -> DemoCase:
    mission = _weighted(rng, mission_weights)
    country = _weighted(rng, pccs)
    fpu = mission in FPU_MISSIONS and country in FPU_CONTRIBUTORS and rng.random() < 0.65
    if fpu:
        personnel = "formed_police_unit"
    else:
        personnel = "other_un_police" if rng.random() < 0.07 else "individual_police_officer"
    draw = rng.random()
    if draw < 0.4:
        allegation = rng.choices(
            sorted(SEA_TYPES),
            weights=[4 if t is AllegationType.SEXUAL_EXPLOITATION else 2 for t in sorted(SEA_TYPES)],
        )[0]
    elif draw < 0.7:
        allegation = rng.choice(OTHER_CATEGORY_1)
    else:
        allegation = rng.choice(sorted(CATEGORY_2_TYPES))
    reported = today - timedelta(days=rng.randint(0, YEARS_BACK * 365 - 1))
    incident = None if rng.random() < 0.1 else reported - timedelta(days=rng.randint(0, 120))
    if allegation in SEA_TYPES:
        victims = rng.choices([1, 2, 3], weights=[7, 2, 1])[0]
        minors = rng.randint(1, victims) if rng.random() < 0.3 else 0
    elif allegation in (AllegationType.ASSAULT, AllegationType.TORTURE_OR_ABUSE_OF_DETAINEES):
        victims = rng.choices([1, 2], weights=[4, 1])[0]
        minors = 1 if rng.random() < 0.1 else 0
    elif allegation in (AllegationType.HARASSMENT, AllegationType.TRAFFICKING, AllegationType.RISK_TO_LIFE):
        victims, minors = rng.choice([0, 1, 1]), 0
    else:
        victims, minors = 0, 0
    intake: dict[str, Any] = {
        "mission": mission,
        "personnel_category": personnel,
        "police_contributing_country": country,
        "allegation_type": allegation.value,
        "reported_on": reported.isoformat(),
        "incident_date": incident.isoformat() if incident else None,
        "how_reported": rng.choice(HOW_REPORTED),
        "alleged_perpetrators": rng.choices([1, 2, 3], weights=[8, 2, 1])[0],
        "victims": victims,
        "victims_minor": minors,
        "description": DESCRIPTION,
    }
    if fpu:
        intake["unit"] = f"FPU-{country}-{rng.randint(1, 2)}"
    if allegation in OTHER_CATEGORY_1 and rng.random() < 0.15:
        intake["urgent"] = True
    return DemoCase(intake, _steps(rng, today, n, intake, reported, allegation))


def _steps(
    rng: random.Random,
    today: date,
    n: int,
    intake: dict[str, Any],
    reported: date,
    allegation: AllegationType,
) -> list[Step]:
    """How far this case went: the older it is, the further."""
    maturity = MATURITY * min(1.0, (today - reported).days / 720)
    steps: list[Step] = []
    cursor = reported

    def later(low: int, high: int) -> str:
        nonlocal cursor
        cursor = min(today, cursor + timedelta(days=rng.randint(low, high)))
        return cursor.isoformat()

    def officer(action: str, **body: Any) -> None:
        steps.append(Step("officer", {"action": action, **body}))

    def state(action: str, **body: Any) -> None:
        steps.append(Step("state", {"action": action, **body}))

    def goes_on(base: float) -> bool:
        return rng.random() < base + (1 - base) * maturity

    country, mission = intake["police_contributing_country"], intake["mission"]
    fpu = intake["personnel_category"] == "formed_police_unit"
    category_2 = allegation in CATEGORY_2_TYPES
    if not goes_on(0.55):
        return steps  # received
    officer("start_assessment")
    if rng.random() < 0.08:
        officer(
            "close_not_credible", reason="Preliminary assessment found the report not credible (synthetic)."
        )
        return steps
    if not goes_on(0.45):
        return steps  # preliminary assessment
    if rng.random() < 0.2:
        officer("assign_officer", officer=rng.choice(OFFICERS))
    if allegation in SEA_TYPES and rng.random() < 0.2:
        measure = "repatriation_pending_investigation" if fpu else "administrative_leave"
        officer("add_interim_measure", measure=rng.choice([measure, "payment_suspension"]), on=later(1, 20))
    officer("refer_for_investigation")
    investigator: Actor = "officer"
    if fpu and not category_2:
        if rng.random() < 0.4:
            officer(
                "record_note_verbale",
                direction="sent",
                reference=f"NV/DEMO/{mission}/{n + 1:04d}",
                on=later(0, 5),
                subject="Notification of allegation to the police-contributing country (synthetic).",
            )
        if not goes_on(0.5):
            return steps  # awaiting the State's reply
        reply = rng.random()
        if reply < 0.15:
            state("reply_to_notification", investigates=False, note="Declines to investigate (synthetic).")
        else:
            state(
                "reply_to_notification",
                investigates=True,
                joint=reply > 0.88,
                national_investigation_officer=f"NIO DEMO-{country}-{rng.randint(1, 9)}",
                note="Will investigate through its National Investigation Officer (synthetic).",
            )
            investigator = "state"
    if rng.random() < 0.1:
        steps.append(
            Step(investigator, {"action": "report_progress", "note": "Witness interviews held (synthetic)."})
        )
    if not goes_on(0.3):
        return steps  # under investigation
    substantiated = rng.random() < (0.55 if allegation in SEA_TYPES else 0.45)
    steps.append(
        Step(
            investigator,
            {
                "action": "record_finding",
                "finding": "substantiated" if substantiated else "not_substantiated",
                "summary": "Synthetic finding for the demo.",
            },
        )
    )
    later(30, 120)
    if not substantiated:
        return steps  # closed as not substantiated
    if category_2:
        officer("record_un_action", taken="other", on=later(5, 30), note="Written censure (synthetic).")
    elif fpu:
        officer(
            "record_un_action", taken=rng.choice(["repatriation", "payment_withholding"]), on=later(5, 30)
        )
    else:
        officer(
            "record_un_action", taken=rng.choice(["repatriation", "ban_from_future_service"]), on=later(5, 30)
        )
    if not goes_on(0.35):
        return steps  # action pending
    if allegation in CRIMES and rng.random() < 0.55:
        officer(
            "refer_for_prosecution",
            on=later(10, 60),
            note="Referred for criminal accountability (synthetic).",
        )
        if rng.random() < 0.4:
            state("record_hearing", on=later(30, 120), court="Demo court of first instance (synthetic)")
        if not goes_on(0.25):
            return steps  # prosecution
        outcome = rng.choices(["convicted", "acquitted", "dismissed"], weights=[5, 3, 2])[0]
        sentence = (
            f"{rng.choice([6, 12, 18, 24, 36])} months' imprisonment" if outcome == "convicted" else None
        )
        state("record_prosecution_outcome", outcome=outcome, on=later(30, 180), sentence=sentence)
        if outcome == "convicted" and rng.random() < 0.5:
            state("record_national_action", taken="dismissal", on=later(5, 30))
        if rng.random() < 0.7:
            officer("close", reason="prosecution_concluded", note="Prosecution concluded (synthetic).")
        return steps
    taken = rng.choice(["suspension", "demotion", "reprimand", "fine_or_forfeit", "dismissal"])
    state("record_national_action", taken=taken, on=later(20, 90))
    if rng.random() < 0.75:
        officer("close", reason="action_completed", note="UN and national action completed (synthetic).")
    return steps


@dataclass
class Loaded:
    cases: int = 0
    progressed: int = 0
    steps: int = 0


class DemoLoadError(RuntimeError):
    pass


async def load_cases(cases_url: str, settings: Settings, today: date | None = None) -> Loaded:
    """Open every demo case and take its steps, at most MAX_IN_FLIGHT requests at a time."""
    demo = plan(today or datetime.now(UTC).date())
    officer = {
        "Authorization": f"Bearer {issue_token(settings, Role.CONDUCT_OFFICER, subject='cdo-demo-loader')}"
    }
    states: dict[str, dict[str, str]] = {}
    for case in demo:
        country = case.intake["police_contributing_country"]
        if country not in states:
            token = issue_token(
                settings, Role.STATE_FOCAL_POINT, country, subject=f"demo-focal-point-{country}"
            )
            states[country] = {"Authorization": f"Bearer {token}"}
    loaded = Loaded()
    gate = asyncio.Semaphore(MAX_IN_FLIGHT)
    limits = httpx.Limits(max_connections=MAX_IN_FLIGHT, max_keepalive_connections=MAX_IN_FLIGHT)

    async with httpx.AsyncClient(base_url=cases_url, timeout=60, limits=limits) as http:

        async def post(
            path: str, headers: dict[str, str], body: dict[str, Any], expect: int
        ) -> dict[str, Any]:
            async with gate:
                response = await http.post(path, headers=headers, json=body)
            if response.status_code != expect:
                raise DemoLoadError(
                    f"demo case: POST {path} {body.get('action', '')} answered {response.status_code}: "
                    f"{response.text[:500]}"
                )
            result: dict[str, Any] = response.json()
            return result

        async def one(case: DemoCase) -> None:
            opened = await post("/cases", officer, case.intake, 201)
            loaded.cases += 1
            actions = f"/cases/{opened['case_id']}/actions"
            for step in case.steps:
                who = (
                    officer if step.actor == "officer" else states[case.intake["police_contributing_country"]]
                )
                await post(actions, who, step.body, 200)
                loaded.steps += 1
            loaded.progressed += bool(case.steps)

        await asyncio.gather(*(one(case) for case in demo))
    return loaded


def load_demo_cases(cases_url: str, settings: Settings) -> str:
    loaded = asyncio.run(load_cases(cases_url, settings))
    return f"{loaded.cases} synthetic cases ({loaded.progressed} taken through {loaded.steps} steps)"
