"""The pledge pages' own rules, without I/O: an uploaded CSV cut into chunks with each API line mapped back
to the file's, the rejected rows written out to fix and upload again, the pledged-versus-fulfilled chart,
and the pledge forms laid out from the pledges API's real contract."""

from __future__ import annotations

import asyncio
import csv
import io
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from services.common.settings import Settings
from services.console.domain.charts import paired_bar_chart
from services.console.domain.forms import read_form
from services.console.domain.person import Person
from services.console.domain.pledge_import import (
    WHY_COLUMN,
    RowRejection,
    UnreadableFile,
    piece,
    pieces,
    read_csv,
    rejected_rows,
)
from services.console.service import pledges as service
from services.pledges.domain.importing import parse_csv
from uncops.cli import load_service

FILE = (
    "member_state,kind,title,text\r\n"
    'GHA,gender_parity,Women in FPUs,"Two FPUs,\nby 2027"\r\n'
    "\r\n"
    "XXA,gender_parity,Unknown State,\r\n"
    'SEN,other,=HYPERLINK("http://x"),Côte d\'Ivoire\r\n'
)


def test_a_file_is_read_with_the_line_each_row_starts_on() -> None:
    file = read_csv(("\ufeff" + FILE).encode())  # a spreadsheet's BOM is no part of the first column
    assert file.header == ("member_state", "kind", "title", "text")
    assert [line for line, _ in file.records] == [2, 5, 6]  # the row of line 2 spans two; line 4 is blank
    assert file.records[0][1][3] == "Two FPUs,\nby 2027"


def test_the_rejected_rows_column_is_dropped_when_the_file_comes_back() -> None:
    again = read_csv(f"member_state,kind,title,{WHY_COLUMN}\nGHA,other,Fixed,kind: bad\n".encode())
    assert again.header == ("member_state", "kind", "title")
    assert again.records == ((2, ("GHA", "other", "Fixed")),)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "The file is empty: its first line must be the header row"),
        (b"\xff\xfe m\x00", "The file is not UTF-8 text: save it from the spreadsheet as CSV UTF-8"),
    ],
)
def test_an_unreadable_file_says_why(content: bytes, reason: str) -> None:
    with pytest.raises(UnreadableFile, match=reason):
        read_csv(content)


def test_the_api_reads_each_chunk_on_the_lines_the_console_maps_back() -> None:
    file = read_csv(FILE.encode())
    chunks = pieces(file, size=2)
    assert len(chunks) == 2
    # The pledges API's own parser finds the rows on the lines the console expects, in every chunk.
    for chunk in chunks:
        api_lines = [row.line for row in parse_csv(chunk.text)]
        assert list(chunk.file_lines) == api_lines
    assert [chunks[0].file_line(line) for line in chunks[0].file_lines] == [2, 5]
    assert chunks[1].file_line(2) == 6


def test_the_rejected_rows_are_the_files_rows_with_why() -> None:
    file = read_csv(FILE.encode())
    text = rejected_rows(
        file,
        [
            RowRejection(5, "member_state", "XXA is not a UN Member State"),
            RowRejection(6, "title", "too short"),
            RowRejection(6, "kind", "bad"),
        ],
    )
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    assert rows == [
        ["member_state", "kind", "title", "text", WHY_COLUMN],
        ["XXA", "gender_parity", "Unknown State", "", "member_state: XXA is not a UN Member State"],
        ["SEN", "other", '\'=HYPERLINK("http://x")', "Côte d'Ivoire", "title: too short; kind: bad"],
    ]
    # Sent back as it is, once fixed: the console drops its column again.
    assert read_csv(text.encode()).header == file.header


def test_a_whole_file_as_one_piece_keeps_its_lines() -> None:
    file = read_csv(FILE.encode())
    whole = piece(file.header, file.records)
    assert whole.file_lines == {2: 2, 4: 5, 5: 6}


def test_pledged_and_fulfilled_share_one_scale() -> None:
    chart = paired_bar_chart([("GHA", 4, 1), ("SEN", 2, 0), ("CHN", 0, 0)])
    assert [(b.label, b.first_width, b.second_width) for b in chart.bars] == [
        ("GHA", 420, 105),
        ("SEN", 210, 0),
        ("CHN", 0, 0),
    ]
    assert chart.height == 3 * 30 - 8 and chart.width == 660
    assert paired_bar_chart([]).height == 0
    assert paired_bar_chart([("Gender parity", 1, 1)], label_width=300).width == 780


# ---------------------------------------------------------------- forms from the pledges API's contract


class Contract:
    """Stands in for gateway.Apis where only the pledges API's contract is read (its real document)."""

    def __init__(self) -> None:
        from services.common.app import create_app

        app = create_app(load_service("pledges"), Settings(environment="test"))
        self.pledges: dict[str, Any] = TestClient(app).get("/openapi.json").json()

    async def document(self, service_name: str) -> dict[str, Any]:
        assert service_name == "pledges"
        return self.pledges


@pytest.fixture(scope="module")
def contract() -> Contract:
    return Contract()


