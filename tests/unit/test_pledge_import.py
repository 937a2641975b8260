"""Bulk import of pledges (services/pledges/domain/importing.py, api/imports.py): CSV and JSON parsing, line
numbers, row validation, size limits, duplicate flags and the rows stored; the CLI's chunking
(uncops/import_pledges.py)."""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import HTTPException

from services.common.database import OutboxEvent
from services.common.errors import InvalidField
from services.common.outbox import outbox_row, record_event
from services.pledges.api import imports
from services.pledges.api.imports import TooLarge, body_format, check_declared_size, read_limited
from services.pledges.domain import duplicates, importing
from services.pledges.domain.duplicates import (
    flag_duplicates,
    min_shared_bigrams,
    similar_titles,
    title_similarity,
)
from services.pledges.domain.importing import (
    CSV_COLUMNS,
    ImportMode,
    ImportRow,
    csv_records,
    fingerprint,
    parse_body,
    parse_csv,
    parse_json,
    validate_rows,
)
from services.pledges.domain.submission import PledgeSubmission, submitted_event
from services.pledges.models import PledgeRow
from services.pledges.store import pledge_rows
from uncops import cli, import_pledges
from uncops_contracts.pledges import PledgeSubmitted
from uncops_contracts.policies import PledgePolicy

NEXT_YEAR = str(datetime.now(UTC).date() + timedelta(days=365))
YESTERDAY = str(datetime.now(UTC).date() - timedelta(days=1))


def rejections(rows: list[ImportRow], **kwargs: Any) -> list[tuple[int, str]]:
    return [(r.line, r.field) for r in validate_rows(rows, **kwargs)[1]]


# ---------------------------------------------------------------- CSV


def test_csv_lines_count_the_header_as_line_1_and_follow_physical_lines() -> None:
    text = (
        "member_state,kind,title,text\n"  # 1
        'GHA,gender_parity,Women in FPUs,"two\nlines"\n'  # 2-3
        "\n"  # 4: blank, not a row
        ",,,\n"  # 5: empty cells only, not a row
        "KEN,other,Police advisers,\n"  # 6
    )
    rows = parse_csv(text)

    assert [r.line for r in rows] == [2, 6]
    assert rows[0].data == {
        "member_state": "GHA",
        "kind": "gender_parity",
        "title": "Women in FPUs",
        "text": "two\nlines",
    }


def test_csv_cells_become_a_submission_object() -> None:
    text = (
        "member_state,co_sponsors,summit,kind,title,indicator,target,unit,target_date,amount,currency\n"
        f"gha, RWA ; UGA ;,UNCOPS-2026,gender_parity,  Women in FPUs ,share,20,%,{NEXT_YEAR},,\n"
    )
    (row,) = parse_csv(text)

    assert row.data == {
        "member_state": "gha",
        "co_sponsors": ["RWA", "UGA"],
        "summit": "UNCOPS-2026",
        "kind": "gender_parity",
        "title": "Women in FPUs",
        "terms": {"indicator": "share", "target": "20", "unit": "%", "target_date": NEXT_YEAR},
    }
    valid, rejected = validate_rows([row])
    assert rejected == []
    ((line, submission),) = valid
    assert line == 2 and submission.member_state == "GHA" and submission.co_sponsors == ["RWA", "UGA"]
    assert submission.terms.target_date == date.fromisoformat(NEXT_YEAR)


def test_every_documented_column_is_accepted_and_header_case_is_ignored() -> None:
    header = ",".join(c.upper() for c in CSV_COLUMNS)
    rows = parse_csv(header + "\n" + ",".join("" for _ in CSV_COLUMNS) + "x\n")

    assert len(rows) == 1


def test_an_unknown_column_is_an_error_naming_it() -> None:
    with pytest.raises(InvalidField) as error:
        parse_csv("member_state,kind,title,colour,size\nGHA,other,Title,red,L\n")

    assert error.value.field == "columns"
    assert "'colour'" in error.value.reason and "'size'" in error.value.reason


def test_missing_required_and_repeated_columns_are_errors() -> None:
    with pytest.raises(InvalidField, match="missing column title"):
        parse_csv("member_state,kind\nGHA,other\n")
    with pytest.raises(InvalidField, match="column kind twice"):
        parse_csv("member_state,kind,title,kind\nGHA,other,Title,other\n")
    with pytest.raises(InvalidField, match="empty"):
        parse_csv("\n\n")


