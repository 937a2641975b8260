"""Misconduct case rules (services/cases/domain/): intake, the lifecycle through ``apply``, who may do
what, audit diffs, events, the public record, and deadlines firing."""

from __future__ import annotations

import json
import typing
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from services.cases.domain.case import FOCAL_POINT_ACTIONS, STATUS_ACTIONS, Case, allowed_actions
from services.cases.domain.commands import (
    AddAttachment,
    AddInterimMeasure,
    AddSubject,
    AddVictim,
    AssignOfficer,
    CloseCase,
    CloseNotCredible,
    Command,
    ExtendDeadline,
    NameNio,
    PauseDeadline,
    RecordAssistance,
    RecordFinding,
    RecordHearing,
    RecordNationalAction,
    RecordNoteVerbale,
    RecordPaternityClaim,
    RecordProsecutionOutcome,
    RecordUnAction,
    ReferForInvestigation,
    ReferForProsecution,
    ReopenCase,
    ReplyToNotification,
    ReportProgress,
    ResumeDeadline,
    StartAssessment,
    attachment_media_type,
)
from services.cases.domain.deadlines import add_working_days
from services.cases.domain.events import CaseEvent, change_events, public_record, summary
from services.cases.domain.intake import CaseIntake, open_case, reference_number
from services.cases.domain.lifecycle import Outcome, apply, fire_alarm
from services.common.actor import Actor
from services.common.errors import Conflict, InvalidField
from uncops_contracts.cases import (
    AllegationRecorded,
    AllegationType,
    CaseChanged,
    CaseDeadlineApproaching,
    CaseDeadlineMissed,
    CaseStatus,
    ClosureReason,
    DeadlineKind,
    Finding,
    InterimMeasure,
    InvestigatingEntity,
    MisconductCategory,
    NationalAction,
    PersonnelCategory,
    ProsecutionOutcome,
    UnAction,
)
from uncops_contracts.policies import CasePolicy

POLICY = CasePolicy()
T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)  # a Monday
DAY = timedelta(days=1)
OFFICER = Actor(subject="cdo-1", role="conduct_officer")
ADMIN = Actor(subject="admin-1", role="admin")
FOCAL = Actor(subject="fp-1", role="state_focal_point", member_state="XYZ")
PARTNER = Actor(subject="partner-1", role="partner")

CHANGED = CaseChanged.event_type()
PUBLIC = AllegationRecorded.event_type()

# Free text and names that must never reach the public record.
SECRETS = (
    "Victim-Alpha",
    "Victim-Bravo",
    "Subject-Zulu",
    "confidential description of what happened",
    "note about the hearing",
    "progress note text",
    "closure note text",
    "witness was interviewed",
    "NIO Jane Roe",
    "FPU-XYZ-2",
    "finding summary text",
    "Lieutenant",
    "by hotline",
)


def intake(**overrides: Any) -> CaseIntake:
    base: dict[str, Any] = {
        "mission": "MINUSCA",
        "personnel_category": PersonnelCategory.INDIVIDUAL_POLICE_OFFICER,
        "police_contributing_country": "XYZ",
        "allegation_type": AllegationType.SEXUAL_EXPLOITATION,
        "incident_date": date(2025, 2, 1),
        "reported_on": date(2025, 2, 20),
        "how_reported": "by hotline",
        "alleged_perpetrators": 1,
        "victims": 2,
        "victims_minor": 1,
        "description": "confidential description of what happened",
    }
    base.update(overrides)
    return CaseIntake.model_validate(base)


def ipo_case(**overrides: Any) -> Case:
    return open_case("case-ipo", reference_number("MINUSCA", 2025, 1), intake(**overrides), T0)


def fpu_case(**overrides: Any) -> Case:
    values = {"personnel_category": PersonnelCategory.FORMED_POLICE_UNIT, "unit": "FPU-XYZ-2", **overrides}
    return open_case("case-fpu", reference_number("MINUSCA", 2025, 2), intake(**values), T0)


def step(
    case: Case, command: Any, at: datetime = T0, actor: Actor = OFFICER, policy: CasePolicy = POLICY
) -> Case:
    outcome = apply(case, command, actor, at, policy)
    assert outcome.case.version == case.version + 1
    assert outcome.action == command.action
    return outcome.case


def under_investigation(case: Case | None = None, at: datetime = T0) -> Case:
    case = step(case or ipo_case(), StartAssessment(), at)
    return step(case, ReferForInvestigation(), at)


def sample_commands() -> dict[str, Any]:
    """One valid command for every action."""
    on = date(2025, 3, 1)
    return {
        "start_assessment": StartAssessment(),
        "close_not_credible": CloseNotCredible(reason="no credible source"),
        "refer_for_investigation": ReferForInvestigation(),
        "reply_to_notification": ReplyToNotification(
            investigates=True, national_investigation_officer="NIO-1"
        ),
        "name_nio": NameNio(national_investigation_officer="NIO-2"),
        "report_progress": ReportProgress(note="witnesses interviewed"),
        "record_finding": RecordFinding(finding=Finding.SUBSTANTIATED),
        "add_interim_measure": AddInterimMeasure(measure=InterimMeasure.PAYMENT_SUSPENSION, on=on),
        "record_un_action": RecordUnAction(taken=UnAction.REPATRIATION, on=on),
        "record_national_action": RecordNationalAction(taken=NationalAction.DISMISSAL, on=on),
        "refer_for_prosecution": ReferForProsecution(on=on),
        "record_hearing": RecordHearing(on=on, court="High Court"),
        "record_prosecution_outcome": RecordProsecutionOutcome(outcome=ProsecutionOutcome.ACQUITTED, on=on),
        "close": CloseCase(reason=ClosureReason.ACTION_COMPLETED, note="all done"),
        "reopen": ReopenCase(reason="new evidence"),
        "extend_deadline": ExtendDeadline(kind=DeadlineKind.INVESTIGATION, days=10, reason="more time"),
        "pause_deadline": PauseDeadline(kind=DeadlineKind.INVESTIGATION, reason="awaiting the State"),
        "resume_deadline": ResumeDeadline(kind=DeadlineKind.INVESTIGATION),
        "record_note_verbale": RecordNoteVerbale(direction="sent", reference="NV-1", on=on),
        "add_victim": AddVictim(victim_id="v-9", pseudonym="Victim-Charlie", minor=False),
        "add_subject": AddSubject(subject_id="s-9", pseudonym="Subject-Yankee"),
        "record_paternity_claim": RecordPaternityClaim(status="received", on=on),
        "record_assistance": RecordAssistance(kind="medical", on=on),
        "add_attachment": AddAttachment(
            attachment_id="a-1",
            filename="report.pdf",
            sha256="0" * 64,
            size=10,
            content_type="application/pdf",
        ),
        "assign_officer": AssignOfficer(officer="cdo-2"),
    }


