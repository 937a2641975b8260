"""A Member State's delegation to a summit, in plain Python: invitation, registration by the State's focal
point, the secretariat's review, accreditation with badges, confirmation; or declined, withdrawn, expired.

``apply(delegation, command, actor, now, policy)`` is pure: the delegation workflow runs it in its Update
validator (to refuse before anything is written) and in the handler. Whether a registration gets places or
goes to the waiting list depends on every other delegation of the summit, so that part is arithmetic here
(``places_taken``, ``placement``, ``promotions``) that the activity runs under the summit's row lock.

The workflow's state carries counts and functions only: the names of the persons travel once, in the
registration, to the activity that stores them as participants.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.common.actor import Actor as Actor  # part of this module's vocabulary
from services.common.errors import Conflict, InvalidField
from services.summit.domain.plan import SummitTime
from uncops_contracts.envelope import EventPayload
from uncops_contracts.policies import SummitPolicy
from uncops_contracts.reference import is_member_state, member_states
from uncops_contracts.summit import (
    DelegationAccredited,
    DelegationConfirmed,
    DelegationDeclined,
    DelegationExpired,
    DelegationInvited,
    DelegationPromoted,
    DelegationRegistered,
    DelegationRegistrationDue,
    DelegationStatus,
    DelegationWaitlisted,
    DelegationWithdrawn,
    HeadOfDelegation,
)

# ISO 639-1: the languages a delegate speaks, for interpretation and seating.
_ISO_639_1_CODES = (
    "aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu cv cy da "
    "de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu hy hz "
    "ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb lg li ln "
    "lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr nv ny oc oj om or os pa pi "
    "pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr ss st su sv sw ta te tg th ti "
    "tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi yo za zh zu"
)
ISO_639_1 = frozenset(_ISO_639_1_CODES.split())
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=2000)]

# Delegations in these statuses hold places at the summit; the rest do not.
HOLDING = frozenset(
    {
        DelegationStatus.REGISTERED,
        DelegationStatus.UNDER_REVIEW,
        DelegationStatus.ACCREDITED,
        DelegationStatus.CONFIRMED,
    }
)
ENDED = frozenset({DelegationStatus.DECLINED, DelegationStatus.WITHDRAWN})


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------- invitation, places and guests


class InvitationRequest(_Model):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "member_states": ["GHA", "NOR"],
                    "note_verbale": "PD/UNCOPS-III/2030/{member_state}",
                    "registration_deadline": "2030-04-30T23:59:00Z",
                }
            ]
        }
    )

    member_states: Literal["all"] | list[Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]] = Field(
        description='ISO 3166 alpha-3 codes, or "all" for every UN Member State', min_length=1
    )
    note_verbale: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=200)] = (
        Field(
            description="The note verbale's reference; {member_state} is replaced by each State's code, "
            "so each note has its own reference (required when inviting several States)",
            examples=["PD/UNCOPS-III/2030/{member_state}"],
        )
    )
    registration_deadline: SummitTime | None = Field(
        None,
        description="A deadline of this invitation's own (a late invitation); by default the summit's "
        "registration-closes milestone",
    )


class CapacityChange(_Model):
    model_config = ConfigDict(json_schema_extra={"examples": [{"capacity": 450}]})

    capacity: int = Field(ge=1, le=100_000)


class GuestCreate(_Model):
    """A UN official, moderator or other guest the secretariat registers without a delegation."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "full_name": "Ana Lima",
                    "function": "Police Adviser",
                    "organisation": "United Nations, Department of Peace Operations",
                    "languages": ["en", "pt"],
                    "consent_to_list": True,
                }
            ]
        }
    )

    full_name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    function: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    organisation: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] = (
        Field(examples=["United Nations, Department of Peace Operations"])
    )
    languages: list[str] = Field(min_length=1, max_length=8)
    consent_to_list: bool = False


def invited_states(request: InvitationRequest) -> list[str]:
    """The States an invitation names, each once, in order ("all": every UN Member State)."""
    if request.member_states == "all":
        states = sorted(member_states())
    else:
        for index, code in enumerate(request.member_states):
            if not is_member_state(code):
                raise InvalidField(f"member_states[{index}]", f"{code} is not a UN Member State")
        states = list(dict.fromkeys(request.member_states))
    if len(states) > 1 and "{member_state}" not in request.note_verbale:
        raise InvalidField("note_verbale", "give {member_state} in the reference: each note has its own")
    return states


