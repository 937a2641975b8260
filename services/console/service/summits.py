"""The summit planners' use cases (and a focal point's part: its State's delegation), through the summits API
as the signed-in person: the summits, a summit's overview, its plan of milestones, its delegations and its
budget. Nothing here decides what is allowed: a delegation's ``allowed_actions``, a refusal's reason and the
scopes come from the API. Each page's calls go out at once (asyncio.gather)."""

from __future__ import annotations

import asyncio
import hashlib
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from services.console.domain.forms import FilledForm, FormField, StepForm, read_form, step_form, with_choices
from services.console.domain.person import Person
from services.console.domain.timeline import Milestone, Timeline, timeline
from services.console.gateway import Answer, Apis, Refused
from uncops_contracts.reference import member_states

SUMMIT = "summit"
PLANNERS = ("planner", "admin")
SUMMITS_PAGE = 25
DELEGATIONS_PAGE = 50
# A plan has the template's milestones and those planners add: one page of the API holds any real plan.
MILESTONES_PAGE = 500
LISTS_PAGE = 100
DELEGATION_STATUSES = (
    "invited",
    "registered",
    "waitlisted",
    "under_review",
    "accredited",
    "confirmed",
    "declined",
    "withdrawn",
    "expired",
)
# The steps a delegation's page offers as buttons; decline and withdraw ask for a reason first.
DELEGATION_STEPS = ("start_review", "accredit", "confirm", "decline", "withdraw")
STEPS_WITH_REASON = ("decline", "withdraw")
# Inviting all 193 States starts 193 workflows: longer than a step, so the call waits this long.
INVITATION_SECONDS = 120.0
# Member slots of the registration form (a delegation is small: the API's policy sets the limit).
MEMBER_SLOTS = 4


def is_planner(person: Person) -> bool:
    return person.role in PLANNERS


def _quoted(identifier: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9._~-]{1,100}", identifier):
        raise Refused(404, {"detail": "no such page"})
    return identifier


@dataclass(frozen=True)
class Listing:
    items: list[dict[str, Any]]
    next_cursor: str | None


def _listing(answer: Answer) -> Listing:
    return Listing(list(answer.body["items"]), answer.body.get("next_cursor"))


async def _schemas(apis: Apis) -> dict[str, Any]:
    document = await apis.document(SUMMIT)
    schemas: dict[str, Any] = document["components"]["schemas"]
    return schemas


async def _form(apis: Apis, action: str, schema: str) -> StepForm:
    schemas = await _schemas(apis)
    return step_form(action, schemas[schema], schemas)


# --- The summits ----------------------------------------------------------------------------------------


async def summits(apis: Apis, person: Person, cursor: str | None) -> Listing:
    answer = await apis.call(
        person, SUMMIT, "GET", "/summits", params={"limit": SUMMITS_PAGE, "cursor": cursor}
    )
    return _listing(answer)


async def own_delegations(apis: Apis, person: Person, summit_ids: list[str]) -> dict[str, dict[str, Any]]:
    """A focal point's State's delegation to each summit listed (the API gives it its own only)."""
    if person.role != "state_focal_point" or not summit_ids:
        return {}
    answers = await asyncio.gather(
        *(
            apis.call(person, SUMMIT, "GET", f"/summits/{_quoted(s)}/delegations", params={"limit": 1})
            for s in summit_ids
        )
    )
    return {s: a.body["items"][0] for s, a in zip(summit_ids, answers, strict=True) if a.body["items"]}


async def read_summit(apis: Apis, person: Person, summit_id: str) -> dict[str, Any]:
    answer = await apis.call(person, SUMMIT, "GET", f"/summits/{_quoted(summit_id)}")
    summit: dict[str, Any] = answer.body
    return summit


async def new_summit_form(apis: Apis) -> StepForm:
    """Planning a summit, from the summits API's ``SummitCreate`` schema (its milestones come from the
    template the API holds)."""
    return await _form(apis, "plan_summit", "SummitCreate")


async def _send(
    apis: Apis,
    person: Person,
    form: StepForm,
    values: dict[str, str],
    key: str,
    path: str,
    method: str = "POST",
    version: str = "",
) -> FilledForm | Answer:
    filled = read_form(form, values)
    filled.body.pop("action")
    if filled.errors:
        return filled
    headers = {"Idempotency-Key": key, **({"If-Match": f'"{version}"'} if version else {})}
    return await apis.call(person, SUMMIT, method, path, json=filled.body, headers=headers)


