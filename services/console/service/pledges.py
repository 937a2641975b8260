"""The pledge pages' use cases (the secretariat's review and follow-up, a focal point's own State's pledges),
through the pledges API as the signed-in person. Nothing here decides what a pledge allows: the API answers
that (a pledge's ``allowed_actions``, a refusal's reason, which pledges a focal point sees)."""

from __future__ import annotations

import asyncio
import secrets
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import httpx

from services.console.domain.forms import (
    FilledForm,
    FormField,
    StepForm,
    read_form,
    step_form,
    step_forms,
    with_choices,
)
from services.console.domain.person import Person
from services.console.domain.pledge_import import CsvFile, Piece, RowRejection, piece, pieces, rejected_rows
from services.console.gateway import Answer, Apis, Refused
from uncops_contracts.pledges import PledgeKind, PledgeStatus, TrafficLight
from uncops_contracts.reference import member_states

QUEUE_FILTERS = ("status", "member_state", "kind")
FOLLOW_UP_FILTERS = ("traffic_light", "member_state", "kind")
QUEUE_PAGE = 25
# The statuses the secretariat still has to act on, the queue's first view.
AWAITING_SECRETARIAT = ("submitted", "acknowledged", "under_review")


@dataclass(frozen=True)
class PledgePage:
    pledges: list[dict[str, Any]]
    next_cursor: str | None
    # A flagged pledge of the page -> the pledge it resembles (the newest the API lists), side by side.
    resembled: dict[str, dict[str, Any]] = field(default_factory=dict)


def choices() -> dict[str, dict[str, str]]:
    """The values each filter offers (the contracts' vocabulary and the UN's Member States)."""
    return {
        "status": {s.value: s.value for s in PledgeStatus},
        "kind": {k.value: k.value for k in PledgeKind},
        "traffic_light": {t.value: t.value for t in TrafficLight},
        "member_state": {code: f"{name} ({code})" for code, name in sorted(member_states().items())},
    }


def _clean(filters: Mapping[str, str], names: tuple[str, ...]) -> dict[str, str]:
    """Only the filters a page has, and only values the vocabulary knows (anything else: no filter)."""
    known = choices()
    return {name: value for name in names if (value := filters.get(name, "")) in known[name]}


async def queue(
    apis: Apis, person: Person, filters: Mapping[str, str], cursor: str | None, oldest_first: bool = True
) -> PledgePage:
    """The pledges the person may see (a focal point: its State's, as the API scopes it), narrowed by the
    filters, the oldest first (a review queue serves the first come first); each flagged as a possible
    duplicate with the pledge it resembles."""
    params: dict[str, Any] = {**_clean(filters, QUEUE_FILTERS), "limit": QUEUE_PAGE, "cursor": cursor}
    params["sort"] = "submitted_at" if oldest_first else "-submitted_at"
    answer = await apis.call(person, "pledges", "GET", "/pledges", params=params)
    pledges = list(answer.body["items"])
    return PledgePage(pledges, answer.body.get("next_cursor"), await _resembled(apis, person, pledges))


