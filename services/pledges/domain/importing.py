"""Bulk import of a summit's pledges from CSV or JSON, the rules in plain Python: the file parsed, every row
validated, a report of each rejected row with its line and reason.

Line numbers: in CSV the header is line 1 and a row's line is the physical line it starts on (a quoted cell
may span lines; blank lines count as lines but are not rows); in JSON the line is the pledge's index from 1.
In CSV the field of a rejection is the column's name (``target_date``, not ``terms.target_date``); in JSON it
is the path in the object, as the single-pledge endpoint names it.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from services.common.errors import InvalidField
from services.pledges.domain.submission import PledgeSubmission, PledgeTermsIn

CSV_COLUMNS = (
    "member_state",
    "co_sponsors",
    "summit",
    "kind",
    "title",
    "text",
    "indicator",
    "baseline",
    "target",
    "unit",
    "target_date",
    "resources",
    "amount",
    "currency",
    "supports_summit",
)
REQUIRED_COLUMNS = ("member_state", "kind", "title")
TERMS_COLUMNS = frozenset(PledgeTermsIn.model_fields)


class ImportMode(StrEnum):
    ALL_OR_NOTHING = "all_or_nothing"
    ACCEPT_VALID = "accept_valid"


class Rejection(BaseModel):
    line: int
    field: str
    reason: str


class DuplicateFlag(BaseModel):
    line: int
    pledge_id: str
    duplicate_of: list[str]


class ImportReport(BaseModel):
    mode: ImportMode
    received: int
    accepted: int
    rejected: list[Rejection] = []
    pledge_ids: list[str] = Field([], description="The pledges created, in the order of their lines")
    possible_duplicates: list[DuplicateFlag] = []
    detail: str | None = None


# ---------------------------------------------------------------- parsing


@dataclass(frozen=True)
class ImportRow:
    """One pledge of the file: its line and the object to validate, or why it cannot even be read."""

    line: int
    data: Any = None
    problem: str | None = None
    csv: bool = False


def parse_body(body: bytes, fmt: str) -> list[ImportRow]:
    if fmt == "csv":
        try:
            text = body.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InvalidField("body", f"the CSV is not UTF-8 text ({exc})") from exc
        return parse_csv(text)
    return parse_json(body)


def csv_records(text: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header and every non-blank record with the line it starts on (the header is line 1)."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if header is None or not any(cell.strip() for cell in header):
            raise InvalidField("body", "the CSV is empty: its first line must be the header row")
        records: list[tuple[int, list[str]]] = []
        previous = reader.line_num
        for values in reader:
            start, previous = previous + 1, reader.line_num
            if any(cell.strip() for cell in values):  # blank lines and rows of empty cells are no pledge
                records.append((start, values))
    except csv.Error as exc:
        raise InvalidField("body", f"line {reader.line_num}: {exc}") from exc
    return header, records


def csv_columns(header: Sequence[str]) -> list[str]:
    names = [name.strip().lower() for name in header]
    unknown = [name for name in names if name not in CSV_COLUMNS]
    if unknown:
        raise InvalidField(
            "columns",
            f"unknown column{'s' if len(unknown) > 1 else ''} {', '.join(repr(u) for u in unknown)}; "
            f"the columns are {', '.join(CSV_COLUMNS)}",
        )
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise InvalidField("columns", f"column{'s' if len(twice) > 1 else ''} {', '.join(twice)} twice")
    missing = [name for name in REQUIRED_COLUMNS if name not in names]
    if missing:
        raise InvalidField("columns", f"missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
    return names


def csv_submission(columns: Sequence[str], values: Sequence[str]) -> dict[str, Any]:
    """A CSV row as an object shaped like PledgeSubmission: empty cells left out, co_sponsors split on ";"."""
    data: dict[str, Any] = {}
    terms: dict[str, str] = {}
    for name, raw in zip(columns, values, strict=True):
        value = raw.strip()
        if not value:
            continue
        if name == "co_sponsors":
            data[name] = [code.strip() for code in value.split(";") if code.strip()]
        elif name in TERMS_COLUMNS:
            terms[name] = value
        else:
            data[name] = value
    if terms:
        data["terms"] = terms
    return data


def parse_csv(text: str) -> list[ImportRow]:
    header, records = csv_records(text)
    columns = csv_columns(header)
    rows = []
    for line, values in records:
        if len(values) != len(columns):
            problem = f"{len(values)} values for the {len(columns)} columns of the header"
            rows.append(ImportRow(line, problem=problem, csv=True))
        else:
            rows.append(ImportRow(line, csv_submission(columns, values), csv=True))
    return rows


def parse_json(body: bytes) -> list[ImportRow]:
    try:
        # Decimals, not floats: 0.1 stays 0.1 (an amount has at most two decimal places).
        document = json.loads(body, parse_float=Decimal)
    except (ValueError, RecursionError) as exc:
        raise InvalidField("body", f"not valid JSON: {exc}") from exc
    if isinstance(document, dict) and set(document) == {"pledges"}:
        document = document["pledges"]
    if not isinstance(document, list):
        raise InvalidField("body", 'a JSON list of pledges, or {"pledges": [...]}')
    return [ImportRow(index, item) for index, item in enumerate(document, start=1)]


# ---------------------------------------------------------------- validation


def field_name(path: Sequence[str | int], csv_row: bool) -> str:
    """Where an error is: the CSV column, or the path in the JSON object ("row" for the whole row)."""
    if not csv_row:
        return ".".join(str(part) for part in path) or "row"
    names = [str(part) for part in path if not isinstance(part, int)]
    if names[:1] == ["terms"] and len(names) > 1:
        names = names[1:]
    return ".".join(names) or "row"


def validate_row(row: ImportRow) -> PledgeSubmission | list[Rejection]:
    if row.problem is not None:
        return [Rejection(line=row.line, field="row", reason=row.problem)]
    try:
        return PledgeSubmission.model_validate(row.data)
    except ValidationError as exc:
        return [
            Rejection(line=row.line, field=field_name(error["loc"], row.csv), reason=error["msg"])
            for error in exc.errors(include_url=False)
        ]
    except InvalidField as exc:  # a rule of check_submission, raised as-is from the model validator
        return [Rejection(line=row.line, field=field_name(exc.field.split("."), row.csv), reason=exc.reason)]


def validate_rows(
    rows: Sequence[ImportRow],
    may_act_for: Callable[[str], bool] = lambda _: True,
    acting_for: str | None = None,
) -> tuple[list[tuple[int, PledgeSubmission]], list[Rejection]]:
    """The valid submissions with their lines, and every rejection (a State's focal point imports its own
    State's pledges only)."""
    valid: list[tuple[int, PledgeSubmission]] = []
    rejected: list[Rejection] = []
    for row in rows:
        result = validate_row(row)
        if isinstance(result, list):
            rejected.extend(result)
        elif not may_act_for(result.member_state):
            reason = f"you import pledges of {acting_for} only" if acting_for else "not your State's pledge"
            rejected.append(Rejection(line=row.line, field="member_state", reason=reason))
        else:
            valid.append((row.line, result))
    return valid, rejected


def fingerprint(mode: ImportMode, fmt: str, body: bytes) -> str:
    digest = hashlib.sha256(f"{mode.value}\0{fmt}\0".encode())
    digest.update(body)
    return digest.hexdigest()


def read_and_validate(
    body: bytes,
    fmt: str,
    max_rows: int,
    may_act_for: Callable[[str], bool],
    acting_for: str | None,
) -> tuple[list[ImportRow], tuple[list[tuple[int, PledgeSubmission]], list[Rejection]]]:
    """The rows of the file and their validation; a file with no rows, or too many, is refused whole."""
    rows = parse_body(body, fmt)
    if not rows:
        raise InvalidField("body", "no pledges to import")
    if len(rows) > max_rows:
        raise InvalidField(
            "body", f"{len(rows)} pledges: an import holds at most {max_rows}; split it into smaller imports"
        )
    return rows, validate_rows(rows, may_act_for, acting_for)