async def plan_summit(
    apis: Apis, person: Person, form: StepForm, values: dict[str, str], key: str
) -> FilledForm | Answer:
    return await _send(apis, person, form, values, key, "/summits")


async def reschedule_form(apis: Apis) -> StepForm:
    return await _form(apis, "reschedule", "SummitReschedule")


async def reschedule_summit(
    apis: Apis, person: Person, summit_id: str, form: StepForm, values: dict[str, str], key: str
) -> FilledForm | Answer:
    """New dates for the whole summit, at the version the person saw (If-Match)."""
    return await _send(
        apis,
        person,
        form,
        values,
        key,
        f"/summits/{_quoted(summit_id)}/reschedule",
        version=values.get("version", ""),
    )


@dataclass(frozen=True)
class Overview:
    summit: dict[str, Any]
    milestones: list[dict[str, Any]]
    places: dict[str, Any] | None  # planners only
    funding: dict[str, Any] | None  # planners only
    delegation: dict[str, Any] | None  # a focal point's own


async def overview(apis: Apis, person: Person, summit_id: str) -> Overview:
    """The summit, its plan, its places and its money: the calls at once."""
    sid = _quoted(summit_id)
    calls = [
        apis.call(person, SUMMIT, "GET", f"/summits/{sid}"),
        apis.call(person, SUMMIT, "GET", f"/summits/{sid}/milestones", params={"limit": MILESTONES_PAGE}),
    ]
    if is_planner(person):
        calls += [
            apis.call(person, SUMMIT, "GET", f"/summits/{sid}/waiting-list"),
            apis.call(person, SUMMIT, "GET", f"/summits/{sid}/funding"),
        ]
    else:
        calls.append(apis.call(person, SUMMIT, "GET", f"/summits/{sid}/delegations", params={"limit": 1}))
    answers = await asyncio.gather(*calls)
    milestones = list(answers[1].body["items"])
    if is_planner(person):
        return Overview(answers[0].body, milestones, answers[2].body, answers[3].body, None)
    own = answers[2].body["items"]
    return Overview(answers[0].body, milestones, None, None, own[0] if own else None)


def gap_alert(funding: dict[str, Any] | None) -> bool:
    """The API's own figures: a budget not yet funded in full."""
    return funding is not None and float(funding["gap"]) > 0


# --- Milestones -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    summit: dict[str, Any]
    milestones: list[dict[str, Any]]
    chart: Timeline


async def plan(apis: Apis, person: Person, summit_id: str) -> Plan:
    sid = _quoted(summit_id)
    summit, listed = await asyncio.gather(
        apis.call(person, SUMMIT, "GET", f"/summits/{sid}"),
        apis.call(person, SUMMIT, "GET", f"/summits/{sid}/milestones", params={"limit": MILESTONES_PAGE}),
    )
    milestones = sorted(listed.body["items"], key=lambda m: str(m["due_at"]))
    chart = timeline(
        [
            Milestone(
                milestone_id=m["id"],
                title=m["title"],
                status=m["status"],
                due_at=datetime.fromisoformat(m["due_at"]),
                warn_at=datetime.fromisoformat(m["warn_at"]),
            )
            for m in milestones
        ],
        datetime.now(UTC),
        (
            datetime.fromisoformat(summit.body["starts_on"]).date(),
            datetime.fromisoformat(summit.body["ends_on"]).date(),
        ),
    )
    return Plan(summit.body, milestones, chart)


async def milestone_form(apis: Apis) -> StepForm:
    return await _form(apis, "add_milestone", "MilestoneCreate")


async def milestone_reschedule_form(apis: Apis) -> StepForm:
    return await _form(apis, "reschedule_milestone", "MilestoneReschedule")


async def add_milestone(
    apis: Apis, person: Person, summit_id: str, form: StepForm, values: dict[str, str], key: str
) -> FilledForm | Answer:
    return await _send(apis, person, form, values, key, f"/summits/{_quoted(summit_id)}/milestones")


async def read_milestone(apis: Apis, person: Person, summit_id: str, milestone_id: str) -> dict[str, Any]:
    answer = await apis.call(
        person, SUMMIT, "GET", f"/summits/{_quoted(summit_id)}/milestones/{_quoted(milestone_id)}"
    )
    milestone: dict[str, Any] = answer.body
    return milestone