def test_a_row_with_the_wrong_number_of_cells_is_rejected_alone() -> None:
    rows = parse_csv("member_state,kind,title\nGHA,other\nGHA,other,A fine title\n")

    valid, rejected = validate_rows(rows)
    assert [(r.line, r.field) for r in rejected] == [(2, "row")]
    assert "2 values for the 3 columns" in rejected[0].reason
    assert [line for line, _ in valid] == [3]


def test_the_csv_body_is_utf8_with_or_without_bom() -> None:
    body = "\ufeffmember_state,kind,title\nCIV,other,Gendarmerie française\n".encode()
    (row,) = parse_body(body, "csv")
    assert row.data["title"] == "Gendarmerie française"
    with pytest.raises(InvalidField, match="UTF-8"):
        parse_body("member_state,kind,title\nCIV,other,française\n".encode("latin-1"), "csv")


def test_bad_csv_rows_are_reported_with_line_and_column() -> None:
    text = (
        "member_state,kind,title,target_date,amount,currency\n"
        f"GHA,gender_parity,Women in FPUs,{NEXT_YEAR},,\n"  # 2 good
        f"XXA,gender_parity,Unknown State,{NEXT_YEAR},,\n"  # 3
        f"GHA,gender_parity,Already late,{YESTERDAY},,\n"  # 4
        f"CHN,financial_support,Money for the summit,{NEXT_YEAR},,\n"  # 5
        f"GHA,flying_cars,Bad kind,{NEXT_YEAR},,\n"  # 6
        f"GHA,other,Bad amount,{NEXT_YEAR},-5,USD\n"  # 7
        "GHA,other,Bad date,31/12/2030,,\n"  # 8
    )
    valid, rejected = validate_rows(parse_csv(text))

    assert [line for line, _ in valid] == [2]
    assert [(r.line, r.field) for r in rejected] == [
        (3, "member_state"),
        (4, "target_date"),
        (5, "amount"),
        (6, "kind"),
        (7, "amount"),
        (8, "target_date"),
    ]
    assert "XXA is not a UN Member State" in rejected[0].reason
    assert "before the pledge date" in rejected[1].reason
    assert "amount and a currency" in rejected[2].reason


def test_several_schema_errors_of_one_row_are_each_reported() -> None:
    rows = parse_csv("member_state,kind,title\nGHANA,weird,ab\n")

    assert sorted(rejections(rows)) == [(2, "kind"), (2, "member_state"), (2, "title")]


def test_a_focal_point_imports_its_own_states_rows_only() -> None:
    rows = parse_csv("member_state,kind,title\nGHA,other,Our pledge\nKEN,other,Their pledge\n")

    valid, rejected = validate_rows(rows, may_act_for=lambda state: state == "GHA", acting_for="GHA")

    assert [line for line, _ in valid] == [2]
    assert [(r.line, r.field, r.reason) for r in rejected] == [
        (3, "member_state", "you import pledges of GHA only")
    ]


def test_csv_records_give_each_rows_first_line() -> None:
    header, records = csv_records('a,b\n1,"x\n\ny"\n\n3,4\n')

    assert header == ["a", "b"]
    assert [line for line, _ in records] == [2, 6]


# ---------------------------------------------------------------- JSON


def test_json_is_a_list_or_an_object_with_pledges_and_lines_are_indexes_from_1() -> None:
    pledge = {"member_state": "GHA", "kind": "other", "title": "A pledge"}
    for body in ([pledge, pledge], {"pledges": [pledge, pledge]}):
        rows = parse_json(json.dumps(body).encode())
        assert [r.line for r in rows] == [1, 2]


@pytest.mark.parametrize(
    ("body", "reason"),
    [(b"{not json", "not valid JSON"), (b'{"rows": []}', "a JSON list"), (b'"text"', "a JSON list")],
)
def test_a_json_body_of_another_shape_is_refused(body: bytes, reason: str) -> None:
    with pytest.raises(InvalidField, match=reason):
        parse_json(body)


