"""The console's message catalogues: every English message the console can show — the templates' texts and
the words of the cases API's steps, fields and values (from its OpenAPI document, the contract) — and its
French in services/console/translations/fr/LC_MESSAGES/messages.po.

``python -m uncops.messages`` adds what is missing to the French catalogue (with an empty translation, for a
translator) and drops what is no longer used; ``--check`` fails while a message has no French.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from services.console.domain import forms
from services.console.domain.words import in_words
from services.console.service.cases import STATISTICS_BY
from uncops_contracts.cases import ReviewFlagKind

CONSOLE = Path(__file__).resolve().parents[1] / "services" / "console"
FRENCH = CONSOLE / "translations" / "fr" / "LC_MESSAGES" / "messages.po"
# What the console's Python says to people (forms.read_form's reasons), shown through the catalogue.
PYTHON_MESSAGES = (
    "Choose a file",
    "The file is too large",
    "Enter a value",
    "Enter a whole number",
    "Enter a number",
    "Enter a date as YYYY-MM-DD",
    "Enter a date and time",
    "Choose one of the options",
    # Part A: the printable programme's footer (services/console/api/programme.py)
    "Page %(page)s of %(pages)s",
)
ROLES = ("conduct_officer", "state_focal_point", "planner", "admin", "partner")
# What a case's audit trail records besides its steps (services/cases: store, service, domain.lifecycle).
AUDIT_ACTIONS = ("open", "victim_identity_revealed", "deadline_approaching", "deadline_missed")


def template_messages() -> Iterator[str]:
    method_map = [("**.html", "jinja2.ext:babel_extract")]
    options = {"**.html": {"extensions": "jinja2.ext.i18n", "trim_blocks": "true", "lstrip_blocks": "true"}}
    for _, _, message, _, _ in extract_from_dir(CONSOLE / "templates", method_map, options):
        if isinstance(message, str):
            yield message


def cases_document() -> dict[str, Any]:
    from services.common.app import create_app
    from services.common.settings import Settings
    from uncops.cli import load_service

    app = create_app(load_service("cases"), Settings(environment="test"))
    document: dict[str, Any] = app.openapi()
    return document


def contract_words(document: dict[str, Any]) -> Iterator[str]:
    """The words of the cases API a page shows: each step, its fields and their hints, every enumerated
    value (statuses, categories, outcomes...), the fields of a case."""
    schemas = document["components"]["schemas"]
    body = document["paths"]["/cases/{case_id}/actions"]["post"]["requestBody"]["content"]["application/json"]
    every = forms.step_forms(body["schema"], schemas)
    every["open_case"] = forms.step_form("open_case", schemas["CaseIntake"], schemas)
    every["add_victim"] = forms.step_form("add_victim", schemas["NewVictim"], schemas)
    every["identity"] = forms.step_form("identity", schemas["VictimIdentity"], schemas)
    for action, form in every.items():
        yield in_words(action)
        for field in form.fields:
            yield in_words(field.name)
            if field.hint:
                yield field.hint
            yield from (in_words(choice) for choice in field.choices)
    for schema in schemas.values():
        for value in schema.get("enum", ()):
            yield in_words(str(value))


def api_document(service: str) -> dict[str, Any]:
    """A service's OpenAPI document, made from its app without starting it."""
    from services.common.app import create_app
    from services.common.settings import Settings
    from uncops.cli import load_service

    app = create_app(load_service(service), Settings(environment="test"))
    document: dict[str, Any] = app.openapi()
    return document


def agenda_words(document: dict[str, Any]) -> Iterator[str]:
    """Part A: the words of the summit API the agenda and programme pages show: the session form's fields,
    hints and choices, a release's kinds of change and the fields it names."""
    schemas = document["components"]["schemas"]
    form = forms.step_form("session", schemas["SessionInput"], schemas)
    for field in form.fields:
        yield in_words(field.name)
        if field.hint:
            yield field.hint
        yield from (in_words(choice) for choice in field.choices)
    yield from (in_words(name) for name in schemas["ProgrammeSession"]["properties"])
    change = schemas["ProgrammeChange"]["properties"]["change"]
    yield from (in_words(str(value)) for value in change.get("enum", ()))


# The summit pages' forms (services/console/service/summits.py), by the summits API's schema names.
SUMMIT_FORMS = (
    "SummitCreate",
    "SummitReschedule",
    "MilestoneCreate",
    "MilestoneReschedule",
    "InvitationRequest",
    "CapacityChange",
    "Head",
    "Person",
    "BudgetLineCreate",
    "ExpenditureCreate",
    "ReceiptCreate",
)
# What the summit pages say from Python: their reasons, their "Done:" words, the funding chart's bars.
SUMMIT_MESSAGES = (
    "Choose at least one Member State",
    "Choose the credentials letter (PDF, JPEG or PNG)",
    "One language code a line (ISO 639-1: en, fr, zh…)",
    "Budget",
    "Pledged",
    "Received",
    "Spent",
    "Gap",
)
SUMMIT_DONE = (
    "plan_summit",
    "reschedule",
    "add_milestone",
    "complete",
    "reschedule_milestone",
    "invite",
    "set_capacity",
    "register",
    "add_budget_line",
    "record_expenditure",
    "record_receipt",
)