def check_guest_languages(languages: Sequence[str]) -> None:
    for language in languages:
        if language not in ISO_639_1:
            raise InvalidField("languages", f"{language!r} is not an ISO 639-1 language code")


# ---------------------------------------------------------------- registration


class Person(_Model):
    full_name: Text
    function: Text = Field(examples=["Inspector-General of Police"])
    languages: list[str] = Field(min_length=1, max_length=8, examples=[["en", "fr"]])
    organisation: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None
    # Published participant lists show only those who agreed.
    consent_to_list: bool = False


class Head(Person):
    head_of_delegation: HeadOfDelegation


class ProofDocument(_Model):
    """The credentials letter as metadata; the document itself is kept by the secretariat's records."""

    file_name: Text
    media_type: Literal["application/pdf", "image/jpeg", "image/png"]
    size_bytes: int = Field(gt=0, le=20 * 1024 * 1024)
    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class Register(_Model):
    """Registers the delegation, or replaces its list of persons (an edit)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "action": "register",
                    "head": {
                        "full_name": "Jane Doe",
                        "function": "Inspector-General of Police",
                        "languages": ["en"],
                        "consent_to_list": True,
                        "head_of_delegation": "chief_of_police",
                    },
                    "members": [
                        {"full_name": "John Roe", "function": "Police adviser", "languages": ["en", "fr"]}
                    ],
                    "proof_document": {
                        "file_name": "credentials.pdf",
                        "media_type": "application/pdf",
                        "size_bytes": 184320,
                        "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                    },
                }
            ]
        }
    )

    action: Literal["register"] = "register"
    head: Head
    members: list[Person] = Field(default_factory=list, description="The other persons, head excluded")
    proof_document: ProofDocument

    @property
    def persons(self) -> list[Person]:
        return [self.head, *self.members]


class StartReview(_Model):
    model_config = ConfigDict(json_schema_extra={"examples": [{"action": "start_review"}]})

    action: Literal["start_review"] = "start_review"


class Accredit(_Model):
    model_config = ConfigDict(json_schema_extra={"examples": [{"action": "accredit"}]})

    action: Literal["accredit"] = "accredit"


class Confirm(_Model):
    model_config = ConfigDict(json_schema_extra={"examples": [{"action": "confirm"}]})

    action: Literal["confirm"] = "confirm"


class Decline(_Model):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"action": "decline", "reason": "The credentials letter is not signed"}]
        }
    )

    action: Literal["decline"] = "decline"
    reason: Reason


class Withdraw(_Model):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"action": "withdraw", "reason": "The minister cannot travel"}]}
    )

    action: Literal["withdraw"] = "withdraw"
    reason: Reason


Command = Annotated[
    Register | StartReview | Accredit | Confirm | Decline | Withdraw, Field(discriminator="action")
]
ActionCommand = Annotated[
    StartReview | Accredit | Confirm | Decline | Withdraw, Field(discriminator="action")
]


def check_registration(registration: Register, policy: SummitPolicy) -> None:
    """The rules beyond the schema, each refusal naming the field."""
    persons = registration.persons
    if len(persons) > policy.delegation_max_members:
        raise InvalidField(
            "members",
            f"a delegation has at most {policy.delegation_max_members} persons, head included; "
            f"this one has {len(persons)}",
        )
    seen: set[str] = set()
    for index, person in enumerate(persons):
        where = "head" if index == 0 else f"members[{index - 1}]"
        for language in person.languages:
            if language not in ISO_639_1:
                raise InvalidField(f"{where}.languages", f"{language!r} is not an ISO 639-1 language code")
        if len(set(person.languages)) != len(person.languages):
            raise InvalidField(f"{where}.languages", "a language is listed twice")
        name = " ".join(person.full_name.casefold().split())
        if name in seen:
            raise InvalidField(f"{where}.full_name", f"{person.full_name} is listed twice")
        seen.add(name)


# ---------------------------------------------------------------- the delegation


class Delegation(_Model):
    delegation_id: str
    summit_id: str
    member_state: str
    status: DelegationStatus = DelegationStatus.INVITED
    version: int = 1
    note_verbale: str
    invited_at: datetime
    registration_deadline: datetime
    head_of_delegation: HeadOfDelegation | None = None
    members: int = 0
    languages: list[str] = []
    registered_at: datetime | None = None
    waitlisted_at: datetime | None = None
    reason: str | None = None
    # Days before the deadline whose reminder was sent.
    reminded: list[int] = []


STATUS_ACTIONS: dict[DelegationStatus, tuple[str, ...]] = {
    DelegationStatus.INVITED: ("register", "decline"),
    DelegationStatus.REGISTERED: ("register", "start_review", "decline", "withdraw"),
    DelegationStatus.WAITLISTED: ("register", "decline", "withdraw"),
    DelegationStatus.UNDER_REVIEW: ("accredit", "decline", "withdraw"),
    DelegationStatus.ACCREDITED: ("confirm", "withdraw"),
    DelegationStatus.CONFIRMED: ("withdraw",),
    # The secretariat may still register a State late; the State itself no longer can.
    DelegationStatus.EXPIRED: ("register",),
    DelegationStatus.DECLINED: (),
    DelegationStatus.WITHDRAWN: (),
}


def allowed_actions(delegation: Delegation, actor: Actor) -> list[str]:
    actions = STATUS_ACTIONS[delegation.status]
    if actor.role in ("planner", "admin"):
        return list(actions)
    if actor.role != "state_focal_point" or actor.member_state != delegation.member_state:
        return []
    if delegation.status is DelegationStatus.EXPIRED:
        return []
    # The State registers, edits, confirms and withdraws; it declines an invitation, but refusing a
    # registration, the review and accreditation are the secretariat's.
    return [
        a
        for a in actions
        if a in ("register", "confirm", "withdraw")
        or (a == "decline" and delegation.status is DelegationStatus.INVITED)
    ]


def registration_open(delegation: Delegation, actor: Actor, now: datetime) -> bool:
    return actor.role in ("planner", "admin") or now < delegation.registration_deadline


class Outcome(_Model):
    """What the rules decided; for a registration, the activity settles registered or waitlisted."""

    delegation: Delegation
    action: str
    by: str
    # The persons of a registration, for the activity to store as participants.
    persons: list[Person] | None = None
    proof_document: ProofDocument | None = None


def apply(
    delegation: Delegation, command: Command, actor: Actor, now: datetime, policy: SummitPolicy
) -> Outcome:
    action: str = command.action
    if (
        action == "register"
        and actor.role == "state_focal_point"
        and actor.member_state == delegation.member_state
        and not registration_open(delegation, actor, now)
    ):
        raise InvalidField(
            "registration_deadline",
            f"registration closed at {delegation.registration_deadline.isoformat()}; "
            "the secretariat may still register the delegation",
        )
    allowed = allowed_actions(delegation, actor)
    if action not in allowed:
        raise Conflict(
            f"{action} is not allowed on a {delegation.status.value} delegation for {actor.role}",
            state=delegation.status.value,
            allowed_actions=allowed,
        )
    new = delegation.model_copy(deep=True)
    new.version = delegation.version + 1
    outcome = Outcome(delegation=new, action=action, by=actor.subject)
    match command:
        case Register():
            check_registration(command, policy)
            new.head_of_delegation = command.head.head_of_delegation
            new.members = len(command.persons)
            new.languages = sorted({lang for person in command.persons for lang in person.languages})
            new.registered_at = now
            if new.status in (DelegationStatus.INVITED, DelegationStatus.EXPIRED):
                new.status = DelegationStatus.REGISTERED  # or waitlisted: the activity decides
            outcome.persons = command.persons
            outcome.proof_document = command.proof_document
        case StartReview():
            new.status = DelegationStatus.UNDER_REVIEW
        case Accredit():
            new.status = DelegationStatus.ACCREDITED
        case Confirm():
            new.status = DelegationStatus.CONFIRMED
        case Decline(reason=reason):
            new.status = DelegationStatus.DECLINED
            new.reason = reason
        case Withdraw(reason=reason):
            new.status = DelegationStatus.WITHDRAWN
            new.reason = reason
        case _:
            raise InvalidField("action", f"unknown action {action!r}")
    return outcome


# ---------------------------------------------------------------- places and the waiting list


def places_taken(delegations: Iterable[tuple[DelegationStatus | str, int]]) -> int:
    """Persons of the delegations that hold places (registered, under review, accredited, confirmed)."""
    return sum(members for status, members in delegations if DelegationStatus(status) in HOLDING)


def placement(capacity: int, taken_by_others: int, members: int) -> DelegationStatus:
    """A new registration gets places if they are free, else it waits (first come, first served)."""
    if taken_by_others + members <= capacity:
        return DelegationStatus.REGISTERED
    return DelegationStatus.WAITLISTED


def promotions(capacity: int, taken: int, waiting: Sequence[tuple[str, int]]) -> list[str]:
    """Which waitlisted delegations (in waiting order: id, members) move up into the free places.

    The earliest that fit go first; a delegation too large for what is free does not hold back a smaller
    one behind it, and keeps its place at the head of the list for the next places that free up.
    """
    free = capacity - taken
    promoted: list[str] = []
    for delegation_id, members in waiting:
        if members <= free:
            promoted.append(delegation_id)
            free -= members
    return promoted


def badge_number(summit_id: str, sequence: int) -> str:
    """Badge numbers are the summit's id and a sequence number, never reused: e.g. UNCOPS-III-0001."""
    return f"{summit_id}-{sequence:04d}"


