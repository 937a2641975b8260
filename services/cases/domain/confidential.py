"""Victims' identity and case attachments, encrypted at rest under a key ring (issue 20).

A ``KeyRing`` is the small KMS-style interface the cases service needs: ``encrypt`` under the primary key,
``decrypt`` under whichever key the token names, ``key_id`` to tell which key sealed a token without
decrypting it. ``LocalKeyRing`` implements it with keys the process holds (from UNCOPS_VICTIM_DATA_KEYS); a
cloud KMS (AWS KMS, Vault transit...) can implement the same Protocol. Every token starts with its key's id,
so a key is retired by re-encrypting what it sealed (``uncops rekey cases``) and then removing it.

Victims' identities are sealed by the ring directly; attachments by envelope encryption: a fresh AES-256-GCM
data key per document, the data key sealed by the ring and kept in the document's header, so re-keying a
document re-seals its 32-byte data key, never re-encrypts its bytes. The plaintext exists only in the
request that records it and in an audited reveal or download; workflows, events and logs only ever see
ciphertext or pseudonyms. Pure: no I/O, keys are handed in.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import struct
from collections.abc import Sequence
from typing import Annotated, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]

# A key id: short, printable, no separator (it is written in clear before each token).
KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
# The old single passphrase's key (UNCOPS_VICTIM_DATA_KEY, development and test only): its tokens were written
# without a key id, so a token without one is read with this key.
LEGACY_KEY_ID = "legacy"
_SEPARATOR = b":"


class KeyRingError(ValueError):
    """A token no key of the ring opens: sealed by a removed key, or altered."""


class KeyRing(Protocol):
    """Encryption keys with ids: the first encrypts, all decrypt. A KMS can implement this."""

    @property
    def primary_key_id(self) -> str: ...

    def encrypt(self, plaintext: bytes) -> bytes:
        """A token (ASCII) naming the primary key's id."""
        ...

    def decrypt(self, token: bytes) -> bytes:
        """The plaintext; KeyRingError if no key of the ring opens the token."""
        ...

    def key_id(self, token: bytes) -> str:
        """The id of the key that sealed ``token`` (read, not verified)."""
        ...


class LocalKeyRing:
    """Keys held in the process: Fernet (AES-128-CBC with HMAC-SHA256) under each 32-byte key."""

    def __init__(self, keys: Sequence[tuple[str, bytes]]) -> None:
        if not keys:
            raise ValueError("a key ring needs at least one key")
        self._fernets: dict[str, Fernet] = {}
        for key_id, key in keys:
            if not KEY_ID.match(key_id):
                raise ValueError(f"key id {key_id!r} must be 1-40 letters, digits, '-' or '_'")
            if len(key) != 32:
                raise ValueError(f"key {key_id!r} must be 32 bytes")
            if key_id in self._fernets:
                raise ValueError(f"key id {key_id!r} appears twice")
            self._fernets[key_id] = Fernet(base64.urlsafe_b64encode(key))
        self._primary = keys[0][0]

    @classmethod
    def with_legacy(cls, keys: Sequence[tuple[str, bytes]], passphrase: str | None) -> LocalKeyRing:
        """The ring, plus the old passphrase's key (decrypt-only unless no other key is given)."""
        if passphrase is None:
            return cls(keys)
        return cls([*keys, (LEGACY_KEY_ID, legacy_key(passphrase))])

    @property
    def primary_key_id(self) -> str:
        return self._primary

    @property
    def key_ids(self) -> list[str]:
        return list(self._fernets)

    def encrypt(self, plaintext: bytes) -> bytes:
        return self._primary.encode() + _SEPARATOR + self._fernets[self._primary].encrypt(plaintext)

    def decrypt(self, token: bytes) -> bytes:
        key_id = self.key_id(token)
        fernet = self._fernets.get(key_id)
        if fernet is None:
            raise KeyRingError(f"sealed under key {key_id!r}, which is not in the key ring")
        body = token.split(_SEPARATOR, 1)[1] if _SEPARATOR in token else token
        try:
            return fernet.decrypt(body)
        except InvalidToken as exc:
            raise KeyRingError(f"cannot be decrypted with key {key_id!r}: altered or another key") from exc

    def key_id(self, token: bytes) -> str:
        # A bare Fernet token (base64url: never a ':') is the legacy key's.
        return (
            token.split(_SEPARATOR, 1)[0].decode("ascii", "replace") if _SEPARATOR in token else LEGACY_KEY_ID
        )

    def __repr__(self) -> str:
        return f"LocalKeyRing(primary={self._primary!r}, keys={self.key_ids}, <keys hidden>)"


