"""A bulk import of pledges as the console handles the file, in plain Python: the uploaded CSV read (a
spreadsheet's BOM and the console's own "why" column dropped), cut into chunks the pledges API imports one
at a time (so the page can show progress), the API's line numbers mapped back to the file's, and the
rejected rows written out as a CSV to fix and upload again. The pledges API validates every row."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from services.common.spreadsheet import csv_document

# The column the rejected rows' CSV adds: why each row was refused. An upload that still has it (the
# person fixed the rows and sends the file back) has it dropped before anything reaches the API.
WHY_COLUMN = "rejected_because"
CHUNK_ROWS = 50


NOT_UTF8 = "The file is not UTF-8 text: save it from the spreadsheet as CSV UTF-8"
NOT_CSV = "The file is not a CSV the console can read"
EMPTY = "The file is empty: its first line must be the header row"
UNREADABLE = (NOT_UTF8, NOT_CSV, EMPTY)  # English: the catalogue's message ids


class UnreadableFile(ValueError):
    """The file is not a CSV the console can cut into rows (the reason is one of UNREADABLE)."""


@dataclass(frozen=True)
class CsvFile:
    header: tuple[str, ...]
    records: tuple[tuple[int, tuple[str, ...]], ...]  # (the line a row starts on in the file, its cells)

    @property
    def rows(self) -> int:
        return len(self.records)


@dataclass(frozen=True)
class Piece:
    """Some of the file's rows as a CSV of their own, and which line of the file each of its lines is."""

    text: str
    file_lines: dict[int, int] = field(default_factory=dict)

    def file_line(self, line: int) -> int:
        return self.file_lines.get(line, line)


def read_csv(content: bytes) -> CsvFile:
    """The header and the non-blank rows of an uploaded CSV, each with the line it starts on."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UnreadableFile(
            "The file is not UTF-8 text: save it from the spreadsheet as CSV UTF-8"
        ) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    records: list[tuple[int, tuple[str, ...]]] = []
    try:
        header = next(reader, None)
        previous = reader.line_num
        for values in reader:
            start, previous = previous + 1, reader.line_num
            if any(cell.strip() for cell in values):
                records.append((start, tuple(values)))
    except csv.Error:
        raise UnreadableFile(NOT_CSV) from None
    if not header or not any(cell.strip() for cell in header):
        raise UnreadableFile(EMPTY)
    names = [name.strip().lower() for name in header]
    if WHY_COLUMN in names:
        drop = names.index(WHY_COLUMN)
        header = [name for i, name in enumerate(header) if i != drop]
        records = [
            (
                line,
                tuple(v for i, v in enumerate(values) if i != drop) if len(values) == len(names) else values,
            )
            for line, values in records
        ]
    return CsvFile(tuple(header), tuple(records))


def piece(header: Sequence[str], records: Iterable[tuple[int, Sequence[str]]]) -> Piece:
    """The rows as one CSV (the header first), with each row's line in it mapped to its line in the file
    (a quoted cell may hold line breaks, so a row may span lines)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    lines: dict[int, int] = {}
    line = 2
    for file_line, values in records:
        lines[line] = file_line
        before = buffer.tell()
        writer.writerow(values)
        line += buffer.getvalue()[before:].count("\n")
    return Piece(buffer.getvalue(), lines)


def pieces(file: CsvFile, size: int = CHUNK_ROWS) -> list[Piece]:
    """The file in chunks of ``size`` rows, in order."""
    return [piece(file.header, file.records[at : at + size]) for at in range(0, file.rows, size)]


@dataclass(frozen=True)
class RowRejection:
    line: int  # in the file
    field: str
    reason: str


def rejected_rows(file: CsvFile, rejections: Sequence[RowRejection]) -> str:
    """The rejected rows as they were in the file, in order, with a last column saying why (every reason
    of a row, "field: reason; ..."), as a spreadsheet opens it (UTF-8 with a BOM, formulas neutralised)."""
    reasons: dict[int, list[str]] = {}
    for rejection in rejections:
        reasons.setdefault(rejection.line, []).append(f"{rejection.field}: {rejection.reason}")
    rows = [[*values, "; ".join(reasons[line])] for line, values in file.records if line in reasons]
    return csv_document([*file.header, WHY_COLUMN], rows)
