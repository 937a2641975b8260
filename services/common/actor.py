"""Who takes a step on a workflow-backed aggregate (a case, a pledge, a delegation): pure, so every domain
module may name it without importing the web or Temporal layers."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Actor(BaseModel):
    """Who takes a step: the token's subject and the role it acts in (``system`` for timers and bridges)."""

    model_config = ConfigDict(extra="forbid")

    subject: str
    role: str
    member_state: str | None = None
