"""Who is told what (issue 18, notifications to people): from a deadline or milestone event to the people
responsible, what each is told, and how a day's notices group in a digest. Pure: the consumer
(service/notifications.py) brings the people directory and the case it knows, and stores what this decides.

Nothing confidential ever reaches a notice: a case is named by its reference and the deadline's kind only
(never its victims, description or the persons involved), a pledge by its kind, a milestone by its title.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from services.console.domain.words import in_words

Delivery = Literal["immediate", "digest", "off"]
DELIVERIES: tuple[Delivery, ...] = ("immediate", "digest", "off")
DEFAULT_DELIVERY: Delivery = "immediate"

CONDUCT_OFFICER = "conduct_officer"
FOCAL_POINT = "state_focal_point"
PLANNER = "planner"
PCC_OWNER = "police_contributing_country"

# The kinds of event a person is told of, by area, in the order the preferences page lists them.
KINDS: dict[str, str] = {
    "case_deadline_approaching": "cases",
    "case_deadline_missed": "cases",
    "review_flag_raised": "cases",
    "pledge_clarification_requested": "pledges",
    "pledge_report_due": "pledges",
    "pledge_report_overdue": "pledges",
    "pledge_lapsed": "pledges",
    "milestone_due": "summits",
    "milestone_overdue": "summits",
    "funding_gap_alert": "summits",
    "delegation_registration_due": "summits",
}
AREAS = ("cases", "pledges", "summits")
# The preferences page's names of each kind (English message ids; French in the catalogue).
KIND_NAMES: dict[str, str] = {
    "case_deadline_approaching": "A case deadline approaches",
    "case_deadline_missed": "A case deadline is missed",
    "review_flag_raised": "A review flag is raised",
    "pledge_clarification_requested": "The secretariat asks about a pledge",
    "pledge_report_due": "A pledge's progress report falls due",
    "pledge_report_overdue": "A pledge's progress report is overdue",
    "pledge_lapsed": "A pledge lapsed",
    "milestone_due": "A summit milestone falls due",
    "milestone_overdue": "A summit milestone is overdue",
    "funding_gap_alert": "A summit's funding gap",
    "delegation_registration_due": "A delegation's registration closes soon",
}
# Each notice's text, with {named} places filled in the reader's language (English message ids).
TEXTS: dict[str, str] = {
    "case_deadline_approaching": "Case {reference}: {deadline} is due on {due}",
    "case_deadline_missed": "Case {reference}: {deadline} was due on {due} and is overdue",
    "review_flag_raised": "Review flag on {country}: {flag} ({count} cases)",
    "pledge_clarification_requested": "The secretariat asks {country} about a pledge ({pledge_kind})",
    "pledge_report_due": "A progress report on a pledge of {country} ({pledge_kind}) is due on {due}",
    "pledge_report_overdue": "A progress report on a pledge of {country} ({pledge_kind}) was due on {due}",
    "pledge_lapsed": "A pledge of {country} ({pledge_kind}) passed its target date unfulfilled",
    "milestone_due": "Summit milestone “{title}” is due on {due}",
    "milestone_overdue": "Summit milestone “{title}” was due on {due} and is overdue",
    "funding_gap_alert": "Funding gap before “{title}” ({due}): {received} of {budget} {currency} received",
    "delegation_registration_due": "The registration of the delegation of {country} closes on {due}",
}
# The words a text's places take, themselves translated (deadline kinds, review flags).
PLACE_WORDS: dict[str, str] = {
    "pcc_reply": "the reply to the notification",
    "investigation": "the investigation",
    "follow_up": "the report on national action and prosecution outcome",
    "unit_sea_allegations": "several allegations of sexual exploitation and abuse in one unit",
    "pcc_failing_to_act": "a police-contributing country not acting on allegations",
}
AREA_NAMES = {"cases": "Cases", "pledges": "Pledges", "summits": "Summits"}
# What the emails and pages say besides the notices themselves.
MESSAGES = (
    *KIND_NAMES.values(),
    *TEXTS.values(),
    *PLACE_WORDS.values(),
    "Open it in the UNCOPS console:",
    "Your daily digest: %(count)s notifications",
    "You receive this email because you are named as responsible in the UNCOPS Platform.",
    "Choose which emails you receive:",
    "UNCOPS daily digest",
    "Enter an email address such as name@example.org",
)
_EMAIL = re.compile(r"^[^@\s<>(),;:\"\[\]\\]+@[^@\s<>(),;:\"\[\]\\]+\.[^@\s<>(),;:\"\[\]\\]+$")
_MESSAGE_IDS = uuid.UUID("b7a0c1d2-4e5f-4a6b-8c7d-9e0f1a2b3c4d")


@dataclass(frozen=True)
class Someone:
    """A person of the console's directory: what they told it when they last signed in."""

    subject: str
    role: str
    member_state: str | None = None
    missions: frozenset[str] | None = None  # None: every mission
    language: str = "en"
    email: str | None = None

    def serves_mission(self, mission: str | None) -> bool:
        if self.missions is None:
            return True
        return mission is not None and mission in self.missions