FOCAL_POINT = Person(role="state_focal_point", member_state="GHA", subject="fp", token="t", expires_at=0)


def test_every_step_of_the_pledges_api_has_a_form(contract: Contract) -> None:
    forms = asyncio.run(service.pledge_steps(contract))  # type: ignore[arg-type]
    assert {"acknowledge", "start_review", "request_clarification", "accept", "reject"} <= set(forms)
    assert {"resubmit", "report_progress", "withdraw", "confirm_fulfilment"} <= set(forms)
    assert not forms["acknowledge"].needs_input
    asked = {f.name: f for f in forms["request_clarification"].fields}
    assert asked["questions"].kind == "textarea" and asked["questions"].required
    report = {f.name: f for f in forms["report_progress"].fields}
    assert "evidence" not in report  # a list of documents: not a form's field
    assert report["stage"].kind == "select" and report["period"].hint.startswith("The period")
    filled = read_form(forms["report_progress"], {"period": "2026-H1", "stage": "in_progress", "value": "18"})
    assert filled.body == {
        "action": "report_progress",
        "period": "2026-H1",
        "stage": "in_progress",
        "value": "18",
    }


def test_the_pledge_form_lays_out_the_smart_terms(contract: Contract) -> None:
    form, groups = asyncio.run(service.submission_form(contract, FOCAL_POINT))  # type: ignore[arg-type]
    assert [g.title for g in groups] == ["Specific", "Measurable", "Achievable", "Relevant", "Time-bound"]
    laid_out = [f.name for g in groups for f in g.form.fields]
    assert sorted(laid_out) == sorted(f.name for f in form.fields)  # every field once, none left out
    fields = {f.name: f for f in form.fields}
    assert fields["member_state"].kind == "select" and fields["member_state"].default == "GHA"
    assert fields["target_date"].kind == "date" and fields["kind"].kind == "select"
    assert all(f.hint for f in form.fields)


def test_no_hint_breaks_the_catalogues_formatting() -> None:
    # The templates show a hint through gettext, which formats "%": a bare "%" would fail the page.
    hints = [*service.SMART_HINTS.values(), *service.STEP_HINTS.values()]
    hints += [words for _, words, _ in service.SMART_GROUPS]
    assert [hint for hint in hints if "%" in hint] == []


# ---------------------------------------------------------------- the import's progress page


def test_the_progress_page_polls_while_the_import_runs_and_stops_when_done() -> None:
    from services.console.app import create
    from services.console.domain.pledge_import import read_csv
    from services.console.service.pledges import ImportRun, Imports

    with TestClient(
        create(Settings(environment="test", background=False)), follow_redirects=False
    ) as console:
        token = console.get("/sign-in").text.split('name="csrf_token" value="')[1].split('"')[0]
        console.post("/sign-in", data={"csrf_token": token, "role": "planner"})
        imports = console.app.state.pledge_imports = Imports()  # type: ignore[attr-defined]
        assert console.get("/pledges/import/runs/none").status_code == 404  # the console's page
        file = read_csv(FILE.encode())
        run = ImportRun("r1", subject="", file=file, chunks=3, done=1, accepted=50)
        imports.runs["r1"] = run
        assert console.get("/pledges/import/runs/r1").status_code == 404  # another person's run

        run.subject = _subject(console)
        running = console.get("/pledges/import/runs/r1").text
        assert '<progress id="import-progress" max="3" value="1">' in running
        assert 'hx-trigger="every 1s"' in running  # htmx polls it
        assert '<noscript><meta http-equiv="refresh" content="2"></noscript>' in running  # without script too

        run.done, run.finished, run.rejections = 3, True, [RowRejection(5, "member_state", "XXA is not")]
        done = console.get("/pledges/import/runs/r1").text
        assert 'value="3"' in done and "hx-trigger" not in done and "refresh" not in done
        assert "/pledges/import/runs/r1/rejected.csv" in done
        rejected = console.get("/pledges/import/runs/r1/rejected.csv")
        assert rejected.headers["content-type"] == "text/csv; charset=utf-8"
        assert rejected.content.startswith(b"\xef\xbb\xbf") and b"XXA is not" in rejected.content


def _subject(console: TestClient) -> str:
    """The signed-in person's subject, as every page's banner shows it (signed in without a name)."""
    found = re.search(r'<p class="who">([^ <]+) ·', console.get("/pledges/import").text)
    assert found
    return found.group(1)


def test_a_reason_that_echoes_a_percent_sign_is_shown_as_it_is() -> None:
    from services.console.domain.forms import FormField, StepForm
    from services.console.pages import environment

    form = StepForm("x", (FormField("unit", "Unit", "text", False, hint="Share in %"),))
    html = (
        environment("fr")
        .get_template("fields.html")
        .render(form=form, values={}, errors={"unit": "unknown column '25%'"})
    )
    assert "Share in %" in html and "unknown column &#39;25%&#39;" in html
    french = (
        environment("fr")
        .get_template("fields.html")
        .render(form=form, values={}, errors={"unit": "Enter a value"})
    )
    assert "Saisissez une valeur" in french  # a reason the catalogue has is said in French
