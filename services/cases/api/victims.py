"""A case's victims: known by pseudonyms; their identity sealed at rest and read only through an audited
reveal."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from services.cases import service
from services.cases.api.cases import OFFICERS, acting, present
from services.cases.domain.case import CasePublic
from services.cases.domain.confidential import Vault, VictimIdentity
from services.common.app import IfMatch, Route, RuntimeDep, SessionDep, TemporalDep, expected_version
from services.common.auth import Principal
from services.common.idempotency import not_replayed

router = APIRouter(prefix="/cases", tags=["victims"], route_class=Route)


def vault(runtime: RuntimeDep) -> Vault:
    return Vault(service.key_ring(runtime.settings))


class NewVictim(BaseModel):
    """A victim known by a pseudonym; the identity, if given, is sealed at rest and never sent back."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"pseudonym": "V-01", "minor": False},
                {
                    "pseudonym": "V-02",
                    "minor": True,
                    "identity": {
                        "name": "A. B.",
                        "date_of_birth": "2011-04-02",
                        "guardian": "C. B. (mother)",
                    },
                },
            ]
        }
    )

    pseudonym: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9 _-]{0,40}$", examples=["V-01"])
    minor: bool
    identity: VictimIdentity | None = None


@router.post(
    "/{case_id}/victims",
    summary="Add a victim, known by a pseudonym; identity encrypted at rest",
    response_model_exclude_unset=True,
)
async def add_victim(
    case_id: str,
    body: NewVictim,
    session: SessionDep,
    temporal: TemporalDep,
    runtime: RuntimeDep,
    response: Response,
    principal: Annotated[Principal, OFFICERS],
    if_match: IfMatch = None,
) -> CasePublic:
    """Adds a victim to a case, known by a pseudonym; an identity given is encrypted at rest and read only
    through an audited reveal. Conduct-and-discipline officers only; answers the case after it."""
    case = await service.add_victim(
        session,
        temporal,
        principal,
        acting(principal),
        case_id,
        body.pseudonym,
        body.minor,
        body.identity,
        vault(runtime),
        expected_version(if_match),
        runtime.settings.case_policy,
    )
    return present(case, principal, response)


class RevealRequest(BaseModel):
    """Why a victim's identity is read: recorded in the case's audit trail."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"purpose": "Referral of the victim to medical assistance"}]}
    )

    purpose: str = Field(min_length=10, max_length=1000, description="Why the identity is needed now")


@router.post(
    "/{case_id}/victims/{victim_id}/reveal",
    summary="Read a victim's identity (audited)",
    description=(
        "Reads a victim's identity for a stated purpose; conduct-and-discipline officers only. "
        "A reading, not a change: each call is an entry of the case's audit trail. Idempotency-Key is not "
        "honoured here: keeping the answer for a replay would store the identity outside its vault."
    ),
)
@not_replayed
async def reveal_victim(
    case_id: str,
    victim_id: str,
    body: RevealRequest,
    session: SessionDep,
    runtime: RuntimeDep,
    principal: Annotated[Principal, OFFICERS],
) -> VictimIdentity:
    return await service.reveal_victim_identity(
        session, principal, acting(principal), case_id, victim_id, body.purpose, vault(runtime)
    )
