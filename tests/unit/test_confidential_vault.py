"""Victims' identity and attachments encrypted at rest under a key ring
(services/cases/domain/confidential.py)."""

from __future__ import annotations

import base64
import hashlib
import os

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError

from services.cases.domain.confidential import (
    DOCUMENT_HEADER_MAX,
    LEGACY_KEY_ID,
    DocumentError,
    LocalKeyRing,
    Vault,
    VictimIdentity,
    document_key_id,
    open_document,
    reseal_document,
    seal_document,
)

SECRET = os.urandom(32)
KEY_A = os.urandom(32)
KEY_B = os.urandom(32)
RING = LocalKeyRing([("k1", SECRET)])


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
    vault = Vault(RING)
    sealed = vault.seal(identity())
    assert isinstance(sealed, str)
    assert vault.open(sealed) == identity()
    assert vault.open(sealed.encode()) == identity()  # bytes as stored in the database


def test_another_vault_with_the_same_key_opens_it() -> None:
    assert Vault(RING).open(Vault(RING).seal(identity())) == identity()


def test_the_ciphertext_does_not_contain_the_plaintext() -> None:
    sealed = Vault(RING).seal(identity())
    for value in ("Amina", "Example", "Bangui", "2009-04-01", "+236", "clinic", "Fatou", "name"):
        assert value not in sealed
        assert value.lower() not in sealed.lower()


def test_sealing_twice_gives_different_ciphertexts() -> None:
    vault = Vault(RING)
    assert vault.seal(identity()) != vault.seal(identity())


def test_the_wrong_key_cannot_open_it() -> None:
    sealed = Vault(RING).seal(identity())
    with pytest.raises(ValueError, match="cannot be decrypted"):
        Vault(LocalKeyRing([("k1", os.urandom(32))])).open(sealed)


def test_a_tampered_ciphertext_is_refused() -> None:
    vault = Vault(RING)
    sealed = vault.seal(identity())
    middle = len(sealed) // 2
    tampered = sealed[:middle] + ("A" if sealed[middle] != "A" else "B") + sealed[middle + 1 :]
    with pytest.raises(ValueError):
        vault.open(tampered)


def test_garbage_is_refused_as_a_value_error() -> None:
    with pytest.raises(ValueError):
        Vault(RING).open("not a token at all")


def test_repr_and_str_hide_the_key() -> None:
    vault = Vault(RING)
    for text in (repr(vault), str(vault), f"{vault}", repr([vault]), repr(RING)):
        for form in (SECRET.hex(), base64.urlsafe_b64encode(SECRET).decode(), str(SECRET)):
            assert form not in text
        assert "hidden" in text


def test_a_name_is_required() -> None:
    with pytest.raises(ValidationError):
        VictimIdentity(name="")
    with pytest.raises(ValidationError):
        VictimIdentity(name="   ")


# ---- the key ring (issue 20)


def test_each_token_names_the_key_that_sealed_it() -> None:
    ring = LocalKeyRing([("2026-12", KEY_A), ("2026-06", KEY_B)])
    token = ring.encrypt(b"plaintext")
    assert token.startswith(b"2026-12:")
    assert ring.key_id(token) == "2026-12" == ring.primary_key_id
    assert ring.decrypt(token) == b"plaintext"


def test_a_rotation_keeps_every_record_readable_and_retires_the_old_key() -> None:
    # Written under A; B added second (every process can read it), then first; rekey; A removed.
    sealed = [Vault(LocalKeyRing([("a", KEY_A)])).seal(identity()) for _ in range(3)]
    both = Vault(LocalKeyRing([("a", KEY_A), ("b", KEY_B)]))
    assert [both.open(s) for s in sealed] == [identity()] * 3
    rotated = Vault(LocalKeyRing([("b", KEY_B), ("a", KEY_A)]))
    resealed = [rotated.reseal(s.encode()) for s in sealed]
    assert all(r is not None and r.startswith(b"b:") for r in resealed)
    assert [rotated.reseal(r) for r in resealed if r] == [None] * 3  # idempotent: nothing left to do
    only_b = Vault(LocalKeyRing([("b", KEY_B)]))
    assert [only_b.open(r) for r in resealed if r] == [identity()] * 3
    with pytest.raises(ValueError, match="'a', which is not in the key ring"):
        only_b.open(sealed[0])  # a record left under the removed key says which key it needs


