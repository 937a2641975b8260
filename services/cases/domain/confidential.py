"""Victims' identity and contact data, encrypted at rest (Fernet: AES-128-CBC with an HMAC-SHA256).

The key comes from settings (UNCOPS_VICTIM_DATA_KEY) and is never logged; the plaintext exists only in the
request that records it and in an audited reveal. Workflows, events and logs only ever see ciphertext or
pseudonyms.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Annotated

from cryptography.fernet import Fernet, InvalidToken
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]


class VictimIdentity(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Text = Field(min_length=1)
    date_of_birth: str | None = Field(None, max_length=20)
    contact: Text | None = None
    location: Text | None = None
    guardian: Text | None = Field(None, description="For a minor: the parent or guardian")
    notes: Annotated[str, StringConstraints(max_length=5000)] | None = None


class Vault:
    def __init__(self, secret: str) -> None:
        # Any secret string becomes a Fernet key; a real deployment gives a long random one.
        self._fernet = Fernet(base64.urlsafe_b64encode(hashlib.sha256(secret.encode()).digest()))

    def seal(self, identity: VictimIdentity) -> str:
        return self._fernet.encrypt(identity.model_dump_json().encode()).decode()

    def open(self, ciphertext: str | bytes) -> VictimIdentity:
        token = ciphertext if isinstance(ciphertext, bytes) else ciphertext.encode()
        try:
            return VictimIdentity.model_validate(json.loads(self._fernet.decrypt(token)))
        except InvalidToken as exc:
            raise ValueError("victim data cannot be decrypted with this key") from exc

    def __repr__(self) -> str:
        return "Vault(<key hidden>)"