def badge_sequence(summit_id: str, badge: str) -> int:
    return int(badge.removeprefix(f"{summit_id}-"))


# ---------------------------------------------------------------- the registration deadline


def registration_deadline(
    milestone_due_at: datetime | None, given: datetime | None, now: datetime
) -> datetime:
    """A deadline given with the invitation (a late invitation gets its own), else the summit's
    registration-closes milestone; it must lie ahead."""
    deadline = given or milestone_due_at
    if deadline is None:
        raise InvalidField(
            "registration_deadline",
            "the summit has no registration-closes milestone: give the deadline with the invitation",
        )
    if deadline <= now:
        raise InvalidField("registration_deadline", f"{deadline.isoformat()} has passed")
    return deadline


# ---------------------------------------------------------------- timers


def next_alarm(d: Delegation, policy: SummitPolicy) -> tuple[datetime, str] | None:
    """(when, "remind:<days>" | "expire") while the State has not registered."""
    if d.status is not DelegationStatus.INVITED:
        return None
    alarms = [(d.registration_deadline, "expire")]
    for days in policy.registration_reminder_days:
        at = d.registration_deadline - timedelta(days=days)
        # A reminder whose moment had passed when the State was invited would only be noise.
        if days not in d.reminded and at > d.invited_at:
            alarms.append((at, f"remind:{days}"))
    return min(alarms)


