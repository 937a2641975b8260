"""The officers' use cases: read and act on cases through the cases API as the signed-in person. Nothing here
decides what a case allows: the APIs answer that (a case's ``allowed_actions``, a refusal's reason)."""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass, replace
from typing import Any

import httpx

from services.console.domain.forms import FilledForm, StepForm, read_form, step_form, step_forms, with_choices
from services.console.domain.person import Person
from services.console.gateway import Answer, Apis, Refused
from uncops_contracts.cases import CaseStatus, MisconductCategory
from uncops_contracts.reference import member_states, missions

# The filters of the officers' queue, passed to the cases API as they are; "search" is a reference.
QUEUE_FILTERS = ("search", "mission", "status", "category", "police_contributing_country", "overdue")
QUEUE_PAGE = 25
_REFERENCE = re.compile(r"[A-Za-z0-9-]{1,40}")


@dataclass(frozen=True)
class QueuePage:
    cases: list[dict[str, Any]]
    next_cursor: str | None


def queue_choices() -> dict[str, dict[str, str]]:
    """The values each filter of the queue offers (the contracts' vocabulary and reference data)."""
    return {
        "mission": {code: code for code, m in sorted(missions().items()) if m.active},
        "status": {s.value: s.value for s in CaseStatus},
        "category": {c.value: c.value for c in MisconductCategory},
    }


async def queue(apis: Apis, person: Person, filters: dict[str, str], cursor: str | None) -> QueuePage:
    """Cases whose next deadline falls first (the overdue ones) first, narrowed by the filters; a search
    finds a case by its reference or the reference's beginning."""
    params: dict[str, Any] = {name: filters.get(name) for name in QUEUE_FILTERS if name != "search"}
    search = filters.get("search", "").strip()
    if search:
        if not _REFERENCE.fullmatch(search):
            return QueuePage([], None)  # nothing is called that: no reference has other characters
        params["reference"] = search
    params.update(limit=QUEUE_PAGE, cursor=cursor, sort="next_due")
    answer = await apis.call(person, "cases", "GET", "/cases", params=params)
    return QueuePage(list(answer.body["items"]), answer.body.get("next_cursor"))


async def read_case(apis: Apis, person: Person, case_id: str) -> dict[str, Any]:
    answer = await apis.call(person, "cases", "GET", f"/cases/{case_id}")
    case: dict[str, Any] = answer.body
    return case


# Who may read a case's audit trail (the cases API answers 403 to anyone else).
AUDIT_READERS = ("conduct_officer", "admin")
AUDIT_PAGE = 50


@dataclass(frozen=True)
class AuditPage:
    entries: list[dict[str, Any]]
    next_cursor: str | None


async def audit_trail(apis: Apis, person: Person, case_id: str, cursor: str | None) -> AuditPage | None:
    """A page of the case's audit trail (who did what, when), oldest first; None for who may not read it."""
    if person.role not in AUDIT_READERS:
        return None
    answer = await apis.call(
        person, "cases", "GET", f"/cases/{case_id}/audit", params={"limit": AUDIT_PAGE, "cursor": cursor}
    )
    return AuditPage(list(answer.body["items"]), answer.body.get("next_cursor"))


async def verify_audit(apis: Apis, person: Person, case_id: str) -> dict[str, Any]:
    """The cases API's check of the trail's hash chain: whole, or where it first breaks."""
    answer = await apis.call(person, "cases", "GET", f"/cases/{case_id}/audit/verify")
    result: dict[str, Any] = answer.body
    return result


# What the statistics can be counted by, as the cases API names it (the UN's public tables).
STATISTICS_BY = (
    "year",
    "mission",
    "category",
    "nationality",
    "result",
    "personnel_category",
    "allegation_type",
)


async def statistics(apis: Apis, person: Person, by: str) -> list[dict[str, Any]]:
    """The counts of allegations by one dimension, largest first (years in order)."""
    answer = await apis.call(person, "cases", "GET", "/cases/statistics", params={"by": by})
    rows: list[dict[str, Any]] = list(answer.body)
    if by == "year":
        return sorted(rows, key=lambda row: row.get("year") or 0)
    return sorted(rows, key=lambda row: -int(row["allegations"]))


async def review_flags(apis: Apis, person: Person) -> list[dict[str, Any]]:
    """The SCR 2272 review flags the person may see, the newest first."""
    answer = await apis.call(person, "cases", "GET", "/cases/review-flags")
    return sorted(answer.body, key=lambda flag: str(flag["raised_at"]), reverse=True)


async def case_steps(apis: Apis) -> dict[str, StepForm]:
    """Every step's form, from the cases API's own contract."""
    document = await apis.document("cases")
    body = document["paths"]["/cases/{case_id}/actions"]["post"]["requestBody"]["content"]["application/json"]
    return step_forms(body["schema"], document["components"]["schemas"])