@dataclass(frozen=True)
class CaseFacts:
    """What the console keeps of a case (from its case_changed events) to know who is responsible."""

    case_id: str
    reference: str
    mission: str
    police_contributing_country: str
    assigned_officer: str | None = None


@dataclass(frozen=True)
class Notice:
    """One event as people are told of it: its kind, the page to act on, and the (non-confidential) facts
    its text is made of."""

    kind: str
    link: str
    facts: Mapping[str, str] = field(default_factory=dict)

    @property
    def area(self) -> str:
        return KINDS[self.kind]


def valid_email(address: str) -> bool:
    """An address a mail server takes: one @, a dotted domain, nothing that could end a header."""
    return len(address) <= 254 and _EMAIL.match(address) is not None


def message_id(event_id: str, subject: str, domain: str = "uncops") -> str:
    """The same Message-ID for the same event and person, always: a message sent again after a crash (between
    the SMTP server's acceptance and our record of it) is recognisably the same message."""
    return f"<{uuid.uuid5(_MESSAGE_IDS, f'{event_id}/{subject}')}@{domain}>"


def _day(value: Any) -> str:
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)[:10]


def notice_of(kind: str, data: Mapping[str, Any], case: CaseFacts | None = None) -> Notice | None:
    """The notice an event makes, from its data (as the contract's JSON), or None for a kind no one is told
    of. Only the facts named here are kept: nothing else of the event goes anywhere."""
    if kind in ("case_deadline_approaching", "case_deadline_missed"):
        return Notice(
            kind,
            f"/cases/{data['case_id']}",
            {"reference": str(data["reference"]), "deadline": str(data["kind"]), "due": _day(data["due_at"])},
        )
    if kind == "review_flag_raised":
        return Notice(
            kind,
            "/cases/review-flags",
            {
                "country": str(data["police_contributing_country"]),
                "flag": str(data["kind"]),
                "count": str(data["count"]),
            },
        )
    if kind in (
        "pledge_clarification_requested",
        "pledge_report_due",
        "pledge_report_overdue",
        "pledge_lapsed",
    ):
        facts = {"country": str(data["member_state"]), "pledge_kind": str(data["kind"])}
        if "due_on" in data:
            facts["due"] = _day(data["due_on"])
        return Notice(kind, f"/pledges/{data['pledge_id']}", facts)
    if kind in ("milestone_due", "milestone_overdue"):
        return Notice(
            kind,
            f"/summits/{data['summit_id']}/milestones",
            {"title": str(data["title"]), "due": _day(data["due_at"])},
        )
    if kind == "funding_gap_alert":
        return Notice(
            kind,
            f"/summits/{data['summit_id']}/budget",
            {
                "title": str(data["milestone_title"]),
                "due": _day(data["due_at"]),
                "currency": str(data["currency"]),
                "budget": str(data["budget"]),
                "received": str(data["received"]),
            },
        )
    if kind == "delegation_registration_due":
        return Notice(
            kind,
            f"/summits/{data['summit_id']}/delegations/{data['delegation_id']}",
            {"country": str(data["member_state"]), "due": _day(data["registration_deadline"])},
        )
    return None