async def reschedule_milestone(
    apis: Apis,
    person: Person,
    summit_id: str,
    milestone_id: str,
    form: StepForm,
    values: dict[str, str],
    key: str,
) -> FilledForm | Answer:
    path = f"/summits/{_quoted(summit_id)}/milestones/{_quoted(milestone_id)}/reschedule"
    return await _send(apis, person, form, values, key, path)


async def complete_milestone(
    apis: Apis, person: Person, summit_id: str, milestone_id: str, key: str
) -> Answer:
    return await apis.call(
        person,
        SUMMIT,
        "POST",
        f"/summits/{_quoted(summit_id)}/milestones/{_quoted(milestone_id)}/complete",
        json={},
        headers={"Idempotency-Key": key},
    )


# --- Delegations ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Delegations:
    summit: dict[str, Any]
    page: Listing
    places: dict[str, Any] | None  # planners only


async def delegations(
    apis: Apis, person: Person, summit_id: str, status: str, cursor: str | None
) -> Delegations:
    """A page of delegations by State (a focal point: its own), the places and the waiting list, at once."""
    sid = _quoted(summit_id)
    params = {
        "limit": DELEGATIONS_PAGE,
        "cursor": cursor,
        "status": status if status in DELEGATION_STATUSES else None,
    }
    calls = [
        apis.call(person, SUMMIT, "GET", f"/summits/{sid}"),
        apis.call(person, SUMMIT, "GET", f"/summits/{sid}/delegations", params=params),
    ]
    if is_planner(person):
        calls.append(apis.call(person, SUMMIT, "GET", f"/summits/{sid}/waiting-list"))
    answers = await asyncio.gather(*calls)
    places = answers[2].body if len(answers) > 2 else None
    return Delegations(answers[0].body, _listing(answers[1]), places)


def state_names() -> dict[str, str]:
    return {code: f"{name} ({code})" for code, name in member_states().items()}


async def invitation_form(apis: Apis) -> StepForm:
    """Inviting States, from ``InvitationRequest``: the States are chosen in a list (or all 193 at once)."""
    form = await _form(apis, "invite", "InvitationRequest")
    fields = tuple(
        replace(f, kind="lines", required=False, hint="") if f.name == "member_states" else f
        for f in form.fields
    )
    return StepForm(form.action, fields)


async def invite(
    apis: Apis,
    person: Person,
    summit_id: str,
    form: StepForm,
    values: dict[str, str],
    chosen: list[str],
    key: str,
) -> FilledForm | Answer:
    """Invites every Member State (``everyone``) or those chosen."""
    filled = read_form(form, values)
    filled.body.pop("action")
    if values.get("everyone") == "true":
        filled.body["member_states"] = "all"
    else:
        typed = [s.strip().upper() for s in filled.body.get("member_states", []) if s.strip()]
        states = list(dict.fromkeys([*chosen, *typed]))
        if not states:
            filled.errors["member_states"] = "Choose at least one Member State"
        filled.body["member_states"] = states
    if filled.errors:
        return filled
    return await apis.call(
        person,
        SUMMIT,
        "POST",
        f"/summits/{_quoted(summit_id)}/invitations",
        json=filled.body,
        headers={"Idempotency-Key": key},
        wait_seconds=INVITATION_SECONDS,
    )


async def capacity_form(apis: Apis) -> StepForm:
    return await _form(apis, "set_capacity", "CapacityChange")


async def set_capacity(
    apis: Apis, person: Person, summit_id: str, form: StepForm, values: dict[str, str], key: str
) -> FilledForm | Answer:
    return await _send(
        apis, person, form, values, key, f"/summits/{_quoted(summit_id)}/capacity", method="PUT"
    )


async def read_delegation(apis: Apis, person: Person, summit_id: str, delegation_id: str) -> dict[str, Any]:
    answer = await apis.call(
        person, SUMMIT, "GET", f"/summits/{_quoted(summit_id)}/delegations/{_quoted(delegation_id)}"
    )
    delegation: dict[str, Any] = answer.body
    return delegation