def legacy_key(passphrase: str) -> bytes:
    """The key the old single setting derived (a bare SHA-256 of the passphrase): read old rows only."""
    return hashlib.sha256(passphrase.encode()).digest()


def new_key() -> str:
    """A fresh key as UNCOPS_VICTIM_DATA_KEYS takes it: urlsafe base64 of 32 random bytes."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


# ---- victims' identities


class VictimIdentity(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Text = Field(min_length=1)
    date_of_birth: str | None = Field(None, max_length=20)
    contact: Text | None = None
    location: Text | None = None
    guardian: Text | None = Field(None, description="For a minor: the parent or guardian")
    notes: Annotated[str, StringConstraints(max_length=5000)] | None = None


class Vault:
    """Seals and opens victims' identities with a key ring."""

    def __init__(self, ring: KeyRing) -> None:
        self.ring = ring

    def seal(self, identity: VictimIdentity) -> str:
        return self.ring.encrypt(identity.model_dump_json().encode()).decode()

    def open(self, ciphertext: str | bytes) -> VictimIdentity:
        token = ciphertext if isinstance(ciphertext, bytes) else ciphertext.encode()
        try:
            return VictimIdentity.model_validate(json.loads(self.ring.decrypt(token)))
        except KeyRingError as exc:
            raise ValueError(f"victim data cannot be decrypted: {exc}") from exc

    def reseal(self, ciphertext: bytes) -> bytes | None:
        """The same plaintext under the primary key, or None if it is already there (nothing to do)."""
        if self.ring.key_id(ciphertext) == self.ring.primary_key_id:
            return None
        return self.ring.encrypt(self.ring.decrypt(ciphertext))

    def __repr__(self) -> str:
        return "Vault(<key hidden>)"


# ---- documents (attachments): envelope encryption
#
# MAGIC | u16 length of the sealed data key | sealed data key (a ring token) | 12-byte nonce | AES-GCM body.
# The body's associated data is MAGIC + the document's name (its object key), so a document moved to another
# name does not open; the sealed data key is authenticated by the ring's own token.
DOCUMENT_MAGIC = b"UNCOPS-DOC1\n"
_HEADER = struct.Struct(">H")
# Enough to read any document's key id without its body (see document_header_size).
DOCUMENT_HEADER_MAX = len(DOCUMENT_MAGIC) + _HEADER.size + 512


class DocumentError(ValueError):
    """A stored document that does not open: altered, truncated, moved, or sealed by a removed key."""


def seal_document(ring: KeyRing, plaintext: bytes, name: str) -> bytes:
    data_key = AESGCM.generate_key(bit_length=256)
    nonce = os.urandom(12)
    body = AESGCM(data_key).encrypt(nonce, plaintext, DOCUMENT_MAGIC + name.encode())
    return _with_key(ring.encrypt(data_key), nonce + body)


def open_document(ring: KeyRing, sealed: bytes, name: str) -> bytes:
    wrapped, rest = _split(sealed)
    try:
        data_key = ring.decrypt(wrapped)
        return AESGCM(data_key).decrypt(rest[:12], rest[12:], DOCUMENT_MAGIC + name.encode())
    except (KeyRingError, InvalidTag, ValueError) as exc:
        raise DocumentError(f"document {name} does not open: altered, moved or its key removed") from exc


def document_key_id(ring: KeyRing, head: bytes) -> str:
    """The id of the key that sealed a document's data key, from its first bytes (DOCUMENT_HEADER_MAX)."""
    return ring.key_id(_split(head)[0])


def reseal_document(ring: KeyRing, sealed: bytes) -> bytes | None:
    """The document with its data key under the primary key (the body untouched), or None if it is."""
    wrapped, rest = _split(sealed)
    if ring.key_id(wrapped) == ring.primary_key_id:
        return None
    try:
        return _with_key(ring.encrypt(ring.decrypt(wrapped)), rest)
    except KeyRingError as exc:
        raise DocumentError(f"document's data key does not open: {exc}") from exc


def _with_key(wrapped: bytes, rest: bytes) -> bytes:
    return DOCUMENT_MAGIC + _HEADER.pack(len(wrapped)) + wrapped + rest


def _split(sealed: bytes) -> tuple[bytes, bytes]:
    start = len(DOCUMENT_MAGIC) + _HEADER.size
    if not sealed.startswith(DOCUMENT_MAGIC) or len(sealed) < start:
        raise DocumentError("not a sealed document")
    (length,) = _HEADER.unpack_from(sealed, len(DOCUMENT_MAGIC))
    if len(sealed) < start + length:
        raise DocumentError("a sealed document cut short")
    return sealed[start : start + length], sealed[start + length :]