ALL_ACTIONS = sorted(sample_commands())


def test_sample_commands_cover_every_command_of_the_union() -> None:
    union = typing.get_args(Command)[0]
    names = {cls.model_fields["action"].default for cls in typing.get_args(union)}
    assert names == set(ALL_ACTIONS)
    every_listed = {a for actions in STATUS_ACTIONS.values() for a in actions}
    assert every_listed <= names
    assert set(STATUS_ACTIONS) == set(CaseStatus)


# ---------------------------------------------------------------- intake


def test_a_valid_intake_opens_a_received_case() -> None:
    case = ipo_case()
    assert case.status is CaseStatus.RECEIVED
    assert case.version == 1
    assert case.category is MisconductCategory.CATEGORY_1
    assert (case.victims_adult, case.victims_minor) == (1, 1)
    assert case.reference == "MINUSCA-2025-0001"
    assert case.deadlines == []


def test_more_minors_than_victims_is_refused_naming_victims_minor() -> None:
    with pytest.raises(InvalidField) as caught:
        intake(victims=1, victims_minor=2)
    assert caught.value.field == "victims_minor"
    assert caught.value.status_code == 422


def test_an_incident_after_the_report_is_refused() -> None:
    with pytest.raises(InvalidField) as caught:
        intake(incident_date=date(2025, 2, 21), reported_on=date(2025, 2, 20))
    assert caught.value.field == "incident_date"


@pytest.mark.parametrize(
    ("field", "dates"),
    [
        ("reported_on", {"reported_on": date(329, 9, 2), "incident_date": None}),
        ("incident_date", {"incident_date": date(1948, 5, 28)}),
    ],
)
def test_a_date_before_the_first_peace_operation_is_refused(field: str, dates: dict[str, Any]) -> None:
    with pytest.raises(InvalidField) as caught:
        intake(**dates)
    assert caught.value.field == field


def test_the_public_record_of_the_earliest_case_names_its_month() -> None:
    case = ipo_case(incident_date=date(1948, 5, 29), reported_on=date(1948, 6, 1))
    record = public_record(case)
    assert (record.incident, record.reported) == ("1948-05", "1948-06")


def test_an_incident_on_the_report_day_is_fine() -> None:
    assert intake(incident_date=date(2025, 2, 20)).incident_date == date(2025, 2, 20)


def test_a_formed_police_unit_case_must_name_its_unit() -> None:
    with pytest.raises(InvalidField) as caught:
        intake(personnel_category=PersonnelCategory.FORMED_POLICE_UNIT)
    assert caught.value.field == "unit"


@pytest.mark.parametrize(
    ("allegation", "category"),
    [
        (AllegationType.SEXUAL_ABUSE, MisconductCategory.CATEGORY_2),
        (AllegationType.ASSAULT, MisconductCategory.CATEGORY_2),
        (AllegationType.HARASSMENT, MisconductCategory.CATEGORY_1),
    ],
)
def test_a_category_inconsistent_with_the_allegation_is_refused(
    allegation: AllegationType, category: MisconductCategory
) -> None:
    with pytest.raises(InvalidField) as caught:
        intake(allegation_type=allegation, category=category)
    assert caught.value.field == "category"


def test_a_consistent_category_or_none_is_accepted_and_derived() -> None:
    assert intake(allegation_type=AllegationType.HARASSMENT, category="category_2").category is (
        MisconductCategory.CATEGORY_2
    )
    case = ipo_case(allegation_type=AllegationType.CURFEW_VIOLATION)
    assert case.category is MisconductCategory.CATEGORY_2


# ---------------------------------------------------------------- the IPO lifecycle