async def take_delegation_step(
    apis: Apis,
    person: Person,
    summit_id: str,
    delegation_id: str,
    action: str,
    reason: str,
    version: str,
    key: str,
) -> Answer:
    """A step the delegation allows the person now (the API refuses any other with 409 and its reason)."""
    if action not in DELEGATION_STEPS:
        raise Refused(404, {"detail": "no such step"})
    body: dict[str, Any] = {"action": action}
    if action in STEPS_WITH_REASON:
        body["reason"] = reason
    headers = {"Idempotency-Key": key, **({"If-Match": f'"{version}"'} if version else {})}
    return await apis.call(
        person,
        SUMMIT,
        "POST",
        f"/summits/{_quoted(summit_id)}/delegations/{_quoted(delegation_id)}/actions",
        json=body,
        headers=headers,
    )


@dataclass(frozen=True)
class RegistrationForm:
    """The registration's groups of fields from the ``Head`` and ``Person`` schemas: the head of delegation,
    then member slots (an empty slot is no member); each field named ``<group>-<field>``."""

    head: StepForm
    members: tuple[StepForm, ...]

    @property
    def fields(self) -> tuple[FormField, ...]:
        return self.head.fields + tuple(f for m in self.members for f in m.fields)


LANGUAGES_HINT = "One language code a line (ISO 639-1: en, fr, zh…)"


def _grouped(form: StepForm, group: str, required: bool) -> StepForm:
    return StepForm(
        group,
        tuple(
            replace(
                f,
                name=f"{group}-{f.name}",
                required=f.required and required,
                hint=LANGUAGES_HINT if f.name == "languages" else f.hint,
            )
            for f in form.fields
        ),
    )


async def registration_form(apis: Apis) -> RegistrationForm:
    schemas = await _schemas(apis)
    head = step_form("head", schemas["Head"], schemas)
    member = step_form("member", schemas["Person"], schemas)
    return RegistrationForm(
        head=_grouped(head, "head", True),
        members=tuple(_grouped(member, f"member{n}", False) for n in range(1, MEMBER_SLOTS + 1)),
    )


def registered_values(delegation: dict[str, Any]) -> dict[str, str]:
    """The registration form filled with the persons registered (registering again replaces them)."""
    values: dict[str, str] = {}
    members = 0
    for person in delegation.get("participants") or ():
        if person.get("is_head"):
            group = "head"
            values["head-head_of_delegation"] = str(delegation.get("head_of_delegation") or "")
        else:
            members += 1
            if members > MEMBER_SLOTS:
                break
            group = f"member{members}"
        values[f"{group}-full_name"] = str(person["full_name"])
        values[f"{group}-function"] = str(person["function"])
        values[f"{group}-languages"] = "\n".join(person.get("languages") or ())
        values[f"{group}-organisation"] = str(person.get("organisation") or "")
        values[f"{group}-consent_to_list"] = "true" if person.get("consent_to_list") else ""
    return values


def _person(form: StepForm, values: dict[str, str], errors: dict[str, str]) -> dict[str, Any]:
    filled = read_form(form, values)
    errors.update(filled.errors)
    prefix = form.action + "-"
    return {k.removeprefix(prefix): v for k, v in filled.body.items() if k != "action"}


def registration_refusal(refused: Refused) -> Refused:
    """The API's field paths (``head.full_name``, ``members[1].languages``) as the form's field names."""
    errors = []
    for error in refused.problem.get("errors") or ():
        if isinstance(error, dict) and "field" in error:
            name = str(error["field"]).removeprefix("body.")
            name = re.sub(r"^members\[(\d+)\]\.", lambda m: f"member{int(m.group(1)) + 1}-", name)
            name = re.sub(r"^head\.", "head-", name)
            error = {**error, "field": name.split(".", 1)[0] if name.startswith("proof_document") else name}
        errors.append(error)
    return Refused(refused.status, {**refused.problem, "errors": errors})


