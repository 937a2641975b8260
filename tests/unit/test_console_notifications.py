"""Notifications to people (issue 18): who is told what, in English and French, a day's digest, and that
nothing confidential of a case reaches a notice."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from deploy.mailcatcher import file_name
from services.common.settings import Settings
from services.console.app import create
from services.console.domain.notifications import (
    KINDS,
    MESSAGES,
    CaseFacts,
    DigestItem,
    Notice,
    Someone,
    digest,
    message_id,
    notice_of,
    recipients,
    text_of,
    valid_email,
)
from services.console.pages import day_in, translations
from uncops.messages import french, untranslated

OFFICER_MINUSCA = Someone("officer-minusca", "conduct_officer", missions=frozenset({"MINUSCA"}))
OFFICER_UNMISS = Someone("officer-unmiss", "conduct_officer", missions=frozenset({"UNMISS"}))
OFFICER_HQ = Someone("officer-hq", "conduct_officer")  # every mission
ASSIGNED = Someone("assigned", "conduct_officer", missions=frozenset({"UNMISS"}))
FRA_FOCAL = Someone("fra", "state_focal_point", member_state="FRA", language="fr")
SEN_FOCAL = Someone("sen", "state_focal_point", member_state="SEN")
PLANNER = Someone("planner", "planner")
PEOPLE = [OFFICER_MINUSCA, OFFICER_UNMISS, OFFICER_HQ, ASSIGNED, FRA_FOCAL, SEN_FOCAL, PLANNER]
CASE = CaseFacts("case-1", "MINUSCA-2026-0001", "MINUSCA", "SEN", assigned_officer="assigned")


def deadline(kind: str = "pcc_reply", owner: str = "police_contributing_country") -> dict[str, object]:
    return {
        "case_id": "case-1",
        "reference": "MINUSCA-2026-0001",
        "kind": kind,
        "due_at": "2026-12-20T00:00:00+00:00",
        "owner": owner,
        "police_contributing_country": "SEN",
    }


def english(notice: Notice) -> str:
    return text_of(notice, translations("en").gettext, lambda day: day_in(day, "en"))


def in_french(notice: Notice) -> str:
    return text_of(notice, translations("fr").gettext, lambda day: day_in(day, "fr"))


def test_a_case_deadline_the_pcc_owes_goes_to_the_officer_the_missions_team_and_the_pccs_focal_points() -> (
    None
):
    for kind in ("case_deadline_approaching", "case_deadline_missed"):
        assert recipients(kind, deadline(), PEOPLE, CASE) == [
            "officer-minusca",
            "officer-hq",
            "assigned",
            "sen",
        ]


def test_a_deadline_the_un_owes_is_not_sent_to_the_state() -> None:
    told = recipients("case_deadline_missed", deadline("investigation", "investigating_entity"), PEOPLE, CASE)
    assert told == ["officer-minusca", "officer-hq", "assigned"]


def test_a_case_the_console_has_not_seen_yet_reaches_the_headquarters_team_and_the_pcc() -> None:
    assert recipients("case_deadline_approaching", deadline(), PEOPLE, None) == ["officer-hq", "sen"]


def test_a_review_flag_reaches_the_officers_of_the_flagged_cases_missions() -> None:
    flag = {
        "police_contributing_country": "SEN",
        "kind": "unit_sea_allegations",
        "count": 3,
        "missions": ["UNMISS"],
    }
    assert recipients("review_flag_raised", flag, PEOPLE) == ["officer-unmiss", "officer-hq", "assigned"]


def test_pledges_and_registrations_reach_the_states_focal_points_and_milestones_the_planners() -> None:
    pledge = {"pledge_id": "p-1", "member_state": "FRA", "kind": "training", "due_on": "2026-12-31"}
    for kind in (
        "pledge_clarification_requested",
        "pledge_report_due",
        "pledge_report_overdue",
        "pledge_lapsed",
    ):
        assert recipients(kind, pledge, PEOPLE) == ["fra"]
    registration = {
        "summit_id": "s",
        "delegation_id": "d",
        "member_state": "SEN",
        "registration_deadline": "x",
    }
    assert recipients("delegation_registration_due", registration, PEOPLE) == ["sen"]
    for kind in ("milestone_due", "milestone_overdue", "funding_gap_alert"):
        assert recipients(kind, {}, PEOPLE) == ["planner"]
    assert recipients("pledge_submitted", pledge, PEOPLE) == []


def test_a_case_notice_says_the_reference_and_the_step_in_english_and_french_and_links_to_the_case() -> None:
    notice = notice_of("case_deadline_approaching", deadline())
    assert notice is not None and notice.link == "/cases/case-1"
    assert english(notice) == "Case MINUSCA-2026-0001: the reply to the notification is due on 20 Dec 2026"
    assert (
        in_french(notice)
        == "Dossier MINUSCA-2026-0001 : échéance de la réponse à la notification le 20 déc. 2026"
    )


def test_nothing_confidential_of_a_case_reaches_a_notice() -> None:
    event = {
        **deadline(),
        "description": "CONFIDENTIAL description",
        "victims": [{"pseudonym": "V-1", "name": "Secret Victim"}],
        "alleged_perpetrators": ["Secret Perpetrator"],
    }
    notice = notice_of("case_deadline_missed", event)
    assert notice is not None
    assert set(notice.facts) == {"reference", "deadline", "due"}
    for text in (english(notice), in_french(notice), repr(notice)):
        assert "Secret" not in text and "CONFIDENTIAL" not in text and "V-1" not in text


def test_every_kind_makes_a_notice_with_a_page_to_act_on_and_a_text_in_both_languages() -> None:
    events: dict[str, dict[str, object]] = {
        "case_deadline_approaching": deadline(),
        "case_deadline_missed": deadline(),
        "review_flag_raised": {
            "police_contributing_country": "SEN",
            "kind": "pcc_failing_to_act",
            "count": 2,
        },
        "pledge_clarification_requested": {"pledge_id": "p-1", "member_state": "FRA", "kind": "training"},
        "pledge_report_due": {
            "pledge_id": "p-1",
            "member_state": "FRA",
            "kind": "training",
            "due_on": "2027-01-01",
        },
        "pledge_report_overdue": {
            "pledge_id": "p-1",
            "member_state": "FRA",
            "kind": "training",
            "due_on": "2027-01-01",
        },
        "pledge_lapsed": {"pledge_id": "p-1", "member_state": "FRA", "kind": "training"},
        "milestone_due": {"summit_id": "s-1", "title": "Venue contract", "due_at": "2027-02-01T00:00:00Z"},
        "milestone_overdue": {
            "summit_id": "s-1",
            "title": "Venue contract",
            "due_at": "2027-02-01T00:00:00Z",
        },
        "funding_gap_alert": {
            "summit_id": "s-1",
            "milestone_title": "Venue contract",
            "due_at": "2027-02-01T00:00:00Z",
            "currency": "USD",
            "budget": "100000",
            "received": "2000",
        },
        "delegation_registration_due": {
            "summit_id": "s-1",
            "delegation_id": "d-1",
            "member_state": "SEN",
            "registration_deadline": "2027-01-15T00:00:00Z",
        },
    }
    assert set(events) == set(KINDS)
    for kind, data in events.items():
        notice = notice_of(kind, data)
        assert notice is not None and notice.link.startswith("/")
        assert "{" not in english(notice) and "{" not in in_french(notice)
        assert english(notice) != in_french(notice)
    milestone = notice_of("milestone_overdue", events["milestone_overdue"])
    assert milestone is not None and milestone.link == "/summits/s-1/milestones"
    assert (
        in_french(milestone)
        == "Le jalon du sommet « Venue contract » était attendu le 1 févr. 2027 et est en retard"
    )


def test_a_digest_groups_a_days_notices_by_area_oldest_first() -> None:
    def at(hour: int) -> datetime:
        return datetime(2026, 12, 6, hour, tzinfo=UTC)

    milestone = Notice("milestone_due", "/summits/s/milestones", {"title": "T", "due": "2027-01-01"})
    late = Notice(
        "case_deadline_missed", "/cases/b", {"reference": "B", "deadline": "pcc_reply", "due": "2026-12-01"}
    )
    soon = Notice(
        "case_deadline_approaching",
        "/cases/a",
        {"reference": "A", "deadline": "pcc_reply", "due": "2026-12-20"},
    )
    items = [DigestItem(milestone, at(8)), DigestItem(late, at(10)), DigestItem(soon, at(9))]
    grouped = digest(items)
    assert [area for area, _ in grouped] == ["cases", "summits"]
    assert [item.notice.link for item in grouped[0][1]] == ["/cases/a", "/cases/b"]
    assert digest([]) == []


def test_a_message_id_is_the_same_for_the_same_event_and_person_and_names_one_file() -> None:
    first = message_id("event-1", "person-1")
    assert first == message_id("event-1", "person-1")
    assert first != message_id("event-1", "person-2") != message_id("event-2", "person-1")
    assert file_name(first, b"a") == file_name(first, b"b")
    assert file_name(first, b"a").endswith(".eml") and "<" not in file_name(first, b"a")
    assert file_name(None, b"same") == file_name(None, b"same") != file_name(None, b"other")


def test_an_email_address_that_could_break_a_header_is_refused() -> None:
    assert valid_email("officer@un.org")
    for bad in ("officer", "a@b", "a b@un.org", "a@un.org\r\nBcc: x@evil.org", "<a@un.org>", "a@@un.org"):
        assert not valid_email(bad)


def test_every_word_a_notification_says_has_its_french() -> None:
    assert untranslated(french(), MESSAGES) == []


# ---------------------------------------------------------------- the pages' refusals, without a database


@pytest.fixture
def console(tmp_path: Path) -> Iterator[TestClient]:
    # No database answers on port 1: the pages that need none still work, a sign-in still signs in.
    settings = Settings(environment="test", background=False, postgres_port=1, run_dir=tmp_path)
    with TestClient(create(settings), follow_redirects=False) as client:
        yield client


def csrf(client: TestClient, path: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)
    assert found is not None
    return found.group(1)


def test_the_sign_in_takes_an_optional_email_and_refuses_one_that_is_not(console: TestClient) -> None:
    page = console.get("/sign-in")
    assert re.search(r'<label for="email">Email <span class="optional">', page.text)
    form = {"csrf_token": csrf(console, "/sign-in"), "role": "planner", "email": "planner@un"}
    refused = console.post("/sign-in", data=form)
    assert refused.status_code == 422
    assert "Enter an email address such as name@example.org" in refused.text
    signed = console.post("/sign-in", data={**form, "email": "planner@un.example"})
    assert signed.status_code == 303  # the directory is away: the person is signed in all the same


def test_the_preferences_refuse_a_bad_address_or_choice_in_the_persons_language(console: TestClient) -> None:
    token = csrf(console, "/sign-in")
    console.post("/sign-in", data={"csrf_token": token, "role": "planner"})
    token = csrf(console, "/sign-in")
    console.post("/language", data={"csrf_token": token, "language": "fr", "next": "/"})
    choices = dict.fromkeys(KINDS, "immediate")
    sent = console.post(
        "/notifications/settings",
        data={"csrf_token": token, "email": "a b@un.example", **choices, "milestone_due": "sometimes"},
    )
    assert sent.status_code == 422
    assert "Saisissez une adresse électronique comme nom@exemple.org" in sent.text
    assert '<a href="#milestone_due">Choisissez une des options</a>' in sent.text
    assert console.post("/notifications/settings", data=choices).status_code == 403  # no CSRF token


def test_the_caught_mail_is_listed_and_shown_locally(console: TestClient, tmp_path: Path) -> None:
    token = csrf(console, "/sign-in")
    console.post("/sign-in", data={"csrf_token": token, "role": "planner"})
    (tmp_path / "mail").mkdir()
    name = file_name(message_id("event-1", "person-1"), b"")
    (tmp_path / "mail" / name).write_bytes(
        b"From: UNCOPS <no-reply@uncops.local>\r\nTo: planner@un.example\r\nSubject: Milestone due\r\n"
        b"Date: Sun, 06 Dec 2026 13:03:08 +0000\r\nMessage-ID: "
        + message_id("event-1", "person-1").encode()
        + b"\r\n\r\nThe body.\r\n"
    )
    listed = console.get("/mail")
    assert listed.status_code == 200 and f'href="/mail/{name}">Milestone due</a>' in listed.text
    shown = console.get(f"/mail/{name}")
    assert shown.status_code == 200 and "The body." in shown.text and "planner@un.example" in shown.text
    assert console.get("/mail/..%2Fstack.pid").status_code == 404