def test_ipo_case_from_report_to_closure() -> None:
    case = ipo_case()
    case = step(case, StartAssessment())
    assert case.status is CaseStatus.PRELIMINARY_ASSESSMENT

    case = step(case, ReferForInvestigation(), T0 + DAY)
    assert case.status is CaseStatus.UNDER_INVESTIGATION
    assert case.investigating_entity is InvestigatingEntity.OIOS
    assert case.investigation_started_at == T0 + DAY
    investigation = case.deadline(DeadlineKind.INVESTIGATION)
    assert investigation is not None
    assert investigation.owner == "oios"
    assert investigation.due_at == T0 + DAY + timedelta(days=90)  # SEA
    assert investigation.warn_at == T0 + DAY + timedelta(days=72)

    case = step(case, ReportProgress(note="progress note text"), T0 + 10 * DAY)
    case = step(
        case, RecordFinding(finding=Finding.SUBSTANTIATED, summary="finding summary text"), T0 + 31 * DAY
    )
    assert case.status is CaseStatus.ACTION_PENDING
    assert case.finding is Finding.SUBSTANTIATED
    assert case.deadline(DeadlineKind.INVESTIGATION) is None
    follow_up = case.deadline(DeadlineKind.FOLLOW_UP)
    assert follow_up is not None and follow_up.due_at == T0 + 31 * DAY + timedelta(days=90)
    assert follow_up.owner == "police_contributing_country"
    assert public_record(case).investigation_days == 30

    case = step(case, RecordUnAction(taken=UnAction.REPATRIATION, on=date(2025, 4, 5)), T0 + 33 * DAY)
    assert case.deadline(DeadlineKind.FOLLOW_UP) is not None  # a UN action is not the State's outcome
    case = step(
        case, RecordNationalAction(taken=NationalAction.DISMISSAL, on=date(2025, 4, 6)), T0 + 34 * DAY
    )
    assert case.deadline(DeadlineKind.FOLLOW_UP) is None
    assert case.status is CaseStatus.ACTION_PENDING

    case = step(case, ReferForProsecution(on=date(2025, 4, 7)), T0 + 35 * DAY)
    assert case.status is CaseStatus.PROSECUTION
    assert case.referred_for_prosecution
    follow_up = case.deadline(DeadlineKind.FOLLOW_UP)
    assert follow_up is not None and follow_up.due_at == T0 + 125 * DAY

    case = step(
        case,
        RecordHearing(on=date(2025, 5, 1), court="High Court", charges="sexual exploitation"),
        T0 + 60 * DAY,
    )
    assert case.prosecution is not None and case.prosecution.court == "High Court"
    follow_up = case.deadline(DeadlineKind.FOLLOW_UP)
    assert follow_up is not None and follow_up.due_at == T0 + 150 * DAY  # news restarts the reminder clock

    case = step(
        case,
        RecordProsecutionOutcome(
            outcome=ProsecutionOutcome.CONVICTED, on=date(2025, 6, 1), sentence="2 years"
        ),
        T0 + 90 * DAY,
    )
    assert case.status is CaseStatus.PROSECUTION_CONCLUDED
    assert case.deadlines == []
    assert case.prosecution is not None and case.prosecution.outcome is ProsecutionOutcome.CONVICTED

    case = step(case, CloseCase(reason=ClosureReason.PROSECUTION_CONCLUDED, note="closure note text"))
    assert case.status is CaseStatus.CLOSED
    assert case.closure_reason is ClosureReason.PROSECUTION_CONCLUDED
    assert case.version == 11

    case = step(case, ReopenCase(reason="new evidence came in"), T0 + 100 * DAY)
    assert case.status is CaseStatus.PRELIMINARY_ASSESSMENT
    assert case.closure_reason is None and case.closure_note is None
    assert case.entries("reopened")[0].note == "new evidence came in"
    assert case.version == 12


def test_a_conviction_records_its_sentence() -> None:
    with pytest.raises(InvalidField) as caught:
        RecordProsecutionOutcome(outcome=ProsecutionOutcome.CONVICTED, on=date(2025, 6, 1))
    assert caught.value.field == "sentence"


def test_a_finding_not_substantiated_closes_the_case() -> None:
    case = under_investigation()
    case = step(case, RecordFinding(finding=Finding.NOT_SUBSTANTIATED), T0 + 40 * DAY)
    assert case.status is CaseStatus.CLOSED
    assert case.closure_reason is ClosureReason.NOT_SUBSTANTIATED
    assert case.deadlines == []
    assert case.investigation_completed_at == T0 + 40 * DAY
    assert public_record(case).result is Finding.NOT_SUBSTANTIATED
    assert public_record(case).investigation_status == "completed"


def test_close_not_credible_from_received_and_from_assessment() -> None:
    for case in (ipo_case(), step(ipo_case(), StartAssessment())):
        closed = step(case, CloseNotCredible(reason="anonymous and unverifiable"))
        assert closed.status is CaseStatus.CLOSED
        assert closed.closure_reason is ClosureReason.NOT_CREDIBLE
        assert public_record(closed).investigation_status == "closed_not_credible"


@pytest.mark.parametrize("reason", [ClosureReason.NOT_CREDIBLE, ClosureReason.NOT_SUBSTANTIATED])
def test_close_refuses_the_reasons_that_have_their_own_step(reason: ClosureReason) -> None:
    case = step(under_investigation(), RecordFinding(finding=Finding.SUBSTANTIATED))
    with pytest.raises(InvalidField) as caught:
        apply(case, CloseCase(reason=reason, note="closing"), OFFICER, T0, POLICY)
    assert caught.value.field == "reason"


def test_close_and_reopen_then_investigate_again() -> None:
    case = step(under_investigation(), RecordFinding(finding=Finding.SUBSTANTIATED), T0 + 10 * DAY)
    case = step(case, CloseCase(reason=ClosureReason.ACTION_COMPLETED, note="repatriated"), T0 + 20 * DAY)
    assert case.status is CaseStatus.CLOSED and case.deadlines == []
    assert allowed_actions(case, OFFICER) == list(STATUS_ACTIONS[CaseStatus.CLOSED])
    case = step(case, ReopenCase(reason="new allegation"), T0 + 30 * DAY)
    case = step(case, ReferForInvestigation(), T0 + 31 * DAY)
    assert case.status is CaseStatus.UNDER_INVESTIGATION
    investigation = case.deadline(DeadlineKind.INVESTIGATION)
    assert investigation is not None and investigation.due_at == T0 + 121 * DAY


