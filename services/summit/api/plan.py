"""Routes of a summit's plan: its milestones, adding one, completing one."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Response, status
from pydantic import BaseModel

from services.common.app import Route, SessionDep, TemporalDep
from services.common.auth import Principal
from services.common.paging import PAGED, Page, PageDep
from services.summit import queries, service
from services.summit.api.access import PLANNERS, READERS
from services.summit.domain.plan import MilestoneCompletion, MilestoneCreate, MilestoneReschedule
from services.summit.models import MilestoneRow

router = APIRouter(prefix="/summits", tags=["milestones"], route_class=Route)


class MilestonePublic(BaseModel):
    id: str
    summit_id: str
    key: str | None
    title: str
    owner: str | None
    due_at: datetime
    warn_at: datetime
    status: str
    completed_at: datetime | None
    completed_by: str | None
    version: int


def _public(milestone: MilestoneRow) -> MilestonePublic:
    return MilestonePublic.model_validate(milestone, from_attributes=True)


@router.post(
    "/{summit_id}/milestones", status_code=status.HTTP_201_CREATED, summary="Add a milestone to the plan"
)
async def create_milestone(
    summit_id: str,
    body: MilestoneCreate,
    session: SessionDep,
    temporal: TemporalDep,
    response: Response,
    _: Annotated[Principal, PLANNERS],
) -> MilestonePublic:
    """A milestone added to the summit's plan, due on the given date."""
    milestone = await service.add_milestone(session, temporal, summit_id, body)
    response.headers["Location"] = f"/summits/{summit_id}/milestones/{milestone.id}"
    return _public(milestone)


class MilestonePage(Page[MilestonePublic]):
    """One page of a summit's milestones, by due date; ``next_cursor`` fetches the next (null: no more)."""


@router.get(
    "/{summit_id}/milestones", summary="The plan: milestones of a summit, by due date", openapi_extra=PAGED
)
async def list_milestones(
    summit_id: str, session: SessionDep, _: Annotated[Principal, READERS], page: PageDep
) -> MilestonePage:
    """The summit's milestones, by due date, with their status, a page at a time (planners add milestones
    beyond the policy's template, so the plan can grow)."""
    await queries.summit_or_404(session, summit_id)
    milestones, next_cursor = await queries.milestones_page(session, summit_id, page)
    return page.answer(MilestonePage, [_public(m) for m in milestones], next_cursor)


@router.get("/{summit_id}/milestones/{milestone_id}", summary="One milestone of the plan")
async def get_milestone(
    summit_id: str, milestone_id: str, session: SessionDep, _: Annotated[Principal, READERS]
) -> MilestonePublic:
    """One milestone of the summit's plan."""
    return _public(await queries.milestone_or_404(session, summit_id, milestone_id))


@router.post("/{summit_id}/milestones/{milestone_id}/complete", summary="Mark a milestone completed")
async def complete_milestone(
    summit_id: str,
    milestone_id: str,
    body: MilestoneCompletion,
    session: SessionDep,
    temporal: TemporalDep,
    principal: Annotated[Principal, PLANNERS],
) -> MilestonePublic:
    """Marks the milestone completed, with who completed it and when."""
    return _public(
        await service.complete_milestone(session, temporal, summit_id, milestone_id, principal.subject)
    )


@router.post(
    "/{summit_id}/milestones/{milestone_id}/reschedule",
    summary="Move one milestone to a new date (the summit's dates stay); 409 for a completed one",
)
async def reschedule_milestone(
    summit_id: str,
    milestone_id: str,
    body: MilestoneReschedule,
    session: SessionDep,
    temporal: TemporalDep,
    principal: Annotated[Principal, PLANNERS],
) -> MilestonePublic:
    """The milestone's new due date; its warning keeps its distance unless ``warn_before_days`` says
    otherwise, and its status is read again from the new dates."""
    return _public(
        await service.reschedule_milestone(
            session, temporal, summit_id, milestone_id, body, principal.subject
        )
    )