async def _resembled(apis: Apis, person: Person, pledges: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    flagged = {p["id"]: p["possible_duplicate_of"][-1] for p in pledges if p.get("possible_duplicate_of")}
    originals = await asyncio.gather(*(_pledge_or_none(apis, person, other) for other in flagged.values()))
    return {pid: found for pid, found in zip(flagged, originals, strict=True) if found is not None}


async def _pledge_or_none(apis: Apis, person: Person, pledge_id: str) -> dict[str, Any] | None:
    try:
        return await read_pledge(apis, person, pledge_id)
    except Refused as refused:
        if refused.status in (403, 404):  # a pledge of a State the person does not see
            return None
        raise


async def read_pledge(apis: Apis, person: Person, pledge_id: str) -> dict[str, Any]:
    answer = await apis.call(person, "pledges", "GET", f"/pledges/{urllib.parse.quote(pledge_id, safe='')}")
    pledge: dict[str, Any] = answer.body
    return pledge


async def resembled(apis: Apis, person: Person, pledge: dict[str, Any]) -> list[dict[str, Any]]:
    """The pledges this one may duplicate, as the person may see them."""
    found = await asyncio.gather(
        *(_pledge_or_none(apis, person, other) for other in pledge.get("possible_duplicate_of", ()))
    )
    return [p for p in found if p is not None]


# ---------------------------------------------------------------- steps


# Hints beside step fields whose schema gives only an example (English: the catalogue's message ids).
STEP_HINTS = {
    ("report_progress", "period"): "The period reported on: 2026, 2026-H1 (a half year), 2026-Q3 or 2026-05.",
    ("report_progress", "value"): "The indicator's value at the end of the period.",
}
# A report's evidence is a list of documents (title, address, hash): more than a form's field can say; the
# report is sent without it here, and a State adds its documents through the API.
_NOT_IN_A_FORM = {("report_progress", "evidence")}


async def pledge_steps(apis: Apis) -> dict[str, StepForm]:
    """Every step's form, from the pledges API's own contract."""
    document = await apis.document("pledges")
    body = document["paths"]["/pledges/{pledge_id}/actions"]["post"]["requestBody"]["content"]
    schemas = document["components"]["schemas"]
    forms = step_forms(_resolved(body["application/json"]["schema"], schemas), schemas)
    return {
        action: StepForm(
            action,
            tuple(
                replace(f, hint=STEP_HINTS.get((action, f.name), f.hint))
                for f in form.fields
                if (action, f.name) not in _NOT_IN_A_FORM
            ),
        )
        for action, form in forms.items()
    }


def _resolved(schema: Mapping[str, Any], schemas: Mapping[str, Any]) -> Mapping[str, Any]:
    while "$ref" in schema:
        schema = schemas[str(schema["$ref"]).rsplit("/", 1)[-1]]
    return schema


async def step_of(apis: Apis, person: Person, pledge_id: str, action: str) -> tuple[dict[str, Any], StepForm]:
    """The pledge and the form of one of the steps it allows the person now (409 for any other)."""
    pledge, forms = await asyncio.gather(read_pledge(apis, person, pledge_id), pledge_steps(apis))
    allowed = pledge.get("allowed_actions", [])
    if action not in allowed or action not in forms:
        raise Refused(409, {"detail": "", "allowed_actions": allowed})
    return pledge, forms[action]


async def take_step(
    apis: Apis,
    person: Person,
    pledge_id: str,
    form: StepForm,
    values: dict[str, str],
    version: str,
    idempotency_key: str,
) -> FilledForm | Answer:
    """Sends the step with the version the person saw (If-Match) and the form's Idempotency-Key."""
    filled = read_form(form, values)
    if filled.errors:
        return filled
    headers = {"Idempotency-Key": idempotency_key, **({"If-Match": f'"{version}"'} if version else {})}
    return await apis.call(
        person,
        "pledges",
        "POST",
        f"/pledges/{urllib.parse.quote(pledge_id, safe='')}/actions",
        json=filled.body,
        headers=headers,
    )


# ---------------------------------------------------------------- submitting a pledge

# The SMART terms, each group with the words that explain it; the fields in each, as the API names them.
SMART_GROUPS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        "Specific",
        "Say exactly what your State commits to, and where it stands among the summit's commitments.",
        ("member_state", "co_sponsors", "kind", "title", "text"),
    ),
    (
        "Measurable",
        "How progress is measured: the indicator, where it stands today and where it will stand.",
        ("indicator", "baseline", "target", "unit"),
    ),
    (
        "Achievable",
        "What your State puts behind the pledge: people, equipment, training, money.",
        ("resources", "amount", "currency"),
    ),
    (
        "Relevant",
        "The summit the pledge is made at, and, for financial or political support, the summit it supports.",
        ("summit", "supports_summit"),
    ),
    ("Time-bound", "When the pledge will be fulfilled.", ("target_date",)),
)
# A hint beside each field, in English (the catalogue's message ids), where the contract has none.
SMART_HINTS = {
    "member_state": "The State that makes the pledge and reports on it.",
    "co_sponsors": "Other States that join the pledge, one ISO code a line (for example GHA).",
    "kind": "Which of the summit's commitments the pledge serves.",
    "title": (
        "One line that says what will change, for example: women are 25 percent of our formed police units."
    ),
    "text": "The pledge in full: what, for whom, how.",
    "indicator": "What is counted, for example: share of women among officers deployed in FPUs.",
    "baseline": "The indicator's value today.",
    "target": "The indicator's value when the pledge is fulfilled.",
    "unit": "What the numbers count: percent, officers, courses, US dollars.",
    "resources": "The people, equipment, training or budget committed.",
    "amount": "For a financial pledge: the money pledged.",
    "currency": "The amount's currency, as three capital letters (USD).",
    "summit": "The summit the pledge is made at.",
    "supports_summit": "Only for financial or political support: the summit supported.",
    "target_date": "The day by which the pledge will be fulfilled.",
}
TERMS = ("indicator", "baseline", "target", "unit", "target_date", "resources", "amount", "currency")


@dataclass(frozen=True)
class SmartGroup:
    title: str
    explanation: str
    form: StepForm