def test_a_reinvestigated_case_never_shows_negative_days_taken_in_public_data() -> None:
    # Closed after a finding, reopened, referred again: the new investigation is running. The public record
    # must show it under investigation, not report a negative number of days taken (the old completion
    # date precedes the new start) nor the old investigation as completed.
    case = step(under_investigation(), RecordFinding(finding=Finding.SUBSTANTIATED), T0 + 10 * DAY)
    case = step(case, CloseCase(reason=ClosureReason.ACTION_COMPLETED, note="repatriated"), T0 + 20 * DAY)
    case = step(case, ReopenCase(reason="new allegation"), T0 + 30 * DAY)
    case = step(case, ReferForInvestigation(), T0 + 31 * DAY)
    assert case.status is CaseStatus.UNDER_INVESTIGATION
    record = public_record(case)
    shown = (record.investigation_status, record.investigation_days)
    assert shown[0] == "under_investigation" and (shown[1] is None or shown[1] >= 0), shown


def test_an_ipo_case_cannot_be_referred_to_its_country() -> None:
    case = step(ipo_case(), StartAssessment())
    with pytest.raises(InvalidField) as caught:
        apply(
            case,
            ReferForInvestigation(entity=InvestigatingEntity.POLICE_CONTRIBUTING_COUNTRY),
            OFFICER,
            T0,
            POLICY,
        )
    assert caught.value.field == "entity"


def test_category_2_goes_to_the_mission_for_180_days() -> None:
    case = under_investigation(ipo_case(allegation_type=AllegationType.HARASSMENT))
    assert case.investigating_entity is InvestigatingEntity.MISSION
    investigation = case.deadline(DeadlineKind.INVESTIGATION)
    assert investigation is not None
    assert investigation.due_at == T0 + timedelta(days=180)
    assert investigation.owner == "mission"


def test_urgent_referral_shortens_the_investigation() -> None:
    case = step(ipo_case(allegation_type=AllegationType.ASSAULT), StartAssessment())
    case = step(case, ReferForInvestigation(urgent=True))
    assert case.urgent
    investigation = case.deadline(DeadlineKind.INVESTIGATION)
    assert investigation is not None and investigation.due_at == T0 + timedelta(days=90)


def test_other_category_1_runs_six_months() -> None:
    case = under_investigation(ipo_case(allegation_type=AllegationType.ASSAULT))
    investigation = case.deadline(DeadlineKind.INVESTIGATION)
    assert investigation is not None and investigation.due_at == T0 + timedelta(days=180)


# ---------------------------------------------------------------- the FPU lifecycle


def referred_fpu(at: datetime = T0) -> Case:
    case = step(fpu_case(), StartAssessment(), at)
    return step(case, ReferForInvestigation(), at)


def test_fpu_case_is_referred_to_its_country_with_a_reply_deadline() -> None:
    case = referred_fpu()
    assert case.status is CaseStatus.AWAITING_PCC_REPLY
    assert case.investigating_entity is None
    reply = case.deadline(DeadlineKind.PCC_REPLY)
    assert reply is not None
    assert reply.owner == "police_contributing_country"
    assert reply.due_at == add_working_days(T0, 10, POLICY) == T0 + 14 * DAY
    assert reply.warn_at == T0 + timedelta(days=14 * 0.8)
    assert public_record(case).investigation_status == "pending_member_state_reply"


def test_the_reply_deadline_follows_the_policy_calendar() -> None:
    policy = CasePolicy(pcc_reply_working_days=5, holidays=(date(2025, 3, 5),))
    case = step(fpu_case(), StartAssessment())
    case = step(case, ReferForInvestigation(), policy=policy)
    reply = case.deadline(DeadlineKind.PCC_REPLY)
    assert reply is not None and reply.due_at == T0 + 8 * DAY  # Tuesday of the next week


def test_a_country_that_investigates_names_its_nio() -> None:
    case = referred_fpu()
    with pytest.raises(InvalidField) as caught:
        apply(case, ReplyToNotification(investigates=True), FOCAL, T0 + DAY, POLICY)
    assert caught.value.field == "national_investigation_officer"
    assert case.status is CaseStatus.AWAITING_PCC_REPLY  # nothing changed

    case = step(
        case,
        ReplyToNotification(investigates=True, national_investigation_officer="NIO Jane Roe"),
        T0 + 5 * DAY,
        actor=FOCAL,
    )
    assert case.status is CaseStatus.UNDER_INVESTIGATION
    assert case.investigating_entity is InvestigatingEntity.POLICE_CONTRIBUTING_COUNTRY
    assert case.national_investigation_officer == "NIO Jane Roe"
    assert case.deadline(DeadlineKind.PCC_REPLY) is None
    investigation = case.deadline(DeadlineKind.INVESTIGATION)
    assert investigation is not None
    assert investigation.owner == "police_contributing_country"
    assert investigation.due_at == T0 + 95 * DAY
    assert case.entries("pcc_reply")[0].value == "investigates"
    assert case.entries("pcc_reply")[0].by_role == "state_focal_point"

    # The State's focal point records its own finding.
    case = step(case, RecordFinding(finding=Finding.SUBSTANTIATED), T0 + 50 * DAY, actor=FOCAL)
    assert case.status is CaseStatus.ACTION_PENDING


def test_a_joint_investigation() -> None:
    case = step(
        referred_fpu(),
        ReplyToNotification(investigates=True, joint=True, national_investigation_officer="NIO-7"),
        actor=FOCAL,
    )
    assert case.investigating_entity is InvestigatingEntity.JOINT
    assert "record_finding" in allowed_actions(case, FOCAL)