def test_json_rows_are_reported_with_their_path_in_the_object() -> None:
    body = [
        {
            "member_state": "GHA",
            "kind": "other",
            "title": "Fine",
            "terms": {"amount": 0.1, "currency": "USD"},
        },
        {"member_state": "GHA", "kind": "other", "title": "Late", "terms": {"target_date": YESTERDAY}},
        {"member_state": "GHA", "kind": "other", "title": "Extra", "colour": "red"},
        "not an object",
        {"member_state": "GHA", "co_sponsors": ["KEN", "XXB"], "kind": "other", "title": "Bad co-sponsor"},
    ]
    valid, rejected = validate_rows(parse_json(json.dumps(body).encode()))

    assert [line for line, _ in valid] == [1]
    assert str(valid[0][1].terms.amount) == "0.1"  # read as a decimal, not a float
    assert [(r.line, r.field) for r in rejected] == [
        (2, "terms.target_date"),
        (3, "colour"),
        (4, "row"),
        (5, "co_sponsors"),
    ]


# ---------------------------------------------------------------- size and format


async def _stream(*chunks: bytes) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


async def test_the_body_is_read_up_to_the_limit() -> None:
    assert await read_limited(_stream(b"abc", b"def"), limit=6) == b"abcdef"
    with pytest.raises(TooLarge, match="larger than 5 bytes"):
        await read_limited(_stream(b"abc", b"def", b"never read"), limit=5)


def test_a_declared_length_over_the_limit_is_refused_before_reading() -> None:
    check_declared_size(None, 10)
    check_declared_size("10", 10)
    check_declared_size("garbage", 10)
    with pytest.raises(TooLarge):
        check_declared_size("11", 10)


def test_the_byte_limit_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UNCOPS_PLEDGE_IMPORT_MAX_BYTES", "1234")
    assert imports.ImportLimits().max_bytes == 1234
    monkeypatch.delenv("UNCOPS_PLEDGE_IMPORT_MAX_BYTES")
    assert imports.ImportLimits().max_bytes == 32 * 1024 * 1024


def test_too_many_rows_are_refused_naming_the_count() -> None:
    body = ("member_state,kind,title\n" + "GHA,other,A title\n" * 11).encode()

    with pytest.raises(InvalidField, match="11 pledges: an import holds at most 10"):
        importing.read_and_validate(body, "csv", 10, lambda _: True, None)
    rows, (valid, _) = importing.read_and_validate(body, "csv", 11, lambda _: True, None)
    assert len(rows) == len(valid) == 11
    with pytest.raises(InvalidField, match="no pledges"):
        importing.read_and_validate(b"member_state,kind,title\n", "csv", 10, lambda _: True, None)


@pytest.mark.parametrize(
    ("content_type", "fmt"),
    [
        ("text/csv", "csv"),
        ("text/csv; charset=utf-8", "csv"),
        ("application/csv", "csv"),
        ("application/json", "json"),
        ("Application/JSON; charset=utf-8", "json"),
    ],
)
def test_the_format_follows_the_content_type(content_type: str, fmt: str) -> None:
    assert body_format(content_type) == fmt


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/xml"])
def test_other_content_types_are_refused(content_type: str | None) -> None:
    with pytest.raises(HTTPException) as error:
        body_format(content_type)
    assert error.value.status_code == 415


def test_the_fingerprint_covers_mode_format_and_body() -> None:
    prints = {
        fingerprint(ImportMode.ACCEPT_VALID, "csv", b"x"),
        fingerprint(ImportMode.ALL_OR_NOTHING, "csv", b"x"),
        fingerprint(ImportMode.ACCEPT_VALID, "json", b"x"),
        fingerprint(ImportMode.ACCEPT_VALID, "csv", b"y"),
    }
    assert len(prints) == 4


# ---------------------------------------------------------------- duplicates


def submission(title: str, state: str = "GHA", kind: str = "other") -> PledgeSubmission:
    return PledgeSubmission(member_state=state, kind=kind, title=title)