async def submission_form(apis: Apis, person: Person) -> tuple[StepForm, list[SmartGroup]]:
    """The pledge form from the pledges API's ``PledgeSubmission`` (its terms laid out as fields of their
    own), the UN's Member States as choices (a focal point's own State first chosen), and its fields in
    the SMART groups."""
    document = await apis.document("pledges")
    schemas = document["components"]["schemas"]
    submission = step_form("submit_pledge", schemas["PledgeSubmission"], schemas)
    terms = step_form("terms", schemas["PledgeTermsIn"], schemas)
    fields = [f for f in submission.fields if f.name != "terms"] + list(terms.fields)
    hinted = [replace(f, hint=SMART_HINTS.get(f.name, f.hint)) for f in fields]
    form = StepForm("submit_pledge", tuple(hinted))
    states = {code: f"{name} ({code})" for code, name in sorted(member_states().items())}
    form = with_choices(form, "member_state", states)
    if person.member_state:
        form = _with_default(form, "member_state", person.member_state)
    by_name = {f.name: f for f in form.fields}
    groups = [
        SmartGroup(title, words, StepForm("submit_pledge", tuple(by_name[n] for n in names if n in by_name)))
        for title, words, names in SMART_GROUPS
    ]
    return form, groups


def _with_default(form: StepForm, name: str, value: str) -> StepForm:
    fields: tuple[FormField, ...] = tuple(
        replace(f, default=value) if f.name == name else f for f in form.fields
    )
    return StepForm(form.action, fields)


async def submit_pledge(
    apis: Apis, person: Person, form: StepForm, values: dict[str, str], idempotency_key: str
) -> FilledForm | Answer:
    """Submits the pledge under the form's Idempotency-Key: a double click submits one pledge."""
    filled = read_form(form, values)
    if filled.errors:
        return filled
    body = {k: v for k, v in filled.body.items() if k != "action" and k not in TERMS}
    terms = {k: v for k, v in filled.body.items() if k in TERMS}
    if terms:
        body["terms"] = terms
    return await apis.call(
        person, "pledges", "POST", "/pledges", json=body, headers={"Idempotency-Key": idempotency_key}
    )


# ---------------------------------------------------------------- follow-up


@dataclass(frozen=True)
class Delivery:
    """Pledged versus fulfilled, for one State or one kind."""

    key: str
    pledged: int
    fulfilled: int


# Not counted as pledged: the secretariat refused them, or the State took them back.
NOT_PLEDGED = ("rejected", "withdrawn")


async def follow_up(
    apis: Apis, person: Person, filters: Mapping[str, str], cursor: str | None
) -> dict[str, Any]:
    """The traffic lights' counts, the pledges whose reports are due or overdue (or of one light), pledged
    versus fulfilled by State and by kind, and money pledged versus received, all at once."""
    chosen = _clean(filters, FOLLOW_UP_FILTERS)
    narrowing = {k: v for k, v in chosen.items() if k != "traffic_light"}
    listed: dict[str, Any] = {**chosen, "limit": QUEUE_PAGE, "cursor": cursor, "sort": "submitted_at"}
    if "traffic_light" not in chosen:
        listed["overdue"] = "true"

    async def summary(by: str, **extra: str) -> dict[str | None, int]:
        params = {**narrowing, "by": by, **extra}
        answer = await apis.call(person, "pledges", "GET", "/pledges/summary", params=params)
        return {group["key"]: int(group["count"]) for group in answer.body["groups"]}

    async def deliveries(by: str) -> list[Delivery]:
        every, fulfilled, *ended = await asyncio.gather(
            summary(by),
            summary(by, status="fulfilled"),
            *(summary(by, status=status) for status in NOT_PLEDGED),
        )
        rows = [
            Delivery(str(key), count - sum(e.get(key, 0) for e in ended), fulfilled.get(key, 0))
            for key, count in every.items()
        ]
        return sorted((r for r in rows if r.pledged), key=lambda r: (-r.pledged, r.key))

    lights, page, by_state, by_kind, money = await asyncio.gather(
        summary("traffic_light"),
        apis.call(person, "pledges", "GET", "/pledges", params=listed),
        deliveries("member_state"),
        deliveries("kind"),
        apis.call(person, "pledges", "GET", "/pledges/financial", params=narrowing),
    )
    return {
        "filters": chosen,
        "lights": {light.value: lights.get(light.value, 0) for light in TrafficLight},
        "pledges": page.body["items"],
        "next_cursor": page.body.get("next_cursor"),
        "by_state": by_state,
        "by_kind": by_kind,
        "money": money.body,
    }


async def export_csv(apis: Apis, person: Person, filters: Mapping[str, str]) -> httpx.Response:
    """The pledges API's CSV export of the pledges the person may see (the browser has no bearer token)."""
    chosen = _clean(filters, ("status", "member_state", "kind", "traffic_light"))
    query = urllib.parse.urlencode(chosen)
    return await apis.fetch_file(person, "pledges", "/pledges/export.csv" + (f"?{query}" if query else ""))