def test_a_country_that_declines_leaves_the_investigation_to_oios() -> None:
    case = step(referred_fpu(), ReplyToNotification(investigates=False), T0 + 3 * DAY, actor=FOCAL)
    assert case.status is CaseStatus.UNDER_INVESTIGATION
    assert case.investigating_entity is InvestigatingEntity.OIOS
    assert case.national_investigation_officer is None
    assert case.entries("pcc_reply")[0].value == "declines"
    investigation = case.deadline(DeadlineKind.INVESTIGATION)
    assert investigation is not None and investigation.owner == "oios"
    assert "record_finding" not in allowed_actions(case, FOCAL)


def test_name_nio_later() -> None:
    case = step(referred_fpu(), ReplyToNotification(investigates=False), actor=FOCAL)
    case = step(case, NameNio(national_investigation_officer="NIO-8"), actor=FOCAL)
    assert case.national_investigation_officer == "NIO-8"


# ---------------------------------------------------------------- deadlines through apply


def test_extend_pause_and_resume_through_apply() -> None:
    case = under_investigation()
    case = step(case, ExtendDeadline(kind=DeadlineKind.INVESTIGATION, days=30, reason="witness abroad"))
    investigation = case.deadline(DeadlineKind.INVESTIGATION)
    assert investigation is not None and investigation.due_at == T0 + 120 * DAY
    assert investigation.extensions == ["+30d: witness abroad"]

    case = step(
        case, PauseDeadline(kind=DeadlineKind.INVESTIGATION, reason="awaiting the State"), T0 + 10 * DAY
    )
    assert case.entries("deadline_paused")[0].value == "investigation"
    with pytest.raises(InvalidField):
        apply(case, PauseDeadline(kind=DeadlineKind.INVESTIGATION, reason="again"), OFFICER, T0, POLICY)
    case = step(case, ResumeDeadline(kind=DeadlineKind.INVESTIGATION), T0 + 30 * DAY)
    investigation = case.deadline(DeadlineKind.INVESTIGATION)
    assert investigation is not None and investigation.due_at == T0 + 140 * DAY
    with pytest.raises(InvalidField):
        apply(case, ResumeDeadline(kind=DeadlineKind.INVESTIGATION), OFFICER, T0, POLICY)


def test_only_the_investigation_pauses_and_only_if_the_policy_allows() -> None:
    case = referred_fpu()
    with pytest.raises(InvalidField) as caught:
        apply(case, PauseDeadline(kind=DeadlineKind.PCC_REPLY, reason="closed office"), OFFICER, T0, POLICY)
    assert caught.value.field == "kind"
    case = under_investigation()
    with pytest.raises(InvalidField):
        apply(
            case,
            PauseDeadline(kind=DeadlineKind.INVESTIGATION, reason="waiting"),
            OFFICER,
            T0,
            CasePolicy(investigation_pauses_allowed=False),
        )


def test_a_deadline_the_case_does_not_have_cannot_be_extended() -> None:
    with pytest.raises(InvalidField) as caught:
        apply(
            ipo_case(),
            ExtendDeadline(kind=DeadlineKind.FOLLOW_UP, days=10, reason="more time"),
            OFFICER,
            T0,
            POLICY,
        )
    assert caught.value.field == "kind"


# ---------------------------------------------------------------- who may do what, when


def case_in(status: CaseStatus) -> Case:
    return ipo_case().model_copy(update={"status": status})


@pytest.mark.parametrize("status", list(CaseStatus))
def test_every_action_not_allowed_in_a_status_is_refused_with_state_and_allowed_actions(
    status: CaseStatus,
) -> None:
    case = case_in(status)
    refused = [a for a in ALL_ACTIONS if a not in STATUS_ACTIONS[status]]
    assert refused  # every status refuses something
    for action in refused:
        with pytest.raises(Conflict) as caught:
            apply(case, sample_commands()[action], OFFICER, T0, POLICY)
        assert caught.value.status_code == 409
        assert caught.value.state == status.value
        assert caught.value.allowed_actions == list(STATUS_ACTIONS[status])
        assert action in caught.value.detail


@pytest.mark.parametrize("status", list(CaseStatus))
def test_officers_and_admins_may_do_everything_a_status_allows(status: CaseStatus) -> None:
    case = case_in(status)
    assert allowed_actions(case, OFFICER) == list(STATUS_ACTIONS[status])
    assert allowed_actions(case, ADMIN) == list(STATUS_ACTIONS[status])


@pytest.mark.parametrize("status", list(CaseStatus))
def test_a_partner_can_do_nothing(status: CaseStatus) -> None:
    case = case_in(status)
    assert allowed_actions(case, PARTNER) == []
    for action in ALL_ACTIONS:
        with pytest.raises(Conflict) as caught:
            apply(case, sample_commands()[action], PARTNER, T0, POLICY)
        assert caught.value.allowed_actions == []


@pytest.mark.parametrize("status", list(CaseStatus))
def test_a_focal_point_only_does_the_states_part(status: CaseStatus) -> None:
    case = case_in(status).model_copy(
        update={"investigating_entity": InvestigatingEntity.POLICE_CONTRIBUTING_COUNTRY}
    )
    allowed = allowed_actions(case, FOCAL)
    assert set(allowed) <= FOCAL_POINT_ACTIONS
    assert allowed == [a for a in STATUS_ACTIONS[status] if a in FOCAL_POINT_ACTIONS]
    for action in ALL_ACTIONS:
        if action in allowed:
            continue
        with pytest.raises(Conflict) as caught:
            apply(case, sample_commands()[action], FOCAL, T0, POLICY)
        assert caught.value.allowed_actions == allowed


