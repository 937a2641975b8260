"""HTTP routes of misconduct case tracking (the case lifecycle arrives with its own issue)."""

from fastapi import APIRouter

router = APIRouter(prefix="/cases", tags=["cases"])
