"""Corrections of what a planner recorded, in plain Python: room hours in the venue's local time (a time with
an offset is refused, naming the field), a room or a budget line patched and checked again, a receipt's
reversing entry, and a reversal netting out of the funding position."""

from __future__ import annotations

from datetime import time
from decimal import Decimal

import pytest
from pydantic import BaseModel, ValidationError

from services.common.errors import InvalidField
from services.summit.domain.agenda import RoomInput, RoomInUse, RoomPatch, patched_room
from services.summit.domain.budget import (
    BudgetLineCreate,
    BudgetLinePatch,
    FundingReceiptLine,
    ReceiptCreate,
    funding_position,
    patched,
    reversing_amount,
)
from services.summit.domain.plan import MilestoneCreate, SummitCreate


@pytest.mark.parametrize("value", ["14:04:15.2Z", "08:00+02:00", "09:30:00-05:00"])
def test_a_room_time_with_an_offset_is_refused_naming_the_field(value: str) -> None:
    with pytest.raises(ValidationError) as refused:
        RoomInput.model_validate({"name": "Annex A", "capacity": 40, "opens_at": value})
    (error,) = refused.value.errors()
    assert error["loc"] == ("opens_at",) and "without an offset" in error["msg"]
    with pytest.raises(ValidationError):
        RoomPatch.model_validate({"closes_at": value})


def test_a_room_time_without_an_offset_is_the_venues_local_time() -> None:
    room = RoomInput.model_validate({"name": "Annex A", "capacity": 40, "opens_at": "14:04:15.2"})
    assert room.opens_at == time(14, 4, 15, 200000) and room.opens_at.tzinfo is None


def test_a_patched_room_is_checked_as_a_whole() -> None:
    current = RoomInput(name="Annex A", capacity=40, opens_at=time(8), closes_at=time(18))
    assert patched_room(current, RoomPatch(capacity=60)).capacity == 60
    with pytest.raises(InvalidField) as bad:
        patched_room(current, RoomPatch.model_validate({"opens_at": "19:00"}))
    assert bad.value.field == "closes_at"
    with pytest.raises(InvalidField) as null:
        patched_room(current, RoomPatch.model_validate({"name": None}))
    assert null.value.field == "name"


def test_a_room_in_use_names_its_sessions() -> None:
    body = RoomInUse("room-1", [("s-1", "Opening plenary")]).body()
    assert body["sessions"] == [{"id": "s-1", "title": "Opening plenary"}] and body["state"] == "in_use"


def test_a_budget_line_patch_changes_only_what_it_names() -> None:
    current = {"category": "venue", "title": "Conference rooms", "planned": Decimal("1000.00")}
    merged = BudgetLineCreate.model_validate(patched(current, BudgetLinePatch(planned=Decimal("1500.00"))))
    assert (merged.category, merged.title, merged.planned) == (
        "venue",
        "Conference rooms",
        Decimal("1500.00"),
    )
    with pytest.raises(InvalidField):
        patched(current, BudgetLinePatch.model_validate({"title": None}))


def test_a_reversing_entry_nets_the_receipt_out_of_the_funding_position() -> None:
    receipts = [
        FundingReceiptLine("p-1", "CHN", Decimal("200.00"), "USD"),
        FundingReceiptLine("p-1", "CHN", reversing_amount(Decimal("200.00")), "USD"),
        FundingReceiptLine(None, "GHA", Decimal("50.00"), "USD"),
    ]
    position = funding_position("USD", {}, [Decimal("1000")], [], [], receipts)
    assert position.received == Decimal("50.00") and position.funded == Decimal("50.00")
    assert position.gap == Decimal("950.00")


@pytest.mark.parametrize(
    ("model", "body", "field"),
    [
        (
            SummitCreate,
            {"id": "UNCOPS-X", "name": "Edge", "starts_on": "9999-12-30", "ends_on": "9999-12-31"},
            "starts_on",
        ),
        (
            SummitCreate,
            {"id": "UNCOPS-X", "name": "Edge", "starts_on": "0001-01-01", "ends_on": "0001-01-02"},
            "starts_on",
        ),
        (MilestoneCreate, {"title": "Edge", "due_at": "0001-01-01T00:00:00+00:00"}, "due_at"),
        (MilestoneCreate, {"title": "Edge", "due_at": "9999-12-31T23:00:00-05:00"}, "due_at"),
        (
            ReceiptCreate,
            {"member_state": "CHN", "amount": "1", "currency": "USD", "received_on": "0001-01-01"},
            "received_on",
        ),
    ],
)
def test_dates_at_the_calendars_ends_are_refused_naming_the_field(
    model: type[BaseModel], body: dict[str, str], field: str
) -> None:
    """They used to overflow the plan's date arithmetic (a 500)."""
    with pytest.raises(ValidationError) as refused:
        model.model_validate(body)
    assert refused.value.errors()[0]["loc"] == (field,)