@pytest.mark.parametrize(
    ("entity", "may"),
    [
        (InvestigatingEntity.POLICE_CONTRIBUTING_COUNTRY, True),
        (InvestigatingEntity.JOINT, True),
        (InvestigatingEntity.OIOS, False),
        (InvestigatingEntity.MISSION, False),
        (None, False),
    ],
)
def test_a_focal_point_records_a_finding_only_when_its_country_investigates(
    entity: InvestigatingEntity | None, may: bool
) -> None:
    case = case_in(CaseStatus.UNDER_INVESTIGATION).model_copy(update={"investigating_entity": entity})
    assert ("record_finding" in allowed_actions(case, FOCAL)) is may
    command = RecordFinding(finding=Finding.NOT_SUBSTANTIATED)
    if may:
        assert apply(case, command, FOCAL, T0, POLICY).case.status is CaseStatus.CLOSED
    else:
        with pytest.raises(Conflict):
            apply(case, command, FOCAL, T0, POLICY)
    # The officer always may.
    assert apply(case, command, OFFICER, T0, POLICY).case.finding is Finding.NOT_SUBSTANTIATED


def test_a_refused_command_changes_nothing() -> None:
    case = ipo_case()
    snapshot = case.model_dump()
    with pytest.raises(Conflict):
        apply(case, RecordFinding(finding=Finding.SUBSTANTIATED), OFFICER, T0, POLICY)
    with pytest.raises(InvalidField):
        apply(
            step(case, StartAssessment()),
            ReferForInvestigation(entity=InvestigatingEntity.POLICE_CONTRIBUTING_COUNTRY),
            OFFICER,
            T0,
            POLICY,
        )
    assert case.model_dump() == snapshot


# ---------------------------------------------------------------- version, audit, events


def test_version_increments_by_one_per_change_and_apply_does_not_mutate() -> None:
    case = ipo_case()
    versions = [case.version]
    for command in (
        StartAssessment(),
        AssignOfficer(officer="cdo-2"),
        ReferForInvestigation(),
        ReportProgress(note="half way"),
        RecordFinding(finding=Finding.SUBSTANTIATED),
    ):
        before = case.model_dump()
        outcome = apply(case, command, OFFICER, T0, POLICY)
        assert case.model_dump() == before
        case = outcome.case
        versions.append(case.version)
    assert versions == [1, 2, 3, 4, 5, 6]


def test_audit_holds_only_the_changed_fields() -> None:
    case = ipo_case()
    outcome = apply(case, StartAssessment(), OFFICER, T0, POLICY)
    assert outcome.audit_before == {"status": "received"}
    assert outcome.audit_after == {"status": "preliminary_assessment"}

    outcome = apply(case, AssignOfficer(officer="cdo-2"), OFFICER, T0, POLICY)
    assert outcome.audit_before == {"assigned_officer": None}
    assert outcome.audit_after == {"assigned_officer": "cdo-2"}

    referred = apply(outcome.case, StartAssessment(), OFFICER, T0, POLICY).case
    outcome = apply(referred, ReferForInvestigation(), OFFICER, T0, POLICY)
    assert (
        set(outcome.audit_before)
        == set(outcome.audit_after)
        == {
            "status",
            "investigating_entity",
            "investigation_started_at",
            "deadlines",
        }
    )
    assert outcome.audit_before["deadlines"] == []
    assert outcome.audit_after["deadlines"][0]["kind"] == "investigation"
    assert "version" not in outcome.audit_after


def event_types(outcome: Outcome) -> list[str]:
    return [e.event_type() for e in outcome.events]


def test_every_change_emits_case_changed_and_the_public_record_only_when_it_changed() -> None:
    case = ipo_case()
    start = apply(case, StartAssessment(), OFFICER, T0, POLICY)
    # received -> preliminary assessment: the public record does not change
    assert event_types(start) == [CHANGED]
    changed = start.events[0]
    assert isinstance(changed, CaseChanged)
    assert changed.from_status is CaseStatus.RECEIVED
    assert changed.to_status is CaseStatus.PRELIMINARY_ASSESSMENT
    assert changed.case_version == 2
    assert changed.action == "start_assessment"
    assert changed.actor_role == "conduct_officer"

    assign = apply(start.case, AssignOfficer(officer="cdo-9"), OFFICER, T0, POLICY)
    assert event_types(assign) == [CHANGED]
    note = apply(
        start.case,
        RecordNoteVerbale(direction="sent", reference="NV-1", on=date(2025, 3, 1)),
        OFFICER,
        T0,
        POLICY,
    )
    assert event_types(note) == [CHANGED]

    refer = apply(start.case, ReferForInvestigation(), OFFICER, T0, POLICY)
    assert event_types(refer) == [CHANGED, PUBLIC]
    public = refer.events[1]
    assert isinstance(public, AllegationRecorded)
    assert public == public_record(refer.case)
    assert public.investigation_status == "under_investigation"

    measure = apply(
        refer.case,
        AddInterimMeasure(measure=InterimMeasure.PAYMENT_SUSPENSION, on=date(2025, 3, 4)),
        OFFICER,
        T0,
        POLICY,
    )
    assert event_types(measure) == [CHANGED, PUBLIC]
    measured = measure.events[1]
    assert isinstance(measured, AllegationRecorded)
    assert measured.interim_measures == [InterimMeasure.PAYMENT_SUSPENSION]


def test_an_outcome_carries_its_events_as_type_and_payload() -> None:
    # The shape the store activity's recorded inputs hold (tests/workflows/histories/case_*.json): typed
    # events must keep it, or a change scheduled by an older worker could not be stored by a newer one.
    assessed = apply(ipo_case(), StartAssessment(), OFFICER, T0, POLICY).case
    outcome = apply(assessed, ReferForInvestigation(), OFFICER, T0, POLICY)
    wire = json.loads(outcome.model_dump_json())
    assert [e["type"] for e in wire["events"]] == [CHANGED, PUBLIC]
    assert wire["events"][0]["payload"] == outcome.events[0].model_dump(mode="json")
    assert Outcome.model_validate(wire) == outcome


