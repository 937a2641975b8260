"""Victims' identity encrypted at rest (services/cases/domain/confidential.py)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.cases.domain.confidential import Vault, VictimIdentity

SECRET = "a-long-random-test-key-0123456789"


def identity() -> VictimIdentity:
    return VictimIdentity(
        name="Amina Example",
        date_of_birth="2009-04-01",
        contact="+236 70 00 00 00",
        location="Bangui, PK5",
        guardian="Fatou Example",
        notes="met at the clinic",
    )


def test_seal_then_open_gives_back_the_identity() -> None:
    vault = Vault(SECRET)
    sealed = vault.seal(identity())
    assert isinstance(sealed, str)
    assert vault.open(sealed) == identity()
    assert vault.open(sealed.encode()) == identity()  # bytes as stored in the database


def test_another_vault_with_the_same_key_opens_it() -> None:
    assert Vault(SECRET).open(Vault(SECRET).seal(identity())) == identity()


def test_the_ciphertext_does_not_contain_the_plaintext() -> None:
    sealed = Vault(SECRET).seal(identity())
    for value in ("Amina", "Example", "Bangui", "2009-04-01", "+236", "clinic", "Fatou", "name"):
        assert value not in sealed
        assert value.lower() not in sealed.lower()


def test_sealing_twice_gives_different_ciphertexts() -> None:
    vault = Vault(SECRET)
    assert vault.seal(identity()) != vault.seal(identity())


def test_the_wrong_key_cannot_open_it() -> None:
    sealed = Vault(SECRET).seal(identity())
    with pytest.raises(ValueError, match="cannot be decrypted"):
        Vault("another-key").open(sealed)


def test_a_tampered_ciphertext_is_refused() -> None:
    vault = Vault(SECRET)
    sealed = vault.seal(identity())
    middle = len(sealed) // 2
    tampered = sealed[:middle] + ("A" if sealed[middle] != "A" else "B") + sealed[middle + 1 :]
    with pytest.raises(ValueError):
        vault.open(tampered)


def test_garbage_is_refused_as_a_value_error() -> None:
    with pytest.raises(ValueError):
        Vault(SECRET).open("not a token at all")


def test_repr_and_str_hide_the_key() -> None:
    vault = Vault(SECRET)
    for text in (repr(vault), str(vault), f"{vault}", repr([vault])):
        assert SECRET not in text
        assert "key hidden" in text


def test_a_name_is_required() -> None:
    with pytest.raises(ValidationError):
        VictimIdentity(name="")
    with pytest.raises(ValidationError):
        VictimIdentity(name="   ")