async def register(
    apis: Apis,
    person: Person,
    summit_id: str,
    delegation_id: str,
    form: RegistrationForm,
    values: dict[str, str],
    proof: tuple[str, str, bytes] | None,
    key: str,
) -> FilledForm | Answer:
    """Registers the head and the members filled in, with the credentials letter as its metadata (the
    console reads its name, type, size and SHA-256 from the file chosen; the API keeps the metadata)."""
    errors: dict[str, str] = {}
    body: dict[str, Any] = {"action": "register", "head": _person(form.head, values, errors), "members": []}
    for slot in form.members:
        if any(values.get(f.name, "").strip() for f in slot.fields if f.kind != "checkbox"):
            required = StepForm(
                slot.action,
                tuple(
                    replace(f, required=f.name.endswith(("full_name", "function", "languages")))
                    for f in slot.fields
                ),
            )
            body["members"].append(_person(required, values, errors))
    if proof is None:
        errors["proof_document"] = "Choose the credentials letter (PDF, JPEG or PNG)"
    else:
        name, media_type, content = proof
        body["proof_document"] = {
            "file_name": name,
            "media_type": media_type,
            "size_bytes": len(content),
            "sha256": hashlib.sha256(content).hexdigest(),
        }
    if errors:
        return FilledForm(body, errors)
    version = values.get("version", "")
    headers = {"Idempotency-Key": key, **({"If-Match": f'"{version}"'} if version else {})}
    try:
        return await apis.call(
            person,
            SUMMIT,
            "POST",
            f"/summits/{_quoted(summit_id)}/delegations/{_quoted(delegation_id)}/register",
            json=body,
            headers=headers,
        )
    except Refused as refused:
        raise registration_refusal(refused) from None


# --- Budget ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Budget:
    summit: dict[str, Any]
    funding: dict[str, Any]
    expenditures: Listing
    receipts: Listing


async def budget(apis: Apis, person: Person, summit_id: str, cursor: str | None) -> Budget:
    """The funding position (budget lines, pledged, received, spent, the gap), a page of spending and the
    receipts, at once."""
    sid = _quoted(summit_id)
    summit, funding, spent, received = await asyncio.gather(
        apis.call(person, SUMMIT, "GET", f"/summits/{sid}"),
        apis.call(person, SUMMIT, "GET", f"/summits/{sid}/funding"),
        apis.call(
            person,
            SUMMIT,
            "GET",
            f"/summits/{sid}/budget/expenditures",
            params={"limit": LISTS_PAGE, "cursor": cursor},
        ),
        apis.call(person, SUMMIT, "GET", f"/summits/{sid}/funding/receipts", params={"limit": LISTS_PAGE}),
    )
    return Budget(summit.body, funding.body, _listing(spent), _listing(received))


# The three forms of the budget page, by the path segment they post to: (action, schema).
BUDGET_FORMS = {
    "lines": ("add_budget_line", "BudgetLineCreate"),
    "expenditures": ("record_expenditure", "ExpenditureCreate"),
    "receipts": ("record_receipt", "ReceiptCreate"),
}
BUDGET_PATHS = {
    "lines": "budget/lines",
    "expenditures": "budget/expenditures",
    "receipts": "funding/receipts",
}


async def budget_form(apis: Apis, kind: str, lines: list[dict[str, Any]] | None = None) -> StepForm:
    """A budget form from its schema; an expenditure's budget line is chosen among the summit's lines, a
    receipt's State among the Member States."""
    if kind not in BUDGET_FORMS:
        raise Refused(404, {"detail": "no such form"})
    action, schema = BUDGET_FORMS[kind]
    form = await _form(apis, action, schema)
    names = {f.name for f in form.fields}
    if "budget_line_id" in names and lines is not None:
        form = with_choices(form, "budget_line_id", {line["id"]: line["title"] for line in lines})
    if "member_state" in names:
        form = with_choices(form, "member_state", state_names())
    return _grouped(form, kind, True)


async def record(
    apis: Apis, person: Person, summit_id: str, kind: str, form: StepForm, values: dict[str, str], key: str
) -> FilledForm | Answer:
    """Sends one of the budget page's forms (its fields named ``<kind>-<field>``, as the page has three)."""
    filled = read_form(form, values)
    body = {k.removeprefix(f"{kind}-"): v for k, v in filled.body.items() if k != "action"}
    if filled.errors:
        return filled
    try:
        return await apis.call(
            person,
            SUMMIT,
            "POST",
            f"/summits/{_quoted(summit_id)}/{BUDGET_PATHS[kind]}",
            json=body,
            headers={"Idempotency-Key": key},
        )
    except Refused as refused:
        raise refusal_in_group(refused, kind) from None


def refusal_in_group(refused: Refused, group: str) -> Refused:
    """The API's refusal with its fields named as the page's grouped form names them."""
    errors = [
        {**e, "field": f"{group}-{str(e['field']).rsplit('.', 1)[-1]}"}
        if isinstance(e, dict) and "field" in e
        else e
        for e in refused.problem.get("errors") or ()
    ]
    return Refused(refused.status, {**refused.problem, "errors": errors})
