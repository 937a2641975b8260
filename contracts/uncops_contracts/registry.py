"""Every event type, by its CloudEvents ``type``: one search here finds each event's producer."""

from uncops_contracts.cases import (
    AllegationRecorded,
    CaseChanged,
    CaseDeadlineApproaching,
    CaseDeadlineMissed,
    ReviewFlagRaised,
)
from uncops_contracts.envelope import EventPayload
from uncops_contracts.pledges import (
    PledgeAccepted,
    PledgeAcknowledged,
    PledgeClarificationRequested,
    PledgeFulfilled,
    PledgeLapsed,
    PledgeProgressReported,
    PledgeRejected,
    PledgeReportDue,
    PledgeReportOverdue,
    PledgeSubmitted,
    PledgeWithdrawn,
)
from uncops_contracts.summit import (
    DelegationAccredited,
    DelegationConfirmed,
    DelegationDeclined,
    DelegationExpired,
    DelegationInvited,
    DelegationPromoted,
    DelegationRegistered,
    DelegationRegistrationDue,
    DelegationWaitlisted,
    DelegationWithdrawn,
    FundingGapAlert,
    FundingReceiptReversed,
    FundingReceived,
    MilestoneCompleted,
    MilestoneDue,
    MilestoneOverdue,
    MilestoneRescheduled,
    ProgrammeReleased,
    SummitPlanned,
    SummitRescheduled,
)

EVENT_TYPES: dict[str, type[EventPayload]] = {
    cls.event_type(): cls
    for cls in (
        PledgeSubmitted,
        PledgeAcknowledged,
        PledgeAccepted,
        PledgeRejected,
        PledgeClarificationRequested,
        PledgeProgressReported,
        PledgeReportDue,
        PledgeReportOverdue,
        PledgeFulfilled,
        PledgeLapsed,
        PledgeWithdrawn,
        SummitPlanned,
        SummitRescheduled,
        MilestoneDue,
        MilestoneCompleted,
        MilestoneOverdue,
        MilestoneRescheduled,
        DelegationInvited,
        DelegationRegistrationDue,
        DelegationRegistered,
        DelegationWaitlisted,
        DelegationPromoted,
        DelegationAccredited,
        DelegationConfirmed,
        DelegationDeclined,
        DelegationWithdrawn,
        DelegationExpired,
        ProgrammeReleased,
        FundingReceived,
        FundingReceiptReversed,
        FundingGapAlert,
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
