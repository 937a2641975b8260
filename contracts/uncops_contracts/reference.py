"""Reference data shared by every service: the UN Member States and the UN peace operations.

This module is a loader; the lists themselves are *data, not code*. They live in two CSV files
shipped inside this package (``uncops_contracts/data``) and are read once, with
``importlib.resources``, on first use:

``data/member_states.csv`` (``code,name``)
    The 193 Member States of the United Nations. ``code`` is the ISO 3166-1 alpha-3 code,
    ``name`` the short name the UN uses (UN Protocol and Liaison Service list of Member States,
    UNTERM, UN M49), e.g. ``BOL,Bolivia (Plurinational State of)``. Observer States (Holy See,
    State of Palestine) and entities that are not Member States are deliberately absent.
    Sorted by name, accents ignored.

``data/missions.csv`` (``code,name,kind,active``)
    UN peace operations, past and present, that have deployed UN Police (police components of
    peacekeeping operations, police advisers of special political missions). ``kind`` is
    ``peacekeeping`` (Department of Peace Operations) or ``special_political`` (special political
    missions); ``active`` says whether the operation still had a mandate in force in late 2026,
    per the Security Council resolutions that establish, renew and close them.

To change either list (a new mission, a closure, a renamed State), edit the CSV, not this module.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from types import MappingProxyType
from typing import Literal, cast

__all__ = [
    "Mission",
    "MissionKind",
    "is_member_state",
    "is_mission",
    "member_states",
    "missions",
]

MissionKind = Literal["peacekeeping", "special_political"]

_KINDS: frozenset[str] = frozenset({"peacekeeping", "special_political"})
_BOOLEANS: dict[str, bool] = {"true": True, "false": False}
_ALPHA3 = re.compile(r"[A-Z]{3}")
_MISSION_CODE = re.compile(r"[A-Z]{2,12}")


@dataclass(frozen=True)
class Mission:
    """A UN peace operation that has had UN Police."""

    code: str
    name: str
    kind: MissionKind
    active: bool


def _rows(filename: str, header: list[str]) -> list[dict[str, str]]:
    text = files("uncops_contracts").joinpath("data", filename).read_text(encoding="utf-8")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if reader.fieldnames != header:
        raise ValueError(f"{filename}: expected columns {header}, found {reader.fieldnames}")
    return list(reader)


@cache
def _member_states() -> MappingProxyType[str, str]:
    states: dict[str, str] = {}
    for row in _rows("member_states.csv", ["code", "name"]):
        code, name = row["code"], row["name"]
        if not _ALPHA3.fullmatch(code) or not name:
            raise ValueError(f"member_states.csv: bad row {row}")
        if code in states:
            raise ValueError(f"member_states.csv: duplicate code {code}")
        states[code] = name
    return MappingProxyType(states)


@cache
def _missions() -> MappingProxyType[str, Mission]:
    result: dict[str, Mission] = {}
    for row in _rows("missions.csv", ["code", "name", "kind", "active"]):
        code, name, kind, active = row["code"], row["name"], row["kind"], row["active"]
        if not _MISSION_CODE.fullmatch(code) or not name or kind not in _KINDS or active not in _BOOLEANS:
            raise ValueError(f"missions.csv: bad row {row}")
        if code in result:
            raise ValueError(f"missions.csv: duplicate code {code}")
        result[code] = Mission(code, name, cast(MissionKind, kind), _BOOLEANS[active])
    return MappingProxyType(result)


def member_states() -> dict[str, str]:
    """The 193 UN Member States, ISO 3166-1 alpha-3 code → UN short name, in name order.

    Returns a fresh dict each call, so callers may modify it freely.
    """
    return dict(_member_states())


def is_member_state(code: str) -> bool:
    """Whether ``code`` is the alpha-3 code of a UN Member State (exact, upper case)."""
    return code in _member_states()


def missions() -> dict[str, Mission]:
    """The UN peace operations with UN Police, past and present, by code (e.g. ``MINUSCA``).

    Returns a fresh dict each call; the ``Mission`` values are immutable.
    """
    return dict(_missions())


def is_mission(code: str) -> bool:
    """Whether ``code`` is a known UN peace operation with UN Police, active or closed."""
    return code in _missions()