def test_duplicates_within_the_file_and_with_stored_pledges_are_flagged() -> None:
    new = [
        ("n1", submission("Deploy forty women officers to MINUSCA")),
        ("n2", submission("deploy  forty WOMEN officers to MINUSCA.")),  # near-identical to n1 and s1
        ("n3", submission("Deploy forty women officers to MINUSCA", state="KEN")),  # another State
        ("n4", submission("Deploy forty women officers to MINUSCA", kind="gender_parity")),  # another kind
        ("n5", submission("Train two formed police units in French")),
    ]
    stored = {("GHA", "other"): [("s1", "Deploy forty women officers to MINUSCA")]}

    flags = flag_duplicates(new, stored, threshold=0.9)

    assert flags == [["s1"], ["n1", "s1"], [], [], []]


def brute_force(
    new: list[tuple[str, PledgeSubmission]], stored: list[tuple[str, str]], t: float
) -> list[set[str]]:
    expected = []
    for i, (_, sub) in enumerate(new):
        earlier = [(pid, s.title) for pid, s in reversed(new[:i])]
        expected.append(set(similar_titles(sub.title, earlier + stored, t)))
    return expected


def _mutate(text: str, rng: random.Random) -> str:
    chars = list(text)
    for _ in range(rng.randint(0, 4)):
        i = rng.randrange(len(chars) or 1)
        match rng.randrange(3):
            case 0 if chars:
                chars[i] = rng.choice("abcdefgh ")
            case 1 if chars:
                del chars[i]
            case _:
                chars.insert(i, rng.choice("xyz e"))
    result = "".join(chars).strip()
    return result if len(result) >= 3 else result + " abc"


