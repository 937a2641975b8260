"""Production sign-in's own rules, with no identity provider: the person an ID token's claims make (the
role the console serves, a focal point's State), the settings it needs, and the pages it changes. The
protocol itself runs against a real issuer in tests/e2e/test_console_oidc.py."""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from services.common.settings import Settings
from services.console.api.sign_in import identity_provider
from services.console.app import create
from services.console.domain.sign_in import SignInRefused, claim, person_of_claims
from services.console.service.people import SIGN_IN_ROLES

SETTINGS = Settings(environment="test", background=False)


def person(claims: Mapping[str, object], settings: Settings = SETTINGS) -> tuple[str, str | None, str]:
    found = person_of_claims(
        {"sub": "u-1", **claims},
        served=[role.value for role in SIGN_IN_ROLES],
        roles_claim=settings.oidc_roles_claim,
        member_state_claim=settings.oidc_member_state_claim,
        token="t",
        expires_at=1,
    )
    return found.role, found.member_state, found.name


def test_the_role_is_the_first_one_the_console_serves_a_string_or_a_list() -> None:
    assert person({"roles": "conduct_officer"}) == ("conduct_officer", None, "")
    assert person({"roles": ["partner", "planner"], "name": "Ana"}) == ("planner", None, "Ana")
    assert person({"roles": ["admin", "conduct_officer"]})[0] == "conduct_officer"


def test_a_focal_point_carries_a_member_states_code() -> None:
    assert person({"roles": ["state_focal_point"], "member_state": "sen"}) == ("state_focal_point", "SEN", "")
    # Another role's State claim is not kept: only a focal point acts for a State.
    assert person({"roles": ["planner"], "member_state": "SEN"}) == ("planner", None, "")


@pytest.mark.parametrize("state", [None, "", "XX", "ZZZ", 12])
def test_a_focal_point_without_a_valid_state_is_refused(state: object) -> None:
    with pytest.raises(SignInRefused) as refused:
        person({"roles": ["state_focal_point"], "member_state": state})
    assert refused.value.reason == "no_state"


@pytest.mark.parametrize("roles", [None, [], "partner", ["auditor"], {"roles": "admin"}])
def test_a_person_with_no_role_the_console_serves_is_refused(roles: object) -> None:
    with pytest.raises(SignInRefused) as refused:
        person({"roles": roles})
    assert refused.value.reason == "no_role"


def test_the_claims_named_in_settings_a_dotted_name_reaching_into_an_object() -> None:
    keycloak = Settings(
        environment="test",
        background=False,
        oidc_roles_claim="realm_access.roles",
        oidc_member_state_claim="country",
    )
    claims = {"realm_access": {"roles": ["offline_access", "state_focal_point"]}, "country": "FRA"}
    assert person(claims, keycloak) == ("state_focal_point", "FRA", "")
    assert claim({"a.b": 1, "a": {"b": 2}}, "a.b") == 1  # a name with a dot in it wins
    assert claim({"a": "x"}, "a.b") is None


def test_production_with_an_issuer_needs_the_consoles_public_address() -> None:
    production = {
        "environment": "production",
        "jwks_url": "https://id.example.org/jwks",
        "victim_data_keys": "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        "oidc_issuer": "https://id.example.org",
    }
    with pytest.raises(ValidationError, match="UNCOPS_CONSOLE_URL"):
        Settings(**production)  # type: ignore[arg-type]
    settings = Settings(**production, console_url="https://console.example.org/")  # type: ignore[arg-type]
    assert settings.public_console_url == "https://console.example.org"
    assert identity_provider(settings) is not None
    assert identity_provider(SETTINGS) is None


def test_with_an_issuer_the_sign_in_page_offers_it_and_forms_may_lead_there() -> None:
    settings = Settings(
        environment="test",
        background=False,
        jwks_url="https://id.example.org/jwks",
        oidc_issuer="https://id.example.org/realms/un",
        oidc_provider_name="UN Identity",
    )
    with TestClient(create(settings), follow_redirects=False) as console:
        page = console.get("/sign-in?next=/cases")
        assert ">Sign in with UN Identity</button>" in page.text
        assert 'action="/sign-in/provider"' in page.text
        assert 'id="role"' not in page.text  # no local sign-in beside a JWKS
        policy = page.headers["content-security-policy"]
        assert "form-action 'self' https://id.example.org;" in policy
        french = console.get("/sign-in", headers={"Accept-Language": "fr"})
        assert ">Se connecter avec UN Identity</button>" in french.text
        # A callback this browser did not start is refused before anything reaches the issuer.
        stale = console.get("/sign-in/callback?code=c&state=forged")
        assert stale.status_code == 400
        assert "did not start in this browser" in stale.text


def test_without_an_issuer_there_is_no_provider_button_nor_callback() -> None:
    with TestClient(create(SETTINGS), follow_redirects=False) as console:
        assert "/sign-in/provider" not in console.get("/sign-in").text
        assert console.get("/sign-in/callback?code=c&state=s").status_code == 404
