"""Configuration (services/common/settings.py): production refuses development secrets; URLs and ports."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.common.settings import (
    DEVELOPMENT_JWT_SECRET,
    DEVELOPMENT_VICTIM_DATA_KEY,
    SERVICES,
    Settings,
)
from uncops_contracts.envelope import SCHEMA_BASE

REAL_SECRET = "a-real-production-secret-0123456789abcdef"
# Issue 20: production takes UNCOPS_VICTIM_DATA_KEYS (key-id:urlsafe base64 of 32 random bytes), never a
# passphrase. These bytes (0..31) are not random, but nothing printable either, as a random key's are.
REAL_KEY = "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

_VARIABLES = [
    "UNCOPS_JWT_SECRET",
    "UNCOPS_JWKS_URL",
    "UNCOPS_VICTIM_DATA_KEY",
    "UNCOPS_VICTIM_DATA_KEYS",
    "POSTGRES_HOST",
    "POSTGRES_PORT",
    "POSTGRES_USER",
    *(f"{s.upper()}_DATABASE_URL" for s in SERVICES),
    *(f"{s.upper()}_PORT" for s in SERVICES),
]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in _VARIABLES:
        monkeypatch.delenv(variable, raising=False)


def test_production_refuses_the_development_jwt_secret() -> None:
    with pytest.raises(ValidationError, match="UNCOPS_JWT_SECRET"):
        Settings(environment="production", victim_data_keys=REAL_KEY)


def test_production_refuses_the_development_secret_when_the_jwks_url_is_empty(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("UNCOPS_JWKS_URL", "")

    with pytest.raises(ValidationError, match="UNCOPS_JWT_SECRET"):
        Settings(environment="production", victim_data_keys=REAL_KEY)


def test_production_requires_a_victim_data_key_ring() -> None:
    with pytest.raises(ValidationError, match="UNCOPS_VICTIM_DATA_KEYS is required in production"):
        Settings(environment="production", jwt_secret=REAL_SECRET)


def test_production_accepts_real_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UNCOPS_JWT_SECRET", REAL_SECRET)
    monkeypatch.setenv("UNCOPS_VICTIM_DATA_KEYS", f"{REAL_KEY}, old:{'A' * 42}w=")

    settings = Settings(environment="production")

    assert settings.jwt_secret.get_secret_value() == REAL_SECRET
    assert settings.victim_key_ring() == [("k1", bytes(range(32))), ("old", b"\0" * 31 + b"\x0c")]
    assert settings.legacy_victim_passphrase is None  # the old passphrase is not read in production


def test_production_accepts_a_jwks_url_instead_of_a_secret() -> None:
    settings = Settings(
        environment="production", jwks_url="https://idp.example/jwks", victim_data_keys=REAL_KEY
    )

    assert settings.jwks_url == "https://idp.example/jwks"


@pytest.mark.parametrize("environment", ["development", "test"])
def test_development_and_test_accept_the_defaults(environment: str) -> None:
    settings = Settings(environment=environment)

    assert settings.jwt_secret.get_secret_value() == DEVELOPMENT_JWT_SECRET
    assert settings.victim_data_key.get_secret_value() == DEVELOPMENT_VICTIM_DATA_KEY
    assert settings.jwks_url is None


def test_an_empty_jwks_url_means_not_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UNCOPS_JWKS_URL", "")

    assert Settings(environment="development").jwks_url is None


def test_database_url_default_form() -> None:
    settings = Settings(environment="test")

    for service in SERVICES:
        assert (
            settings.database_url(service) == f"postgresql+asyncpg://postgres@127.0.0.1:5432/uncops_{service}"
        )


def test_database_url_follows_postgres_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POSTGRES_PORT", "55432")

    assert Settings(environment="test").database_url("cases") == (
        "postgresql+asyncpg://postgres@127.0.0.1:55432/uncops_cases"
    )


def test_database_url_override_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    url = "postgresql+asyncpg://app@db.example:6543/pledges"
    monkeypatch.setenv("PLEDGES_DATABASE_URL", url)

    settings = Settings(environment="test")

    assert settings.database_url("pledges") == url
    assert settings.database_url("summit").endswith("/uncops_summit")


def test_default_ports() -> None:
    settings = Settings(environment="test")

    assert {s: settings.port(s) for s in SERVICES} == {"pledges": 8001, "cases": 8002, "summit": 8003}


def test_port_override_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLEDGES_PORT", "18001")

    settings = Settings(environment="test")

    assert settings.port("pledges") == 18001
    assert settings.port("cases") == 8002


def test_summit_policy_template_and_limits_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "SUMMIT_POLICY__MILESTONES",
        '[{"key": "invitations_sent", "title": "Invitations sent", "offset_days": -150,'
        ' "owner": "Police Division"}]',
    )
    monkeypatch.setenv("SUMMIT_POLICY__DELEGATION_MAX_MEMBERS", "6")
    policy = Settings().summit_policy
    assert [m.key for m in policy.milestones] == ["invitations_sent"]
    assert policy.milestones[0].offset_days == -150 and policy.milestones[0].warn_before_days == 14
    assert policy.delegation_max_members == 6


def test_a_bad_summit_template_stops_the_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUMMIT_POLICY__MILESTONES", '[{"key": "x", "title": "No owner", "offset_days": 1}]')
    with pytest.raises(ValidationError):
        Settings()


# ---- issue 18: the schema base URL of published ce_dataschema


def test_the_schema_base_defaults_to_the_canonical_one() -> None:
    assert Settings(environment="test").schema_base_url == SCHEMA_BASE


def test_the_schema_base_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UNCOPS_SCHEMA_BASE_URL", "https://partners.example.org/contracts/schemas/")

    assert Settings(environment="test").schema_base_url == "https://partners.example.org/contracts/schemas"


@pytest.mark.parametrize(
    "base", ["https://partners.example.org/schemas", "partners.example.org/contracts/schemas", ""]
)
def test_a_schema_base_without_the_schemas_path_is_refused(
    monkeypatch: pytest.MonkeyPatch, base: str
) -> None:
    monkeypatch.setenv("UNCOPS_SCHEMA_BASE_URL", base)

    with pytest.raises(ValidationError, match="UNCOPS_SCHEMA_BASE_URL must be an http"):
        Settings(environment="test")


# ---- the victim-data key ring (issue 20)


@pytest.mark.parametrize(
    ("keys", "reason"),
    [
        ("k1:" + "cGFzc3dvcmQtcGFzc3dvcmQtcGFzc3dvcmQtcGFzc3c=", "not a passphrase"),  # 32 printable bytes
        (f"k1:{DEVELOPMENT_VICTIM_DATA_KEY}", "urlsafe base64 of 32 random bytes"),
        ("k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYX", "urlsafe base64 of 32 random bytes"),  # 24 bytes
        ("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", "must be key-id:key"),
        ("legacy:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", "reserved or given twice"),
        (f"{REAL_KEY},{REAL_KEY}", "reserved or given twice"),
    ],
)
@pytest.mark.parametrize("environment", ["production", "test"])
def test_a_malformed_victim_data_key_is_refused_at_startup(keys: str, reason: str, environment: str) -> None:
    with pytest.raises(ValidationError, match=reason) as refused:
        Settings(environment=environment, jwt_secret=REAL_SECRET, victim_data_keys=keys)
    key = keys.split(":", 1)[-1]
    # Not even part of the key is echoed (pydantic would print the input: hide_input_in_errors).
    assert [key[i : i + 8] for i in range(0, len(key) - 8, 4) if key[i : i + 8] in str(refused.value)] == []


def test_production_refuses_the_old_passphrase() -> None:
    with pytest.raises(
        ValidationError, match=r"UNCOPS_VICTIM_DATA_KEY \(a passphrase\) is read only in development"
    ):
        Settings(
            environment="production",
            jwt_secret=REAL_SECRET,
            victim_data_keys=REAL_KEY,
            victim_data_key="an-old-passphrase-from-before-the-key-ring",
        )


def test_development_reads_the_old_passphrase_as_the_legacy_key() -> None:
    settings = Settings(environment="development")

    assert settings.victim_key_ring() == []
    assert settings.legacy_victim_passphrase == DEVELOPMENT_VICTIM_DATA_KEY
