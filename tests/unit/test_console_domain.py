"""The console's own rules, without I/O: a step said in words, a step's form laid out from the cases API's
schema, and the form's text read back into the step's body."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from services.common.settings import Settings
from services.console.domain.forms import FormField, read_form, step_form, step_forms
from services.console.domain.person import language_of
from services.console.domain.words import in_words
from uncops.cli import load_service

SCHEMAS: dict[str, Any] = {}


def cases_document() -> dict[str, Any]:
    from services.common.app import create_app

    if not SCHEMAS:
        document = TestClient(create_app(load_service("cases"), Settings(environment="test"))).get(
            "/openapi.json"
        )
        SCHEMAS.update(document.json())
    return SCHEMAS


def steps_of_cases() -> dict[str, Any]:
    document = cases_document()
    body = document["paths"]["/cases/{case_id}/actions"]["post"]["requestBody"]["content"]["application/json"]
    return step_forms(body["schema"], document["components"]["schemas"])


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("start_assessment", "Start assessment"),
        ("refer_for_investigation", "Refer for investigation"),
        ("name_nio", "Name NIO"),
        ("record_un_action", "Record UN action"),
        ("oios", "OIOS"),
        ("close", "Close"),
    ],
)
def test_a_step_is_said_in_words(name: str, words: str) -> None:
    assert in_words(name) == words


def test_every_step_of_the_cases_api_has_a_form() -> None:
    forms = steps_of_cases()
    assert {"start_assessment", "refer_for_investigation", "record_finding", "close"} <= set(forms)
    assert not forms["start_assessment"].needs_input
    finding = {f.name: f for f in forms["record_finding"].fields}
    assert finding["finding"].kind == "select" and finding["finding"].required
    assert "substantiated" in finding["finding"].choices
    assert finding["summary"].kind == "textarea" and not finding["summary"].required
    referral = {f.name: f for f in forms["refer_for_investigation"].fields}
    assert referral["urgent"].kind == "checkbox"
    assert referral["entity"].kind == "select" and not referral["entity"].required


def test_a_filled_form_is_the_steps_body_with_its_json_types() -> None:
    schema = {
        "properties": {
            "action": {"const": "record_thing"},
            "on": {"type": "string", "format": "date"},
            "days": {"type": "integer", "minimum": 1},
            "at": {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]},
            "urgent": {"type": "boolean"},
            "kind": {"$ref": "#/components/schemas/Kind"},
            "note": {"type": "string", "maxLength": 200},
        },
        "required": ["on", "kind"],
    }
    form = step_form("record_thing", schema, {"Kind": {"enum": ["a", "b"], "type": "string"}})
    kinds = {f.name: f.kind for f in form.fields}
    assert kinds == {
        "on": "date",
        "days": "integer",
        "at": "datetime",
        "urgent": "checkbox",
        "kind": "select",
        "note": "text",
    }
    filled = read_form(
        form, {"on": "2026-12-06", "days": "30", "at": "2026-12-06T10:30", "kind": "b", "note": ""}
    )
    assert filled.errors == {}
    assert filled.body == {
        "action": "record_thing",
        "on": "2026-12-06",
        "days": 30,
        "at": "2026-12-06T10:30:00+00:00",
        "urgent": False,
        "kind": "b",
    }


def test_what_cannot_be_read_is_an_error_beside_its_field() -> None:
    form = step_form(
        "x",
        {
            "properties": {
                "on": {"type": "string", "format": "date"},
                "days": {"type": "integer"},
                "kind": {"enum": ["a"]},
            },
            "required": ["on"],
        },
        {},
    )
    filled = read_form(form, {"on": "", "days": "ten", "kind": "z"})
    assert filled.errors == {
        "on": "Enter a value",
        "days": "Enter a whole number",
        "kind": "Choose one of the options",
    }


def test_a_nullable_field_is_optional() -> None:
    field: FormField = step_form(
        "x", {"properties": {"n": {"anyOf": [{"type": "string"}, {"type": "null"}]}}, "required": ["n"]}, {}
    ).fields[0]
    assert not field.required


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("fr-FR,fr;q=0.9,en;q=0.8", "fr"),
        ("en-GB,en", "en"),
        ("de-DE,fr;q=0.5", "fr"),
        (None, "en"),
        ("es", "en"),
    ],
)
def test_the_browsers_language_chooses_the_first_page(header: str | None, language: str) -> None:
    assert language_of(header) == language


def test_every_message_the_console_can_show_has_its_french() -> None:
    from uncops.messages import french, needed, untranslated

    assert untranslated(french(), needed(cases_document())) == []


def test_a_bar_chart_scales_to_its_largest_value() -> None:
    from services.console.domain.charts import BAR_HEIGHT, GAP, PLOT_WIDTH, bar_chart

    chart = bar_chart([("MINUSCA", 5), ("UNMISS", 10), ("MONUSCO", 0)])
    assert [(b.label, b.value, b.width) for b in chart.bars] == [
        ("UNMISS", 10, PLOT_WIDTH),
        ("MINUSCA", 5, PLOT_WIDTH // 2),
        ("MONUSCO", 0, 0),
    ]
    assert [b.y for b in chart.bars] == [0, BAR_HEIGHT + GAP, 2 * (BAR_HEIGHT + GAP)]
    assert chart.height == 3 * BAR_HEIGHT + 2 * GAP
    assert bar_chart([]).bars == () and bar_chart([("a", 0)]).bars[0].width == 0


async def test_api_time_counts_calls_made_at_once_once() -> None:
    import asyncio

    from services.console.gateway import ApiTime

    spent = ApiTime()

    async def call(seconds: float) -> None:
        spent.begin()
        await asyncio.sleep(seconds)
        spent.end()

    await asyncio.gather(call(0.05), call(0.05), call(0.05))
    assert spent.calls == 3 and 0.04 < spent.seconds < 0.12
