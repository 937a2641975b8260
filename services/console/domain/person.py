"""The signed-in person as the console keeps them in its session cookie: who, in which role, for which State,
in which language, and the token the APIs are called with (the APIs decide what it allows)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

Language = Literal["en", "fr"]
LANGUAGES: tuple[Language, ...] = ("en", "fr")
# What each role finds in the main navigation (the APIs still decide what each may do).
AREAS: dict[str, tuple[str, ...]] = {
    "conduct_officer": ("cases",),
    "state_focal_point": ("cases", "pledges", "summits"),
    "planner": ("pledges", "summits"),
    "partner": (),
    "admin": ("cases", "pledges", "summits"),
}


class Person(BaseModel):
    role: str
    member_state: str | None = None
    name: str = ""
    subject: str
    token: str = Field(repr=False)
    expires_at: int  # the token's exp, seconds since the epoch
    # The identity provider's email claim, when it gives one (notifications, issue 18).
    email: str | None = None

    @property
    def areas(self) -> tuple[str, ...]:
        return AREAS.get(self.role, ())

    def signed_in_at(self, now: float) -> bool:
        return now < self.expires_at

    def session(self) -> dict[str, Any]:
        return self.model_dump()


def language_of(accept_language: str | None) -> Language:
    """The first of the console's languages the browser asks for; English otherwise."""
    for part in (accept_language or "").split(","):
        tag = part.split(";", 1)[0].strip().lower()
        primary = tag.split("-", 1)[0]
        if primary == "fr":
            return "fr"
        if primary == "en":
            return "en"
    return "en"