def test_opening_a_case_emits_both_events() -> None:
    case = ipo_case()
    events = change_events(None, case, "open", OFFICER, T0)
    assert [e.event_type() for e in events] == [CHANGED, PUBLIC]
    assert events[0].model_dump(mode="json")["from_status"] is None


def full_case() -> tuple[Case, list[CaseEvent]]:
    """A case carrying every kind of name and free text there is, and the events of every step."""
    case = fpu_case(description="confidential description of what happened")
    events = change_events(None, case, "open", OFFICER, T0)
    steps: list[tuple[Any, Actor, datetime]] = [
        (AddVictim(victim_id="v-1", pseudonym="Victim-Alpha", minor=True, has_identity=True), OFFICER, T0),
        (AddVictim(victim_id="v-2", pseudonym="Victim-Bravo", minor=False), OFFICER, T0),
        (AddSubject(subject_id="s-1", pseudonym="Subject-Zulu", rank="Lieutenant"), OFFICER, T0),
        (AssignOfficer(officer="cdo-2"), OFFICER, T0),
        (StartAssessment(), OFFICER, T0),
        (ReferForInvestigation(), OFFICER, T0),
        (
            ReplyToNotification(
                investigates=True,
                national_investigation_officer="NIO Jane Roe",
                note="witness was interviewed",
            ),
            FOCAL,
            T0,
        ),
        (ReportProgress(note="progress note text"), OFFICER, T0),
        (
            AddInterimMeasure(
                measure=InterimMeasure.ADMINISTRATIVE_LEAVE,
                on=date(2025, 3, 5),
                note="witness was interviewed",
            ),
            OFFICER,
            T0,
        ),
        (
            RecordPaternityClaim(status="received", on=date(2025, 3, 6), note="witness was interviewed"),
            OFFICER,
            T0,
        ),
        (
            RecordAssistance(kind="psychosocial", on=date(2025, 3, 6), note="witness was interviewed"),
            OFFICER,
            T0,
        ),
        (
            RecordFinding(finding=Finding.SUBSTANTIATED, summary="finding summary text"),
            OFFICER,
            T0 + 20 * DAY,
        ),
        (
            RecordUnAction(taken=UnAction.REPATRIATION, on=date(2025, 3, 30), note="witness was interviewed"),
            OFFICER,
            T0,
        ),
        (ReferForProsecution(on=date(2025, 4, 1), note="witness was interviewed"), OFFICER, T0),
        (RecordHearing(on=date(2025, 4, 2), court="High Court", note="note about the hearing"), OFFICER, T0),
        (
            RecordProsecutionOutcome(
                outcome=ProsecutionOutcome.CONVICTED, on=date(2025, 5, 1), sentence="2 years"
            ),
            FOCAL,
            T0,
        ),
        (CloseCase(reason=ClosureReason.PROSECUTION_CONCLUDED, note="closure note text"), OFFICER, T0),
    ]
    for command, actor, at in steps:
        outcome = apply(case, command, actor, at, POLICY)
        # Every change emits case_changed; the public record only when it changed.
        expected = [CHANGED, PUBLIC] if public_record(outcome.case) != public_record(case) else [CHANGED]
        assert [e.event_type() for e in outcome.events] == expected, command.action
        events.extend(outcome.events)
        case = outcome.case
    return case, events


def test_public_record_never_carries_names_pseudonyms_or_free_text() -> None:
    case, _ = full_case()
    assert {v.pseudonym for v in case.victims} == {"Victim-Alpha", "Victim-Bravo"}
    record = public_record(case)
    serialized = record.model_dump_json()
    for secret in (*SECRETS, "High Court", case.reference, case.case_id):
        assert secret not in serialized, secret
    assert set(json.loads(serialized)) == {
        "allegation_id",
        "reported",
        "incident",
        "mission",
        "personnel_category",
        "nationality",
        "category",
        "allegation_type",
        "alleged_perpetrators",
        "victims_adult",
        "victims_minor",
        "investigating_entity",
        "investigation_status",
        "investigation_days",
        "result",
        "interim_measures",
        "un_actions",
        "national_actions",
        "referred_for_criminal_accountability",
        "prosecution_outcome",
        "paternity_claims",
    }
    assert record.victims_minor == 1 and record.victims_adult == 1
    assert record.paternity_claims == 1
    assert record.reported == "2025-02" and record.incident == "2025-02"
    assert record.referred_for_criminal_accountability


def test_no_event_of_any_step_carries_pseudonyms_or_victim_data() -> None:
    # The restricted topic carries case detail but neither pseudonyms nor victim identity; the public topic
    # carries no free text at all.
    case, events = full_case()
    assert case.status is CaseStatus.CLOSED
    public = [e for e in events if e.event_type() == PUBLIC]
    assert len(public) >= 8
    for event in events:
        text = event.model_dump_json()
        for secret in ("Victim-Alpha", "Victim-Bravo", "Subject-Zulu", "confidential description"):
            assert secret not in text, (event.event_type(), secret)
    for event in public:
        text = event.model_dump_json()
        for secret in (*SECRETS, "High Court", "2 years", case.reference):
            assert secret not in text, secret
    assert summary(case, T0).model_dump().keys().isdisjoint({"victims", "subjects", "description", "record"})


def test_the_allegation_id_is_stable_and_not_the_reference() -> None:
    case = ipo_case()
    later = step(step(case, StartAssessment()), ReferForInvestigation())
    assert public_record(case).allegation_id == public_record(later).allegation_id
    assert public_record(case).allegation_id not in (case.case_id, case.reference)


# ---------------------------------------------------------------- deadlines firing