# ---------------------------------------------------------------- bulk import

KEPT_SECONDS = 3600
KEPT_AT_MOST = 200


@dataclass
class Preview:
    """An uploaded file and the pledges API's dry-run report of it, kept until it is imported (or an hour
    has passed): the confirmation names it, never the file again."""

    id: str
    subject: str
    file: CsvFile
    report: dict[str, Any]
    rejections: list[RowRejection]
    created: float = field(default_factory=time.monotonic)


@dataclass
class ImportRun:
    """An import running chunk by chunk, as the progress page shows it."""

    id: str
    subject: str
    file: CsvFile
    chunks: int
    done: int = 0
    accepted: int = 0
    rejections: list[RowRejection] = field(default_factory=list)
    pledge_ids: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    problem: str | None = None
    finished: bool = False
    created: float = field(default_factory=time.monotonic)


class Imports:
    """Previews and runs of this console process. A run sends each chunk under a key derived from its
    preview's id, so a run started again (a second click, a restarted console) imports nothing twice: the
    pledges API answers a chunk already imported with its first report."""

    def __init__(self) -> None:
        self.previews: dict[str, Preview] = {}
        self.runs: dict[str, ImportRun] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def _prune(self) -> None:
        now = time.monotonic()
        for kept in (self.previews, self.runs):
            for key in [k for k, v in kept.items() if now - v.created > KEPT_SECONDS]:
                kept.pop(key)
            while len(kept) > KEPT_AT_MOST:
                kept.pop(next(iter(kept)))

    def preview(self, person: Person, preview_id: str) -> Preview:
        found = self.previews.get(preview_id)
        if found is None or found.subject != person.subject:
            raise Refused(404, {"detail": ""})
        return found

    def run(self, person: Person, run_id: str) -> ImportRun:
        found = self.runs.get(run_id)
        if found is None or found.subject != person.subject:
            raise Refused(404, {"detail": ""})
        return found

    async def dry_run(self, apis: Apis, person: Person, file: CsvFile) -> Preview:
        """The pledges API's report of the whole file, stored nothing; kept as a preview."""
        whole = piece(file.header, file.records)
        answer = await _send(apis, person, whole, dry_run=True, key=None)
        self._prune()
        preview = Preview(
            secrets.token_urlsafe(16), person.subject, file, answer.body, _rejections(whole, answer.body)
        )
        self.previews[preview.id] = preview
        return preview

    def start(self, apis: Apis, person: Person, preview: Preview) -> ImportRun:
        """The import of a previewed file, started once (a second confirmation finds the same run)."""
        run = self.runs.get(preview.id)
        if run is None:
            chunks = pieces(preview.file)
            run = self.runs[preview.id] = ImportRun(preview.id, person.subject, preview.file, len(chunks))
            task = asyncio.create_task(_import(apis, person, run, chunks))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return run


async def _send(apis: Apis, person: Person, part: Piece, *, dry_run: bool, key: str | None) -> Answer:
    params = {"mode": "accept_valid", **({"dry_run": "true"} if dry_run else {})}
    return await apis.send_file(
        person,
        "pledges",
        "/pledges/import",
        part.text.encode(),
        "text/csv",
        params=params,
        headers={"Idempotency-Key": key} if key else {},
    )


def _rejections(part: Piece, report: Mapping[str, Any]) -> list[RowRejection]:
    return [
        RowRejection(part.file_line(int(r["line"])), str(r["field"]), str(r["reason"]))
        for r in report.get("rejected", ())
    ]


async def _import(apis: Apis, person: Person, run: ImportRun, chunks: list[Piece]) -> None:
    """Each chunk in turn under its own key (the run's id and the chunk's number): progress after each."""
    try:
        for number, chunk in enumerate(chunks, start=1):
            answer = await _send(apis, person, chunk, dry_run=False, key=f"console-import-{run.id}-{number}")
            report = answer.body
            run.accepted += int(report.get("accepted", 0))
            run.rejections += _rejections(chunk, report)
            run.pledge_ids += list(report.get("pledge_ids", ()))
            run.duplicates += [str(flag["pledge_id"]) for flag in report.get("possible_duplicates", ())]
            run.done = number
    except Refused as refused:
        run.problem = refused.detail or f"{refused.status}"
    except Exception as exc:  # the page says the run stopped, rather than spin for ever
        run.problem = type(exc).__name__
    finally:
        run.finished = True


def rejected_csv(file: CsvFile, rejections: list[RowRejection]) -> str:
    return rejected_rows(file, sorted(rejections, key=lambda r: r.line))
