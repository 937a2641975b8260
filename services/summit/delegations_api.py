"""Routes of delegations: invitation, registration, review, accreditation, waiting list, rosters."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["delegations"])
