"""Policy defaults shared by every service: values the software reads from configuration, never hard-codes.

The figures are the best public ones found (see the domain brief); some are unconfirmed, so each one can be
overridden per deployment, e.g. ``CASE_POLICY__PCC_REPLY_WORKING_DAYS=12``.
"""

from datetime import date

from pydantic import BaseModel, ConfigDict, Field


class CasePolicy(BaseModel):
    """Deadlines of misconduct cases and the thresholds of the resolution 2272 review flags."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # The Member State's reply to a notification (will it investigate, who is its NIO). Unconfirmed figure.
    pcc_reply_working_days: int = Field(10, ge=1, le=120)
    # Investigation: SEA 90 days; other Category 1 six months; urgent three months (SG, 2016).
    sea_investigation_days: int = Field(90, ge=1, le=730)
    category_1_investigation_days: int = Field(180, ge=1, le=730)
    urgent_investigation_days: int = Field(90, ge=1, le=730)
    category_2_investigation_days: int = Field(180, ge=1, le=730)
    # Follow-up with the Member State on action and prosecution, until an outcome is reported.
    follow_up_days: int = Field(90, ge=1, le=365)
    # A deadline warns when this share of its time has passed.
    warn_at_fraction: float = Field(0.8, gt=0, lt=1)
    # Whether the investigation clock stops while the case waits on something outside the officer's hands.
    investigation_pauses_allowed: bool = True
    # Working days: weekdays (Monday = 0) that are not worked, and public holidays.
    weekend_days: tuple[int, ...] = (5, 6)
    holidays: tuple[date, ...] = ()
    # Resolution 2272: credible SEA allegations against one unit within the window...
    unit_sea_threshold: int = Field(3, ge=1)
    unit_sea_window_days: int = Field(365, ge=1)
    # ...and a contributing country missing its reply or investigation deadlines on this many open cases.
    pcc_missed_deadlines_threshold: int = Field(2, ge=1)


class PledgePolicy(BaseModel):
    """Follow-up of accepted pledges (the Peacekeeping Capability Readiness System's practice by default)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # First progress report a year after acceptance, then every six months.
    first_report_after_days: int = Field(365, ge=1, le=1095)
    report_every_days: int = Field(182, ge=1, le=730)
    # The State is reminded this long before a report is due (the light turns amber).
    remind_before_days: int = Field(30, ge=0, le=365)
    # After this many missed reports in a row the pledge shows as inactive.
    inactive_after_missed: int = Field(2, ge=1, le=10)
    # An unfulfilled pledge lapses this long after its target date, unless extended.
    lapse_grace_days: int = Field(90, ge=0, le=730)
    # Possible duplicates: same State and kind, titles at least this similar (0..1).
    duplicate_title_similarity: float = Field(0.9, gt=0, le=1)
    # Bulk imports larger than this are refused whole.
    import_max_rows: int = Field(20000, ge=1)


class MilestoneTemplate(BaseModel):
    """A milestone every summit plan starts with, due ``offset_days`` from the summit's first or last day."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str = Field(pattern=r"^[a-z][a-z0-9_]{1,40}$")
    title: str
    anchor: str = Field("starts_on", pattern=r"^(starts_on|ends_on)$")
    offset_days: int = Field(ge=-730, le=730)
    owner: str = Field(description="Who must act: the reminder and the escalation name them")
    warn_before_days: int = Field(14, ge=0, le=365)


class SummitPolicy(BaseModel):
    """The summit plan's template, the delegation limits and the funding-gap alert."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    milestones: tuple[MilestoneTemplate, ...] = (
        MilestoneTemplate(
            key="invitations_sent",
            title="Invitations sent by note verbale",
            offset_days=-120,
            owner="Police Division, Office of the Police Adviser",
        ),
        MilestoneTemplate(
            key="registration_opens",
            title="Registration opens",
            offset_days=-100,
            owner="Conference secretariat",
        ),
        MilestoneTemplate(
            key="registration_closes",
            title="Registration closes",
            offset_days=-30,
            owner="Conference secretariat",
            warn_before_days=10,
        ),
        MilestoneTemplate(
            key="programme_final",
            title="Programme final",
            offset_days=-14,
            owner="Programme committee",
            warn_before_days=7,
        ),
        MilestoneTemplate(
            key="summit_opens",
            title="The summit opens",
            offset_days=0,
            owner="Police Adviser",
            warn_before_days=7,
        ),
        MilestoneTemplate(
            key="chairs_note_published",
            title="Chair's Note published",
            anchor="ends_on",
            offset_days=14,
            owner="Police Adviser",
            warn_before_days=7,
        ),
        MilestoneTemplate(
            key="pledge_follow_up_report",
            title="Pledge follow-up report",
            anchor="ends_on",
            offset_days=365,
            owner="Police Division, Strategic Policy and Development Section",
            warn_before_days=30,
        ),
    )
    # The milestone whose due date closes delegation registration.
    registration_deadline_milestone: str = "registration_closes"
    # States are reminded this many days before registration closes (each figure one reminder).
    registration_reminder_days: tuple[int, ...] = (14, 3)
    # Persons per delegation, head included; and the summit's default overall capacity (per summit too).
    delegation_max_members: int = Field(10, ge=1, le=100)
    default_capacity: int = Field(1200, ge=1)
    # A milestone's warning raises a funding-gap alert when the unfunded share of the budget is above this.
    funding_gap_alert_ratio: float = Field(0.1, ge=0, le=1)
