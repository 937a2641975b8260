"""A new case: what a conduct-and-discipline officer records at intake, and the case it opens."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Self

from pydantic import ConfigDict, Field, StringConstraints, model_validator

from services.cases.domain.case import Case, DomainModel, Note
from services.common.errors import InvalidField
from uncops_contracts.cases import CATEGORY_2_TYPES, AllegationType, MisconductCategory, PersonnelCategory

CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]


# UNTSO, established 29 May 1948: no case of UN personnel happened or was reported before. (A year 329
# was taken, and became the public record's invalid month "329-09": found by schemathesis.)
FIRST_PEACE_OPERATION = date(1948, 5, 29)


class CaseIntake(DomainModel):
    """A new case as a conduct-and-discipline officer records it."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "mission": "MINUSCA",
                    "personnel_category": "formed_police_unit",
                    "police_contributing_country": "SEN",
                    "unit": "FPU-2",
                    "allegation_type": "sexual_exploitation",
                    "urgent": True,
                    "incident_date": "2026-02-20",
                    "reported_on": "2026-03-01",
                    "how_reported": "community-based complaint mechanism",
                    "alleged_perpetrators": 1,
                    "victims": 1,
                    "victims_minor": 0,
                    "description": "A transactional relationship reported by a local NGO.",
                }
            ]
        },
    )

    mission: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3,10}$")] = Field(examples=["MINUSCA"])
    personnel_category: PersonnelCategory
    police_contributing_country: CountryCode = Field(examples=["SEN"])
    unit: str | None = Field(None, max_length=100, description="Required for formed police units")
    allegation_type: AllegationType
    category: MisconductCategory | None = Field(
        None, description="Derived from the allegation type if omitted"
    )
    urgent: bool = False
    incident_date: date | None = None
    reported_on: date
    how_reported: str = Field(min_length=2, max_length=200)
    alleged_perpetrators: int = Field(1, ge=0, le=500)
    victims: int = Field(0, ge=0, le=10000)
    victims_minor: int = Field(0, ge=0, le=10000)
    description: Note = ""

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.victims_minor > self.victims:
            raise InvalidField(
                "victims_minor", f"{self.victims_minor} minors is more than {self.victims} victims"
            )
        for name in ("reported_on", "incident_date"):
            if (day := getattr(self, name)) and day < FIRST_PEACE_OPERATION:
                raise InvalidField(
                    name, f"{day} is before the first UN peace operation ({FIRST_PEACE_OPERATION})"
                )
        if self.incident_date and self.incident_date > self.reported_on:
            raise InvalidField("incident_date", "the incident cannot be after the date it was reported")
        if self.personnel_category is PersonnelCategory.FORMED_POLICE_UNIT and not self.unit:
            raise InvalidField("unit", "a formed police unit case names the unit")
        derived = category_of(self.allegation_type)
        if self.category is not None and self.category is not derived:
            raise InvalidField("category", f"{self.allegation_type.value} is {derived.value} misconduct")
        return self


def category_of(allegation: AllegationType) -> MisconductCategory:
    return MisconductCategory.CATEGORY_2 if allegation in CATEGORY_2_TYPES else MisconductCategory.CATEGORY_1


def check_intake_dates(intake: CaseIntake, today: date) -> None:
    if intake.reported_on > today:
        raise InvalidField("reported_on", "is in the future")
    if intake.incident_date and intake.incident_date > today:
        raise InvalidField("incident_date", "is in the future")


def open_case(case_id: str, reference: str, intake: CaseIntake, now: datetime) -> Case:
    return Case(
        case_id=case_id,
        reference=reference,
        opened_at=now,
        mission=intake.mission,
        personnel_category=intake.personnel_category,
        police_contributing_country=intake.police_contributing_country,
        unit=intake.unit,
        category=category_of(intake.allegation_type),
        allegation_type=intake.allegation_type,
        urgent=intake.urgent,
        incident_date=intake.incident_date,
        reported_on=intake.reported_on,
        how_reported=intake.how_reported,
        alleged_perpetrators=intake.alleged_perpetrators,
        victims_adult=intake.victims - intake.victims_minor,
        victims_minor=intake.victims_minor,
        description=intake.description,
    )


def reference_number(mission: str, year: int, sequence: int) -> str:
    """Something people can say aloud on the phone: MINUSCA-2026-0042."""
    return f"{mission}-{year}-{sequence:04d}"
