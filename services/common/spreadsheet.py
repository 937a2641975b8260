"""CSV files as a spreadsheet opens them right: UTF-8 with a byte order mark (without one, Excel reads the
file in the machine's legacy code page and garbles "Côte d'Ivoire" and every non-Latin name), and no cell a
spreadsheet would run as a formula (CSV injection: a State types the text, a secretariat's Excel runs it).
Every CSV the platform sends is written through this module: the pledges export, the summit's delegation,
participant and badge lists, the console's rejected rows."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

BOM = "\ufeff"
# A cell starting with one of these is a formula to Excel, LibreOffice or Google Sheets (OWASP's list).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralised(text: str) -> str:
    """The text as a spreadsheet shows it and never runs it: a leading apostrophe before a formula's
    first character (the spreadsheet hides the apostrophe and shows the text)."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class CsvWriter:
    """Writes CSV rows (RFC 4180, CRLF) a piece at a time, for a response streamed in batches: the first
    piece starts with the BOM. The caller neutralises the cells of free text (``neutralised``); numbers and
    dates it writes as they are, so that "-5" stays a number."""

    def __init__(self) -> None:
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, lineterminator="\r\n")
        self._started = False

    def rows(self, rows: Iterable[Sequence[Any]]) -> str:
        """The text of these rows (the BOM before the very first)."""
        if not self._started:
            self._buffer.write(BOM)
            self._started = True
        self._writer.writerows(rows)
        text = self._buffer.getvalue()
        self._buffer.seek(0)
        self._buffer.truncate()
        return text


def csv_document(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A whole CSV file, every cell neutralised (a file built in memory, from text people typed)."""
    writer = CsvWriter()
    return writer.rows([header, *([neutralised(cell) for cell in row] for row in rows)])