def test_the_old_passphrase_reads_rows_written_before_the_key_ring() -> None:
    passphrase = "uncops-development-victim-data-key"
    # As the old Vault wrote them: a bare Fernet token under SHA-256(passphrase).
    old = Fernet(base64.urlsafe_b64encode(hashlib.sha256(passphrase.encode()).digest()))
    token = old.encrypt(identity().model_dump_json().encode())
    ring = LocalKeyRing.with_legacy([("k1", KEY_A)], passphrase)
    assert ring.key_id(token) == LEGACY_KEY_ID
    assert Vault(ring).open(token) == identity()
    assert ring.primary_key_id == "k1"
    resealed = Vault(ring).reseal(token)
    assert resealed is not None and Vault(LocalKeyRing([("k1", KEY_A)])).open(resealed) == identity()
    # Development with no key ring configured: the passphrase's key seals too, naming itself.
    alone = LocalKeyRing.with_legacy([], passphrase)
    assert alone.encrypt(b"x").startswith(b"legacy:")
    assert alone.decrypt(token) == identity().model_dump_json().encode()


@pytest.mark.parametrize(
    "keys",
    [[], [("k1", b"short")], [("bad id", KEY_A)], [("k1", KEY_A), ("k1", KEY_B)]],
)
def test_a_malformed_ring_is_refused(keys: list[tuple[str, bytes]]) -> None:
    with pytest.raises(ValueError):
        LocalKeyRing(keys)


# ---- documents: envelope encryption (attachments)

DOCUMENT = b"%PDF-1.7 the statement of a victim, page 1 of 12 " * 100
NAME = "cases/c-1/a-1"


def test_a_document_opens_to_its_bytes_and_holds_none_of_them_in_clear() -> None:
    sealed = seal_document(RING, DOCUMENT, NAME)
    assert open_document(RING, sealed, NAME) == DOCUMENT
    assert b"statement" not in sealed and b"%PDF" not in sealed
    assert seal_document(RING, DOCUMENT, NAME) != sealed  # a fresh data key and nonce each time


@pytest.mark.parametrize("where", ["body", "tag", "header", "cut"])
def test_a_tampered_document_is_refused(where: str) -> None:
    sealed = bytearray(seal_document(RING, DOCUMENT, NAME))
    if where == "body":
        sealed[len(sealed) // 2] ^= 1
    elif where == "tag":
        sealed[-1] ^= 1
    elif where == "header":
        sealed[len(b"UNCOPS-DOC1\n") + 10] ^= 1
    else:
        del sealed[-100:]
    with pytest.raises(DocumentError):
        open_document(RING, bytes(sealed), NAME)


def test_a_document_moved_to_another_name_is_refused() -> None:
    with pytest.raises(DocumentError):
        open_document(RING, seal_document(RING, DOCUMENT, NAME), "cases/c-2/a-1")


def test_resealing_a_document_rewraps_its_data_key_only() -> None:
    old = LocalKeyRing([("a", KEY_A)])
    sealed = seal_document(old, DOCUMENT, NAME)
    rotated = LocalKeyRing([("b", KEY_B), ("a", KEY_A)])
    assert document_key_id(rotated, sealed[:DOCUMENT_HEADER_MAX]) == "a"
    resealed = reseal_document(rotated, sealed)
    assert resealed is not None
    assert resealed[-len(DOCUMENT) :] == sealed[-len(DOCUMENT) :]  # the body is not re-encrypted
    assert document_key_id(rotated, resealed[:DOCUMENT_HEADER_MAX]) == "b"
    assert reseal_document(rotated, resealed) is None
    assert open_document(LocalKeyRing([("b", KEY_B)]), resealed, NAME) == DOCUMENT
    with pytest.raises(DocumentError):
        open_document(LocalKeyRing([("b", KEY_B)]), sealed, NAME)
