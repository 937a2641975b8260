"""Every event type, by its CloudEvents ``type``: one search here finds each event's producer."""

from uncops_contracts.cases import (
    AllegationRecorded,
    CaseChanged,
    CaseDeadlineApproaching,
    CaseDeadlineMissed,
    ReviewFlagRaised,
)
from uncops_contracts.envelope import EventPayload
from uncops_contracts.pledges import PledgeSubmitted
from uncops_contracts.summit import MilestoneCompleted, MilestoneDue, MilestoneOverdue

EVENT_TYPES: dict[str, type[EventPayload]] = {
    cls.event_type(): cls
    for cls in (
        PledgeSubmitted,
        MilestoneDue,
        MilestoneCompleted,
        MilestoneOverdue,
        CaseChanged,
        CaseDeadlineApproaching,
        CaseDeadlineMissed,
        ReviewFlagRaised,
        AllegationRecorded,
    )
}


def event_class(event_type: str) -> type[EventPayload]:
    """The payload model of ``event_type``; KeyError for a type this version does not know."""
    return EVENT_TYPES[event_type]