@pytest.mark.parametrize("size", [20, 120], ids=["pairwise", "indexed"])
@pytest.mark.parametrize("threshold", [0.6, 0.8, 0.9, 1.0])
def test_the_filters_find_exactly_what_similar_titles_finds(
    size: int, threshold: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(duplicates, "DUPLICATES_LISTED", 10_000)
    monkeypatch.setattr(duplicates, "CANDIDATES_PER_PLEDGE", 10_000)
    rng = random.Random(size * 100 + int(threshold * 10))
    words = ["police", "women", "training", "units", "gender", "parity", "deploy", "formed", "fpu", "command"]
    bases = [" ".join(rng.sample(words, rng.randint(1, 5))) for _ in range(size // 8 + 2)]
    new = [(f"n{i}", submission(_mutate(rng.choice(bases), rng))) for i in range(size)]
    stored = [(f"s{i}", _mutate(rng.choice(bases), rng)) for i in range(size // 4)]

    flags = flag_duplicates(new, {("GHA", "other"): stored}, threshold)

    assert [set(f) for f in flags] == brute_force(new, stored, threshold)
    assert any(flags)


def test_the_shared_bigram_bound_holds_for_similar_titles() -> None:
    rng = random.Random(3)
    base = "deploy forty women officers to the united nations mission"
    for _ in range(2000):
        a, b = _mutate(base[: rng.randint(3, len(base))], rng), _mutate(base, rng)
        ratio = title_similarity(a, b)
        for threshold in (0.7, 0.8, 0.9):
            if ratio >= threshold:
                grams_a = [a[i : i + 2] for i in range(len(a) - 1)]
                grams_b = [b[i : i + 2] for i in range(len(b) - 1)]
                shared = sum(min(grams_a.count(g), grams_b.count(g)) for g in set(grams_a))
                assert shared >= min_shared_bigrams(len(a), len(b), threshold) >= 0


def test_a_flag_lists_the_newest_duplicates_only() -> None:
    new = [(f"n{i}", submission("Deploy forty women officers")) for i in range(30)]

    flags = flag_duplicates(new, {}, threshold=0.9)

    assert flags[0] == [] and flags[1] == ["n0"]
    assert flags[29] == [f"n{i}" for i in range(28, 28 - duplicates.DUPLICATES_LISTED, -1)]


# ---------------------------------------------------------------- the rows stored


def test_pledge_and_outbox_rows_are_those_submit_pledge_stores() -> None:
    now = datetime.now(UTC)
    new = [
        ("p1", submission("Deploy forty women officers")),
        (
            "p2",
            PledgeSubmission(
                member_state="CHN",
                kind="financial_support",
                title="Support for the next summit",
                terms={"amount": "300000.00", "currency": "USD", "target_date": NEXT_YEAR},
                supports_summit="UNCOPS-2026",
            ),
        ),
    ]

    pledges, events = pledge_rows(new, [[], ["p0"]], "planner-1", now, PledgePolicy(), "00-ab-cd-01")

    columns = set(PledgeRow.__table__.columns.keys())  # type: ignore[attr-defined]
    assert set(pledges[1]) <= columns and columns - set(pledges[1]) == set()
    assert pledges[1]["status"] == "submitted" and pledges[1]["amount"] == 300000
    assert pledges[1]["possible_duplicate_of"] == ["p0"] == pledges[1]["state"]["possible_duplicate_of"]
    assert pledges[1]["submitted_by"] == "planner-1" and pledges[1]["submitted_at"] == now
    outbox_columns = set(OutboxEvent.__table__.columns.keys()) - {"seq", "created_at"}  # type: ignore[attr-defined]
    assert set(events[0]) == outbox_columns
    assert [e["key"] for e in events] == ["p1", "p2"] == [e["subject"] for e in events]
    assert events[0]["type"] == PledgeSubmitted.event_type() and events[0]["traceparent"] == "00-ab-cd-01"
    event = PledgeSubmitted.model_validate_json(events[1]["value"])
    assert event.pledge_id == "p2" and event.terms.amount == 300000 and event.supports_summit == "UNCOPS-2026"


# ---------------------------------------------------------------- the CLI's chunks


def test_the_cli_sends_csv_chunks_with_the_header_and_maps_lines_back(tmp_path: Path) -> None:
    path = tmp_path / "pledges.csv"
    path.write_text(
        "member_state,kind,title,text\n"  # 1
        "GHA,other,One,\n"  # 2
        'GHA,other,Two,"a\nb"\n'  # 3-4
        "\n"  # 5
        "GHA,other,Three,\n"  # 6
        "GHA,other,Four,\n"  # 7
        "GHA,other,Five,\n"  # 8
    )

    fmt, chunks, total = import_pledges._import_chunks(str(path), 2)

    assert (fmt, total) == ("csv", 5)
    assert [c.body.decode().splitlines()[0] for c in chunks] == ["member_state,kind,title,text"] * 3
    assert [c.lines for c in chunks] == [{2: 2, 3: 3}, {2: 6, 3: 7}, {2: 8}]
    assert [c.span for c in chunks] == ["lines 2-3", "lines 6-7", "lines 8-8"]
    _, (whole,), _ = import_pledges._import_chunks(str(path), 0)
    assert whole.lines == {2: 2, 3: 3, 5: 6, 6: 7, 7: 8}


def test_the_cli_sends_json_chunks_and_maps_indexes_back(tmp_path: Path) -> None:
    path = tmp_path / "pledges.json"
    path.write_text(json.dumps({"pledges": [{"title": str(i)} for i in range(5)]}))

    fmt, chunks, total = import_pledges._import_chunks(str(path), 2)

    assert (fmt, total) == ("json", 5)
    assert [json.loads(c.body) for c in chunks][2] == [{"title": "4"}]
    assert [c.lines for c in chunks] == [{1: 1, 2: 2}, {1: 3, 2: 4}, {1: 5}]


def test_the_cli_refuses_an_unreadable_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["import-pledges", str(tmp_path / "missing.csv")]) == 2
    (tmp_path / "empty.csv").write_text("member_state,kind,title\n")
    assert cli.main(["import-pledges", str(tmp_path / "empty.csv")]) == 2
    assert "no pledges" in capsys.readouterr().err


def test_an_outbox_row_is_the_one_record_event_adds() -> None:
    class Collector:
        def __init__(self) -> None:
            self.added: list[Any] = []

        def add(self, row: Any) -> None:
            self.added.append(row)

    payload = submitted_event("p1", submission("Deploy forty women officers"), datetime.now(UTC))
    collector = Collector()
    record_event(collector, payload, key="p1", traceparent="00-ab-cd-01")  # type: ignore[arg-type]
    (recorded,) = collector.added

    values = outbox_row(payload, "p1", "00-ab-cd-01")

    assert {name: getattr(recorded, name) for name in values if name not in ("event_id", "time")} == {
        name: value for name, value in values.items() if name not in ("event_id", "time")
    }