def summit_words(document: dict[str, Any]) -> Iterator[str]:
    """The words of the summits API the summit pages show: their forms' fields, hints and choices, the
    delegations' statuses and steps."""
    from services.console.service.summits import DELEGATION_STATUSES, DELEGATION_STEPS

    schemas = document["components"]["schemas"]
    for name in SUMMIT_FORMS:
        for field in forms.step_form(name, schemas[name], schemas).fields:
            yield in_words(field.name)
            if field.hint:
                yield field.hint
            yield from (in_words(choice) for choice in field.choices)
    yield from SUMMIT_MESSAGES
    yield from (in_words(word) for word in (*SUMMIT_DONE, *DELEGATION_STATUSES, *DELEGATION_STEPS))


# ---------------------------------------------------------------- the pledge pages


def pledge_words(document: dict[str, Any] | None = None) -> Iterator[str]:
    """The words of the pledge pages: the pledges API's steps, fields and values (its contract), the SMART
    groups and hints, and what the import says about a file it cannot read."""
    from services.console.domain import pledge_import
    from services.console.service import pledges

    document = document or api_document("pledges")
    schemas = document["components"]["schemas"]
    body = document["paths"]["/pledges/{pledge_id}/actions"]["post"]["requestBody"]["content"]
    every = forms.step_forms(body["application/json"]["schema"], schemas)
    every["submit_pledge"] = forms.step_form("submit_pledge", schemas["PledgeSubmission"], schemas)
    every["terms"] = forms.step_form("terms", schemas["PledgeTermsIn"], schemas)
    for action, form in every.items():
        yield in_words(action)
        for field in form.fields:
            yield in_words(field.name)
            if field.hint:
                yield field.hint
            yield from (in_words(choice) for choice in field.choices)
    for name in ("PledgeKind", "PledgeStatus", "TrafficLight", "ProgressStage"):
        yield from (in_words(str(value)) for value in schemas[name]["enum"])
    for title, explanation, _ in pledges.SMART_GROUPS:
        yield title
        yield explanation
    yield from pledges.SMART_HINTS.values()
    yield from pledges.STEP_HINTS.values()
    yield from (in_words(role) for role in ("system",))
    yield from pledge_import.UNREADABLE
    yield from ("Choose a file", "The file is too large")


def needed(document: dict[str, Any] | None = None) -> list[str]:
    words: Iterable[str] = (
        *template_messages(),
        *PYTHON_MESSAGES,
        *(in_words(role) for role in ROLES),
        *(in_words(action) for action in AUDIT_ACTIONS),
        *(in_words(by) for by in STATISTICS_BY),
        *(in_words(kind.value) for kind in ReviewFlagKind),
        *contract_words(document or cases_document()),
        *agenda_words(summit := api_document("summit")),
        *summit_words(summit),
        *pledge_words(),
        *notification_words(),
    )
    return sorted(set(words))


def notification_words() -> Iterator[str]:
    """Notifications to people (issue 18): the notices' sentences and their words, the kinds' names, what
    the emails say (their templates are text, which the extraction of the pages' HTML does not read)."""
    from services.console.domain import notifications

    yield from notifications.MESSAGES


def french() -> Catalog:
    with FRENCH.open("rb") as source:
        return read_po(source, locale="fr")


def untranslated(catalog: Catalog, messages: Iterable[str]) -> list[str]:
    return [m for m in messages if not (m in catalog and catalog[m] is not None and catalog[m].string)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m uncops.messages", description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail while a message has no French")
    args = parser.parse_args(argv)
    messages = needed()
    catalog = french() if FRENCH.exists() else Catalog(locale="fr", project="UNCOPS console")
    missing = untranslated(catalog, messages)
    if args.check:
        for message in missing:
            print(f"no French for: {message!r}", file=sys.stderr)
        return 1 if missing else 0
    kept = Catalog(locale="fr", project="UNCOPS console", fuzzy=False)
    for message in messages:
        found = catalog.get(message)
        kept.add(message, found.string if found is not None else "")
    FRENCH.parent.mkdir(parents=True, exist_ok=True)
    with FRENCH.open("wb") as target:
        write_po(target, kept, width=110, omit_header=False, sort_output=True)
    print(f"{FRENCH}: {len(messages)} messages, {len(missing)} without French")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