def recipients(
    kind: str, data: Mapping[str, Any], people: Iterable[Someone], case: CaseFacts | None = None
) -> list[str]:
    """The subjects of the people responsible for what the event reports, each once, in directory order.

    Case deadlines: the case's assigned officer, its mission's conduct-and-discipline team (officers of that
    mission, or of every mission), and, when the police-contributing country must act, that State's focal
    points. Review flags: the conduct officers of the missions of the flagged cases (or every mission).
    Pledges: the pledging State's focal points. Milestones and funding gaps: the planners. A delegation's
    registration: its State's focal points.
    """
    chosen: list[str] = []

    def add(person: Someone) -> None:
        if person.subject not in chosen:
            chosen.append(person.subject)

    everyone = list(people)
    area = KINDS.get(kind)
    if area is None:
        return []
    if kind in ("case_deadline_approaching", "case_deadline_missed"):
        mission = case.mission if case else None
        pcc = case.police_contributing_country if case else str(data["police_contributing_country"])
        officer = case.assigned_officer if case is not None else None
        for person in everyone:
            assigned = officer is not None and person.subject == officer
            team = person.role == CONDUCT_OFFICER and person.serves_mission(mission)
            owes = data.get("owner") == PCC_OWNER and person.role == FOCAL_POINT
            owes = owes and person.member_state == pcc
            if assigned or team or owes:
                add(person)
    elif kind == "review_flag_raised":
        missions = {str(m) for m in data.get("missions", ())}
        for person in everyone:
            if person.role == CONDUCT_OFFICER and (
                person.missions is None or bool(missions & set(person.missions))
            ):
                add(person)
    elif area == "pledges" or kind == "delegation_registration_due":
        state = str(data["member_state"])
        for person in everyone:
            if person.role == FOCAL_POINT and person.member_state == state:
                add(person)
    else:
        for person in everyone:
            if person.role == PLANNER:
                add(person)
    return chosen


Translate = Callable[[str], str]
FormatDay = Callable[[str], str]


def text_of(notice: Notice, translate: Translate, format_day: FormatDay) -> str:
    """The notice's sentence in the reader's language: its template and its words through ``translate``
    (the catalogue's gettext), its dates through ``format_day`` (Babel, in the reader's locale)."""
    places: dict[str, str] = {}
    for name, value in notice.facts.items():
        if name == "due":
            places[name] = format_day(value)
        elif value in PLACE_WORDS:
            places[name] = translate(PLACE_WORDS[value])
        elif name == "pledge_kind":
            places[name] = translate(in_words(value))
        else:
            places[name] = value
    # str.format_map on our own templates only; the places are plain values (a title's braces stay as typed).
    return translate(TEXTS[notice.kind]).format_map(_Places(places))


class _Places(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


@dataclass(frozen=True)
class DigestItem:
    notice: Notice
    at: datetime


def digest(items: Sequence[DigestItem]) -> list[tuple[str, list[DigestItem]]]:
    """A day's notices for one person, by area (cases, pledges, summits), each area oldest first; an area
    with nothing is left out."""
    grouped: list[tuple[str, list[DigestItem]]] = []
    for area in AREAS:
        found = sorted((i for i in items if i.notice.area == area), key=lambda i: i.at)
        if found:
            grouped.append((area, found))
    return grouped


def delivery_of(preferences: Mapping[str, str], kind: str) -> Delivery:
    chosen = preferences.get(kind, DEFAULT_DELIVERY)
    return chosen if chosen in DELIVERIES else DEFAULT_DELIVERY