def test_investigation_warns_then_is_missed() -> None:
    case = under_investigation()
    assert fire_alarm(case, DeadlineKind.INVESTIGATION, "warn", T0 + 71 * DAY, POLICY) is None  # too early
    warned = fire_alarm(case, DeadlineKind.INVESTIGATION, "warn", T0 + 72 * DAY, POLICY)
    assert warned is not None
    assert warned.action == "deadline_approaching:investigation"
    assert warned.case.version == case.version + 1
    assert event_types(warned) == [CaseDeadlineApproaching.event_type()]
    payload = warned.events[0]
    assert isinstance(payload, CaseDeadlineApproaching)
    assert payload.due_at == T0 + 90 * DAY and payload.owner == "oios"
    assert payload.police_contributing_country == "XYZ"
    investigation = warned.case.deadline(DeadlineKind.INVESTIGATION)
    assert investigation is not None and investigation.warned and not investigation.missed
    assert set(warned.audit_after) == {"deadlines"}
    # a second warning is a no-op
    assert fire_alarm(warned.case, DeadlineKind.INVESTIGATION, "warn", T0 + 73 * DAY, POLICY) is None

    assert fire_alarm(warned.case, DeadlineKind.INVESTIGATION, "miss", T0 + 89 * DAY, POLICY) is None
    missed = fire_alarm(warned.case, DeadlineKind.INVESTIGATION, "miss", T0 + 90 * DAY, POLICY)
    assert missed is not None
    assert missed.action == "deadline_missed:investigation"
    assert event_types(missed) == [CaseDeadlineMissed.event_type()]
    investigation = missed.case.deadline(DeadlineKind.INVESTIGATION)
    assert investigation is not None and investigation.missed
    assert missed.case.version == case.version + 2
    assert [d.kind for d in missed.case.overdue(T0 + 91 * DAY)] == [DeadlineKind.INVESTIGATION]
    assert fire_alarm(missed.case, DeadlineKind.INVESTIGATION, "miss", T0 + 91 * DAY, POLICY) is None


def test_a_missed_follow_up_rolls_over_to_a_new_reminder_period() -> None:
    case = step(under_investigation(), RecordFinding(finding=Finding.SUBSTANTIATED), T0)
    first = fire_alarm(case, DeadlineKind.FOLLOW_UP, "miss", T0 + 90 * DAY, POLICY)
    assert first is not None and first.action == "deadline_missed:follow_up"
    payload = first.events[0]
    assert isinstance(payload, CaseDeadlineMissed)
    assert payload.due_at == T0 + 90 * DAY
    follow_up = first.case.deadline(DeadlineKind.FOLLOW_UP)
    assert follow_up is not None
    assert follow_up.started_at == T0 + 90 * DAY
    assert follow_up.due_at == T0 + 180 * DAY
    assert follow_up.warn_at == T0 + 162 * DAY
    assert not follow_up.missed and not follow_up.warned
    assert follow_up.overdue_since == T0 + 90 * DAY
    assert follow_up.reminders == 1
    assert follow_up.overdue(T0 + 100 * DAY)

    second = fire_alarm(first.case, DeadlineKind.FOLLOW_UP, "miss", T0 + 180 * DAY, POLICY)
    assert second is not None
    follow_up = second.case.deadline(DeadlineKind.FOLLOW_UP)
    assert follow_up is not None
    assert follow_up.due_at == T0 + 270 * DAY
    assert follow_up.overdue_since == T0 + 90 * DAY  # overdue since the first miss
    assert follow_up.reminders == 2

    done = step(second.case, RecordNationalAction(taken=NationalAction.SUSPENSION, on=date(2025, 9, 1)))
    assert done.deadline(DeadlineKind.FOLLOW_UP) is None
    assert done.overdue(T0 + 300 * DAY) == []


def test_fire_alarm_does_nothing_when_the_deadline_moved_or_was_dropped() -> None:
    case = under_investigation()
    extended = step(case, ExtendDeadline(kind=DeadlineKind.INVESTIGATION, days=30, reason="more time"))
    assert fire_alarm(extended, DeadlineKind.INVESTIGATION, "warn", T0 + 72 * DAY, POLICY) is None
    assert fire_alarm(extended, DeadlineKind.INVESTIGATION, "miss", T0 + 90 * DAY, POLICY) is None
    assert fire_alarm(extended, DeadlineKind.INVESTIGATION, "miss", T0 + 120 * DAY, POLICY) is not None

    dropped = step(case, RecordFinding(finding=Finding.SUBSTANTIATED))
    assert fire_alarm(dropped, DeadlineKind.INVESTIGATION, "miss", T0 + 90 * DAY, POLICY) is None
    assert fire_alarm(dropped, DeadlineKind.PCC_REPLY, "warn", T0 + 90 * DAY, POLICY) is None

    paused = step(case, PauseDeadline(kind=DeadlineKind.INVESTIGATION, reason="waiting"), T0 + DAY)
    assert fire_alarm(paused, DeadlineKind.INVESTIGATION, "miss", T0 + 90 * DAY, POLICY) is None


@pytest.mark.parametrize(
    ("header", "kept"),
    [
        (None, "application/octet-stream"),
        ("application/pdf", "application/pdf"),
        ("text/plain; charset=utf-8", "text/plain; charset=utf-8"),
        ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", None),
    ],
)
def test_an_attachment_is_kept_under_its_media_type(header: str | None, kept: str | None) -> None:
    assert attachment_media_type(header) == (kept or header)


@pytest.mark.parametrize("header", ["pdf", "", "application/", "/pdf", "a b/c", "application/" + "x" * 200])
def test_an_attachment_whose_media_type_a_client_cannot_parse_is_refused(header: str) -> None:
    with pytest.raises(InvalidField) as caught:
        attachment_media_type(header)
    assert caught.value.field == "Content-Type"