async def intake_form(apis: Apis) -> StepForm:
    """The form that opens a case, from the cases API's ``CaseIntake`` schema, with the UN's missions and
    Member States as choices (the contracts' reference data)."""
    document = await apis.document("cases")
    schemas = document["components"]["schemas"]
    form = step_form("open_case", schemas["CaseIntake"], schemas)
    active = {code: f"{code} — {m.name}" for code, m in missions().items() if m.active}
    form = with_choices(form, "mission", active)
    states = {code: f"{name} ({code})" for code, name in member_states().items()}
    return with_choices(form, "police_contributing_country", states)


async def open_case(
    apis: Apis, person: Person, form: StepForm, values: dict[str, str], idempotency_key: str
) -> FilledForm | Answer:
    """Opens the case under the form's Idempotency-Key: a double click opens one case."""
    filled = read_form(form, values)
    filled.body.pop("action")
    if filled.errors:
        return filled
    return await apis.call(
        person, "cases", "POST", "/cases", json=filled.body, headers={"Idempotency-Key": idempotency_key}
    )


# Steps that have their own page, not the generic form: what they send is not the step's own body.
OWN_PAGES = {"add_victim": "victims/new", "add_attachment": "attachments/new"}


async def victim_form(apis: Apis) -> StepForm:
    """Adding a victim: the pseudonym, whether a minor, and the identity that is sealed at rest (all of it
    optional: a victim may be recorded by pseudonym alone)."""
    document = await apis.document("cases")
    schemas = document["components"]["schemas"]
    victim = step_form("add_victim", schemas["NewVictim"], schemas)
    identity = step_form("identity", schemas["VictimIdentity"], schemas)
    fields = [f for f in victim.fields if f.name != "identity"]
    fields += [replace(f, required=False) for f in identity.fields]
    return StepForm("add_victim", tuple(fields))


IDENTITY_FIELDS = ("name", "date_of_birth", "contact", "location", "guardian", "notes")


async def add_victim(
    apis: Apis, person: Person, case_id: str, form: StepForm, values: dict[str, str], version: str, key: str
) -> FilledForm | Answer:
    filled = read_form(form, values)
    body = {k: v for k, v in filled.body.items() if k not in IDENTITY_FIELDS and k != "action"}
    identity = {k: v for k, v in filled.body.items() if k in IDENTITY_FIELDS}
    if identity and "name" not in identity:
        filled.errors["name"] = "Enter a value"
    if filled.errors:
        return filled
    if identity:
        body["identity"] = identity
    headers = {"Idempotency-Key": key, **({"If-Match": f'"{version}"'} if version else {})}
    return await apis.call(person, "cases", "POST", f"/cases/{case_id}/victims", json=body, headers=headers)


async def reveal_victim(
    apis: Apis, person: Person, case_id: str, victim_id: str, purpose: str
) -> dict[str, Any]:
    """A victim's identity, read for ``purpose``: the cases API records the reading in the audit trail."""
    answer = await apis.call(
        person,
        "cases",
        "POST",
        f"/cases/{case_id}/victims/{urllib.parse.quote(victim_id, safe='')}/reveal",
        json={"purpose": purpose},
    )
    identity: dict[str, Any] = answer.body
    return identity


async def add_attachment(
    apis: Apis,
    person: Person,
    case_id: str,
    filename: str,
    content: bytes,
    content_type: str,
    version: str,
    key: str,
) -> Answer:
    headers = {"Idempotency-Key": key, **({"If-Match": f'"{version}"'} if version else {})}
    return await apis.send_file(
        person,
        "cases",
        f"/cases/{case_id}/attachments",
        content,
        content_type or "application/octet-stream",
        params={"filename": filename},
        headers=headers,
    )


async def attachment(apis: Apis, person: Person, case_id: str, attachment_id: str) -> httpx.Response:
    return await apis.fetch_file(
        person, "cases", f"/cases/{case_id}/attachments/{urllib.parse.quote(attachment_id, safe='')}"
    )


async def step_of(apis: Apis, person: Person, case_id: str, action: str) -> tuple[dict[str, Any], StepForm]:
    """The case and the form of one of the steps it allows the person now (404 for any other)."""
    case = await read_case(apis, person, case_id)
    forms = await case_steps(apis)
    if action not in case.get("allowed_actions", ()) or action not in forms or action in OWN_PAGES:
        raise Refused(409, {"detail": "", "allowed_actions": case.get("allowed_actions", [])})
    return case, forms[action]


async def take_step(
    apis: Apis,
    person: Person,
    case_id: str,
    form: StepForm,
    values: dict[str, str],
    version: str,
    idempotency_key: str,
) -> FilledForm | Answer:
    """Sends the step with the version the person saw (If-Match) and the form's Idempotency-Key (a second
    click sends the same key: the API answers the first outcome again)."""
    filled = read_form(form, values)
    if filled.errors:
        return filled
    return await apis.call(
        person,
        "cases",
        "POST",
        f"/cases/{case_id}/actions",
        json=filled.body,
        headers={"Idempotency-Key": idempotency_key, **({"If-Match": f'"{version}"'} if version else {})},
    )
