"""``uncops token``: the development token's claims, and exit 2 for what the stack would refuse."""

from __future__ import annotations

from typing import Any

import jwt
import pytest

from services.common.auth import Principal, Role, TokenVerifier
from services.common.settings import get_settings
from uncops import cli


def _token(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[dict[str, Any], Principal]:
    assert cli.main(["token", *argv]) == 0
    token = capsys.readouterr().out.strip()
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims, TokenVerifier(get_settings()).verify(token)


@pytest.mark.parametrize(
    ("argv", "claim", "missions"),
    [
        ([], None, None),
        (["--mission", "MINUSCA"], ["MINUSCA"], frozenset({"MINUSCA"})),
        (
            ["--mission", "minusca", "--mission", "UNMISS"],
            ["MINUSCA", "UNMISS"],
            frozenset({"MINUSCA", "UNMISS"}),
        ),
        (["--mission", "MINUSCA", "--mission", "MINUSCA"], ["MINUSCA"], frozenset({"MINUSCA"})),
        (["--mission", "*"], ["*"], None),
    ],
    ids=["none", "one", "two-any-case", "repeated", "star"],
)
def test_mission_sets_the_missions_claim(
    argv: list[str],
    claim: list[str] | None,
    missions: frozenset[str] | None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    claims, principal = _token(["--role", "conduct_officer", *argv], capsys)

    assert claims.get("missions") == claim
    assert principal.missions == missions
    assert principal.roles == frozenset({Role.CONDUCT_OFFICER})


def test_mission_combines_with_member_state(capsys: pytest.CaptureFixture[str]) -> None:
    claims, principal = _token(
        ["--role", "state_focal_point", "--member-state", "sen", "--mission", "MINUSMA"], capsys
    )

    assert claims["member_state"] == "SEN" and claims["missions"] == ["MINUSMA"]
    assert principal.member_state == "SEN" and principal.missions == frozenset({"MINUSMA"})


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--mission", "MINUSKA"], "MINUSKA: not the code of a UN peace operation"),
        (["--mission", "MINUSCA", "--mission", "XX1"], "XX1: not the code"),
        (["--mission", "*", "--mission", "MINUSCA"], "give it alone"),
        (["--mission", ""], ": not the code"),
    ],
    ids=["unknown", "one-unknown-of-two", "star-and-code", "empty"],
)
def test_an_unknown_mission_exits_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["token", "--role", "conduct_officer", *argv]) == 2

    captured = capsys.readouterr()
    assert message in captured.err and captured.out == ""


def test_an_unknown_member_state_still_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        cli.main(["token", "--role", "state_focal_point", "--member-state", "XXX", "--mission", "UNMISS"])
        == 2
    )
    assert "XXX is not" in capsys.readouterr().err
