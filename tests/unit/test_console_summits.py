"""The summit pages' own readings of the summits API's answers, without the API: a refusal's fields named as
the page's grouped forms name them, and a registration's persons filled back into its form."""

from __future__ import annotations

from services.console.gateway import Refused
from services.console.service.summits import refusal_in_group, registered_values, registration_refusal


def test_a_registration_refusal_names_the_form_fields() -> None:
    refused = Refused(
        422,
        {
            "errors": [
                {"field": "head.languages", "reason": "'xx' is not an ISO 639-1 language code"},
                {"field": "members[1].full_name", "reason": "listed twice"},
                {"field": "proof_document.sha256", "reason": "bad"},
            ]
        },
    )
    assert registration_refusal(refused).field_errors == {
        "head-languages": "'xx' is not an ISO 639-1 language code",
        "member2-full_name": "listed twice",
        "proof_document": "bad",
    }


def test_a_budget_refusal_names_the_field_of_its_own_form() -> None:
    refused = Refused(422, {"errors": [{"field": "body.category", "reason": "lower case"}], "detail": "x"})
    grouped = refusal_in_group(refused, "lines")
    assert grouped.field_errors == {"lines-category": "lower case"} and grouped.detail == "x"


def test_the_registered_persons_fill_the_form_again() -> None:
    delegation = {
        "head_of_delegation": "minister",
        "participants": [
            {
                "full_name": "Ama Mensah",
                "function": "Minister",
                "languages": ["en", "fr"],
                "is_head": True,
                "consent_to_list": True,
            },
            {
                "full_name": "Kofi Boateng",
                "function": "Adviser",
                "languages": ["en"],
                "is_head": False,
                "organisation": "Ghana Police Service",
            },
        ],
    }
    values = registered_values(delegation)
    assert values["head-full_name"] == "Ama Mensah" and values["head-languages"] == "en\nfr"
    assert values["head-head_of_delegation"] == "minister" and values["head-consent_to_list"] == "true"
    assert (
        values["member1-organisation"] == "Ghana Police Service" and values["member1-consent_to_list"] == ""
    )
    assert registered_values({"participants": None}) == {}
