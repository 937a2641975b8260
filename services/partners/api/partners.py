"""Each partner's scope: the topics it may read beyond the public ones, and who to tell when its webhooks
fail. Set by an administrator; a partner reads its own."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, status
from pydantic import BaseModel, ConfigDict, Field

from services.common.app import Route, SessionDep
from services.common.auth import Principal, Role, require_roles
from services.common.paging import PAGED, Page, PageDep
from services.partners import queries, service
from services.partners.domain import scope
from services.partners.models import PartnerRow

router = APIRouter(prefix="/partners", tags=["partners"], route_class=Route)

ADMINS = require_roles(Role.ADMIN)
PARTNERS = require_roles(Role.PARTNER)
# A token's subject: the partner's id.
PARTNER_ID = r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,199}$"
EMAIL = r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{1,63}$"
PartnerId = Annotated[str, Path(pattern=PARTNER_ID, description="The partner's id: its tokens' subject")]


class PartnerScope(BaseModel):
    """What an administrator sets for a partner."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"topics": ["uncops.cases.v1"], "contact_email": "integration@example.org"}]
        },
    )

    topics: list[str] = Field(
        max_length=20,
        description="Topics granted beyond the public ones (every partner reads those): a restricted topic "
        "such as uncops.cases.v1 is readable only when named here",
    )
    contact_email: str | None = Field(
        None, max_length=320, pattern=EMAIL, description="Told when a webhook subscription starts failing"
    )


class PartnerPublic(BaseModel):
    partner_id: str
    topics: list[str] = Field(description="Topics granted beyond the public ones")
    readable_topics: list[str] = Field(description="Every topic the partner may read: public and granted")
    contact_email: str | None
    updated_at: datetime | None = Field(description="Null: never set, the partner reads the public topics")

    @classmethod
    def of(cls, partner_id: str, row: PartnerRow | None) -> PartnerPublic:
        granted = row.topics if row else []
        return cls(
            partner_id=partner_id,
            topics=granted,
            readable_topics=sorted(scope.readable_topics(granted)),
            contact_email=row.contact_email if row else None,
            updated_at=row.updated_at if row else None,
        )


class PartnerPage(Page[PartnerPublic]):
    """One page of partners with a scope set, by id."""


@router.get("", summary="Partners with a scope set", openapi_extra=PAGED)
async def list_partners(session: SessionDep, _: Annotated[Principal, ADMINS], page: PageDep) -> PartnerPage:
    """The partners an administrator has set a scope for, by id, a page at a time. Administrators only."""
    rows, next_cursor = await queries.partners_page(session, page)
    return page.answer(PartnerPage, [PartnerPublic.of(r.id, r) for r in rows], next_cursor)


@router.get("/{partner_id}", summary="A partner's scope")
async def get_partner(
    partner_id: PartnerId, session: SessionDep, principal: Annotated[Principal, PARTNERS]
) -> PartnerPublic:
    """The topics the partner may read and its contact. A partner reads its own (administrators any); one
    never set reads the public topics."""
    if Role.ADMIN not in principal.roles and principal.subject != partner_id:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "a partner reads its own scope only")
    return PartnerPublic.of(partner_id, await queries.partner(session, partner_id))


@router.put("/{partner_id}", summary="Set a partner's scope")
async def put_partner(
    partner_id: PartnerId, body: PartnerScope, session: SessionDep, principal: Annotated[Principal, ADMINS]
) -> PartnerPublic:
    """Grants the partner the topics named (beyond the public ones) and sets its contact, replacing what
    was set. Narrowing takes effect at once: webhooks stop delivering events of a topic no longer granted.
    Administrators only."""
    row = await service.put_partner(session, principal, partner_id, body.topics, body.contact_email)
    return PartnerPublic.of(partner_id, row)
