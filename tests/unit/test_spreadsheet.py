"""The one way the platform writes CSV: UTF-8 with a BOM for spreadsheets, formulas never run."""

from __future__ import annotations

import csv
import io

import pytest

from services.common.spreadsheet import BOM, CsvWriter, csv_document, neutralised


@pytest.mark.parametrize("text", ["=1+1", "+33 1 40 00", "-2", "@SUM(A1)", "\tx", "\rx"])
def test_a_formula_is_shown_never_run(text: str) -> None:
    assert neutralised(text) == "'" + text


@pytest.mark.parametrize("text", ["Côte d'Ivoire", "中国", "1+1", "", "a=b"])
def test_plain_text_is_left_as_it_is(text: str) -> None:
    assert neutralised(text) == text


def test_the_bom_comes_once_before_the_first_row() -> None:
    writer = CsvWriter()
    first = writer.rows([["member_state", "title"]])
    later = writer.rows([["CIV", "Femmes, police"], ["CHN", "警察"]])
    assert first == BOM + "member_state,title\r\n"
    assert later == 'CIV,"Femmes, police"\r\nCHN,警察\r\n'
    assert writer.rows([]) == ""


def test_a_document_is_utf8_with_a_bom_that_a_reader_of_utf8_sig_drops() -> None:
    text = csv_document(["title", "why"], [['=HYPERLINK("x")', "Côte d'Ivoire, line 2"]])
    encoded = text.encode("utf-8")
    assert encoded.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(encoded.decode("utf-8-sig"))))
    assert rows == [["title", "why"], ['\'=HYPERLINK("x")', "Côte d'Ivoire, line 2"]]
