"""Reference data shipped with the contracts package: UN Member States and peace operations."""

from __future__ import annotations

import csv
import dataclasses
import io
import re
import unicodedata
from importlib.resources import files

import pytest

from uncops_contracts.reference import Mission, is_member_state, is_mission, member_states, missions


def _collation_key(name: str) -> str:
    return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().casefold()


def test_there_are_193_unique_member_states() -> None:
    states = member_states()
    assert len(states) == 193
    assert len(set(states.values())) == 193


def test_member_state_codes_are_alpha3() -> None:
    assert all(re.fullmatch(r"[A-Z]{3}", code) for code in member_states())


def test_member_states_are_sorted_by_name() -> None:
    names = list(member_states().values())
    assert names == sorted(names, key=_collation_key)


def test_csv_has_193_rows_and_no_stray_columns() -> None:
    text = files("uncops_contracts").joinpath("data", "member_states.csv").read_text(encoding="utf-8")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0] == ["code", "name"]
    assert len(rows) == 194
    assert all(len(row) == 2 for row in rows)


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("CHN", "China"),
        ("FRA", "France"),
        ("COD", "Democratic Republic of the Congo"),
        ("COG", "Congo"),
        ("CIV", "Côte d'Ivoire"),
        ("PRK", "Democratic People's Republic of Korea"),
        ("GBR", "United Kingdom of Great Britain and Northern Ireland"),
        ("TUR", "Türkiye"),
        ("SSD", "South Sudan"),
        ("BOL", "Bolivia (Plurinational State of)"),
    ],
)
def test_member_state_names(code: str, name: str) -> None:
    assert member_states()[code] == name


@pytest.mark.parametrize("code", ["VAT", "PSE", "TWN", "ESH", "XKX", "COK", "NIU"])
def test_observers_and_non_members_are_absent(code: str) -> None:
    assert code not in member_states()
    assert not is_member_state(code)


def test_is_member_state() -> None:
    assert is_member_state("KEN")
    assert is_member_state("SSD")
    assert not is_member_state("ken")
    assert not is_member_state("")
    assert not is_member_state("KENYA")


def test_member_states_returns_a_copy() -> None:
    member_states().pop("FRA")
    assert is_member_state("FRA")
    assert "FRA" in member_states()


def test_missions_active_and_closed() -> None:
    all_missions = missions()
    assert all_missions["MINUSCA"].active
    assert all_missions["MINUSCA"].kind == "peacekeeping"
    assert all_missions["MONUSCO"].active
    assert not all_missions["MINUSTAH"].active
    assert all_missions["UNAMA"].kind == "special_political"
    assert all_missions["MINUSCA"].name == (
        "United Nations Multidimensional Integrated Stabilization Mission in the Central African Republic"
    )


def test_missions_include_the_required_operations() -> None:
    required = {
        "MINUSCA", "MONUSCO", "UNMISS", "UNISFA", "UNFICYP", "UNMIK", "MINURSO", "MINUSMA", "UNAMID",
        "MINUSTAH", "MINUJUSTH", "UNMIL", "UNOCI", "UNMIT", "BINUH", "UNSOM", "UNTMIS", "UNAMA", "UNAMI",
        "UNSMIL", "UNMHA",
    }  # fmt: skip
    assert required <= set(missions())


def test_missions_are_consistent() -> None:
    for code, mission in missions().items():
        assert mission.code == code
        assert mission.name
        assert mission.kind in {"peacekeeping", "special_political"}
        assert isinstance(mission.active, bool)


def test_mission_is_frozen() -> None:
    mission = missions()["MINUSCA"]
    assert isinstance(mission, Mission)
    with pytest.raises(dataclasses.FrozenInstanceError):
        mission.active = False  # type: ignore[misc]


def test_is_mission() -> None:
    assert is_mission("MONUSCO")
    assert is_mission("MINUSTAH")
    assert not is_mission("monusco")
    assert not is_mission("UNPOL")
    assert not is_mission("")
