"""Routes of the agenda: rooms, sessions with conflict checks, programme releases and exports."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["agenda"])