def fire_alarm(d: Delegation, kind: str, now: datetime, policy: SummitPolicy) -> Outcome | None:
    alarm = next_alarm(d, policy)
    if alarm is None or alarm[1] != kind or now < alarm[0]:
        return None  # the delegation moved on since the timer was set
    new = d.model_copy(deep=True)
    new.version = d.version + 1
    if kind == "expire":
        new.status = DelegationStatus.EXPIRED
    else:
        new.reminded.append(int(kind.split(":")[1]))
    return Outcome(delegation=new, action=f"timer:{kind}", by="system")


# ---------------------------------------------------------------- events


def _base(d: Delegation, now: datetime) -> dict[str, Any]:
    return {
        "delegation_id": d.delegation_id,
        "summit_id": d.summit_id,
        "member_state": d.member_state,
        "status": d.status,
        "occurred_at": now,
        "delegation_version": d.version,
    }


def invited_event(d: Delegation) -> DelegationInvited:
    return DelegationInvited(
        **_base(d, d.invited_at),
        note_verbale=d.note_verbale,
        registration_deadline=d.registration_deadline,
    )


def events_of(
    action: str, d: Delegation, now: datetime, *, position: int = 0, badges: int = 0
) -> list[EventPayload]:
    """The events of a stored change (``d`` as stored); counts and functions only, never names."""
    base = _base(d, now)
    match action:
        case "register":
            # delegation_registered means the delegation holds places; a registration (or an edit) while
            # it waits is delegation_waitlisted only, and delegation_promoted says when it gets places.
            if d.status is DelegationStatus.WAITLISTED:
                return [DelegationWaitlisted(**base, members=d.members, position=position)]
            return [
                DelegationRegistered(
                    **base,
                    head_of_delegation=d.head_of_delegation or HeadOfDelegation.OTHER,
                    members=d.members,
                    languages=d.languages,
                )
            ]
        case "promote":
            return [DelegationPromoted(**base, members=d.members)]
        case "accredit":
            return [DelegationAccredited(**base, badges=badges)]
        case "confirm":
            return [DelegationConfirmed(**base, members=d.members)]
        case "decline":
            return [DelegationDeclined(**base, reason=d.reason or "")]
        case "withdraw":
            return [DelegationWithdrawn(**base, reason=d.reason or "")]
        case "timer:expire":
            return [DelegationExpired(**base, registration_deadline=d.registration_deadline)]
    if action.startswith("timer:remind"):
        return [DelegationRegistrationDue(**base, registration_deadline=d.registration_deadline)]
    return []  # start_review: the secretariat's internal step
