"""A conduct-and-discipline officer's day in the console, in Debian's Chromium: sign in, open a case, take
it from assessment to closure through its buttons and forms, see a refusal explained, and no serious
accessibility fault on any page."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from playwright.async_api import FilePayload, Page, expect

from deploy.stack import LocalStack
from services.common.auth import Role
from services.common.settings import Settings
from tests.conftest import bearer, url
from tests.e2e.console import accessibility_faults, chromium, field, shot, signed_in

TODAY = datetime.now(UTC).date()


async def open_case(http: httpx.AsyncClient, settings: Settings, state: str = "SEN") -> dict[str, str]:
    opened = await http.post(
        url("cases", "/cases"),
        headers=bearer(settings, Role.CONDUCT_OFFICER),
        json={
            "mission": "MINUSCA",
            "personnel_category": "individual_police_officer",
            "police_contributing_country": state,
            "allegation_type": "sexual_exploitation",
            "incident_date": str(TODAY - timedelta(days=20)),
            "reported_on": str(TODAY - timedelta(days=2)),
            "how_reported": "community-based complaint network",
            "victims": 1,
            "description": "Synthetic test case.",
        },
    )
    assert opened.status_code == 201, opened.text
    return dict(opened.json())


async def take(page: Page, step: str, fields: dict[str, str] | None = None) -> None:
    """Clicks the step's button on the case; fills its form, if it has one, by the fields' labels."""
    await page.get_by_role("button", name=step, exact=True).click()
    if fields is not None:
        await expect(page.get_by_role("heading", level=1)).to_have_text(step)
        for label, value in fields.items():
            control = field(page, label)
            if await control.evaluate("e => e.tagName") == "SELECT":
                await control.select_option(label=value)
            else:
                await control.fill(value)
        await page.get_by_role("button", name=step, exact=True).click()
    await expect(page.get_by_role("status")).to_contain_text(step)


async def cases_reported_as(http: httpx.AsyncClient, settings: Settings, how: str) -> list[dict[str, str]]:
    found = await http.get(
        url("cases", "/cases"),
        params={"mission": "MINUSCA", "reported_from": str(TODAY - timedelta(days=3)), "limit": 500},
        headers=bearer(settings, Role.CONDUCT_OFFICER),
    )
    assert found.status_code == 200, found.text
    return [case for case in found.json()["items"] if case["how_reported"] == how]


async def test_an_officer_takes_a_case_from_assessment_to_closure(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    how = f"console test {uuid.uuid4().hex[:8]}"
    async with chromium() as browser:
        context, page = await signed_in(browser, "Conduct officer", name="Aminata Diallo")
        await expect(page).to_have_url(url("console", "/cases"))
        nav = page.get_by_role("navigation", name="Main")
        await expect(nav.get_by_role("link", name="Cases")).to_be_visible()
        await shot(page, "queue")

        # Opening a case: the UN's taxonomy as choices; a double click opens one case.
        await page.get_by_role("link", name="Open a case").click()
        await field(page, "Mission").select_option("MINUSCA")
        await field(page, "Personnel category").select_option(label="Individual police officer")
        await field(page, "Police contributing country").select_option("SEN")
        await field(page, "Allegation type").select_option(label="Sexual exploitation")
        await field(page, "Incident date").fill(str(TODAY - timedelta(days=20)))
        await field(page, "Reported on").fill(str(TODAY - timedelta(days=2)))
        await field(page, "How reported").fill(how)
        await field(page, "Victims").fill("1")
        faults = await accessibility_faults(browser, page.url, await context.cookies())
        await shot(page, "open-case")
        await page.get_by_role("button", name="Open the case").dblclick()
        await expect(page.get_by_role("status")).to_contain_text("Open case")
        opened = await cases_reported_as(http, settings, how)
        assert len(opened) == 1, opened
        case = opened[0]
        await expect(page.get_by_role("heading", level=1)).to_have_text(f"Case {case['reference']}")

        # The queue finds it by its reference, or the reference's beginning, in any case.
        await nav.get_by_role("link", name="Cases").click()
        await page.get_by_label("Search").fill(case["reference"].lower())
        await page.evaluate("window.notReloaded = true")  # htmx swaps the results, the page stays
        await page.get_by_role("button", name="Find").click()
        await expect(page).to_have_url(re.compile(r"search="))
        assert await page.evaluate("window.notReloaded === true")
        results = page.get_by_role("table").get_by_role("link")
        await expect(results).to_have_count(1)
        await expect(results).to_have_text(case["reference"])
        await shot(page, "queue-search")
        faults += await accessibility_faults(browser, page.url, await context.cookies())
        await results.click()
        await expect(page.get_by_role("heading", level=1)).to_have_text(f"Case {case['reference']}")
        await shot(page, "case-received")
        faults += await accessibility_faults(browser, page.url, await context.cookies())
        await take(page, "Start assessment")
        await take(page, "Refer for investigation", {})
        await take(page, "Record finding", {"Finding": "Substantiated", "Summary": "Corroborated."})
        await take(page, "Refer for prosecution", {"On": str(TODAY)})

        # A conviction needs its sentence: the API's reason is shown at the top of the form, focused.
        await page.get_by_role("button", name="Record prosecution outcome", exact=True).click()
        await field(page, "Outcome").select_option(label="Convicted")
        await field(page, "On").fill(str(TODAY))
        faults += await accessibility_faults(browser, page.url, await context.cookies())
        await page.get_by_role("button", name="Record prosecution outcome", exact=True).click()
        summary = page.get_by_role("alert")
        await expect(summary).to_be_focused()
        await expect(summary).to_contain_text("sentence")
        await shot(page, "step-refused")
        await field(page, "Sentence").fill("3 years")
        await page.get_by_role("button", name="Record prosecution outcome", exact=True).click()
        await expect(page.get_by_role("status")).to_contain_text("Record prosecution outcome")

        await take(page, "Close", {"Reason": "Prosecution concluded", "Note": "Sentence served notice."})
        await expect(page.locator(".facts")).to_contain_text("Closed")
        await shot(page, "case-closed")

        # Every step in the audit trail, who and when; Verify checks its hash chain.
        trail = page.get_by_role("region", name="Audit trail")
        await expect(trail.get_by_role("row", name="Start assessment")).to_have_count(1)
        await expect(trail.get_by_role("row").filter(has_text="Close").last).to_contain_text(
            "Conduct officer"
        )
        await trail.get_by_role("button", name="Verify").click()
        await expect(page.get_by_role("status")).to_contain_text("The audit trail is whole")
        await shot(page, "audit-verified")
        faults += await accessibility_faults(browser, page.url, await context.cookies())
        faults += await accessibility_faults(browser, url("console", "/cases"), await context.cookies())
        await context.close()
    assert faults == []

    audit = await http.get(
        url("cases", f"/cases/{case['case_id']}/audit"), headers=bearer(settings, Role.CONDUCT_OFFICER)
    )
    assert audit.status_code == 200


async def test_a_visitor_is_sent_to_sign_in_and_back(platform: LocalStack, settings: Settings) -> None:
    async with chromium() as browser:
        context = await browser.new_context()
        page = await context.new_page()
        await page.goto(url("console", "/cases?mission=MINUSCA"))
        await expect(page).to_have_url(url("console", "/sign-in?next=%2Fcases%3Fmission%3DMINUSCA"))
        await page.get_by_label("Role").select_option(label="Conduct officer")
        await page.get_by_role("button", name="Sign in").click()
        await expect(page).to_have_url(url("console", "/cases?mission=MINUSCA"))
        await shot(page, "sign-in-back")
        await context.close()


async def test_the_console_speaks_french(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    case = await open_case(http, settings)
    async with chromium() as browser:
        context, page = await signed_in(browser, "Agent déontologie et discipline", locale="fr-FR")
        await expect(page.locator("html")).to_have_attribute("lang", "fr")
        await page.goto(url("console", f"/cases/{case['case_id']}"))
        await expect(page.get_by_role("heading", level=1)).to_have_text(f"Dossier {case['reference']}")
        await expect(page.locator(".facts")).to_contain_text("Reçu")
        await shot(page, "case-fr")
        faults = await accessibility_faults(browser, page.url, await context.cookies())
        await page.get_by_role("button", name="Commencer l'évaluation", exact=True).click()
        await expect(page.get_by_role("status")).to_contain_text("Fait : Commencer l'évaluation")
        await page.get_by_role("button", name="Renvoyer pour enquête", exact=True).click()
        await expect(page.get_by_role("heading", level=1)).to_have_text("Renvoyer pour enquête")
        await shot(page, "step-fr")
        faults += await accessibility_faults(browser, page.url, await context.cookies())
        # The switch back to English keeps the page.
        await page.get_by_role("button", name="English").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text("Refer for investigation")
        await expect(page.locator("html")).to_have_attribute("lang", "en")
        await context.close()
    assert faults == []


async def test_a_focal_point_sees_its_states_part_only(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    own = await open_case(http, settings, "SEN")
    other = await open_case(http, settings, "NPL")
    officer = bearer(settings, Role.CONDUCT_OFFICER)
    for action in ("start_assessment", "refer_for_investigation"):
        answer = await http.post(
            url("cases", f"/cases/{own['case_id']}/actions"), headers=officer, json={"action": action}
        )
        assert answer.status_code == 200, answer.text
    async with chromium() as browser:
        context, page = await signed_in(browser, "State focal point", member_state="SEN")
        await page.goto(url("console", f"/cases/{own['case_id']}"))
        await expect(page.get_by_role("heading", level=1)).to_have_text(f"Case {own['reference']}")
        steps = page.get_by_role("region", name="Steps you can take").get_by_role("button")
        await expect(steps.first).to_be_visible()
        names = await steps.all_inner_texts()
        assert "Start assessment" not in names and "Record finding" not in names, names
        await expect(page.get_by_role("heading", name="Description")).to_have_count(0)
        await shot(page, "focal-point-case")
        faults = await accessibility_faults(browser, page.url, await context.cookies())

        await page.goto(url("console", f"/cases/{other['case_id']}"))
        await expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")
        await context.close()
    assert faults == []


async def test_an_officer_adds_a_victim_and_reveals_the_identity_for_a_purpose(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    case = await open_case(http, settings)
    async with chromium() as browser:
        context, page = await signed_in(browser, "Conduct officer")
        await page.goto(url("console", f"/cases/{case['case_id']}"))
        await page.get_by_role("button", name="Add victim", exact=True).click()
        await field(page, "Pseudonym").fill("V-07")
        await field(page, "Minor").check()
        await field(page, "Name").fill("A. B.")
        await field(page, "Guardian").fill("C. B. (mother)")
        faults = await accessibility_faults(browser, page.url, await context.cookies())
        await shot(page, "victim-new")
        await page.get_by_role("button", name="Add victim", exact=True).click()
        await expect(page.get_by_role("status")).to_contain_text("Add victim")
        victims = page.get_by_role("region", name="Victims")
        await expect(victims.get_by_role("row", name="V-07")).to_contain_text("Yes")
        # The identity is nowhere on the case page: only a way to reveal it.
        await expect(page.get_by_text("A. B.")).to_have_count(0)

        await victims.get_by_role("link", name="Reveal the identity of V-07").click()
        await field(page, "Purpose").fill("too short")
        await field(page, "Purpose").evaluate("e => e.removeAttribute('minlength')")
        await page.get_by_role("button", name="Reveal identity").click()
        await expect(page.get_by_role("alert")).to_be_focused()
        await field(page, "Purpose").fill("Referral of the victim to medical assistance")
        faults += await accessibility_faults(browser, page.url, await context.cookies())
        async with page.expect_response(lambda r: r.request.method == "POST") as revealed:
            await page.get_by_role("button", name="Reveal identity").click()
        assert (await revealed.value).headers["cache-control"] == "no-store"
        await expect(page.get_by_role("heading", level=1)).to_have_text("Identity of V-07")
        await expect(page.locator(".facts")).to_contain_text("A. B.")
        await expect(page.locator(".facts")).to_contain_text("C. B. (mother)")
        await shot(page, "victim-identity")

        await page.get_by_role("link", name=re.compile("Back to case")).click()
        trail = page.get_by_role("region", name="Audit trail")
        await expect(trail.get_by_role("row", name=re.compile("Victim identity revealed"))).to_have_count(1)
        await context.close()
    assert faults == []


async def test_an_officer_attaches_a_document_and_downloads_it(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    case = await open_case(http, settings)
    content = b"%PDF-1.7 synthetic statement\n" + uuid.uuid4().bytes
    async with chromium() as browser:
        context, page = await signed_in(browser, "Conduct officer")
        await page.goto(url("console", f"/cases/{case['case_id']}"))
        await page.get_by_role("button", name="Add attachment", exact=True).click()
        await field(page, "File").set_input_files(
            files=FilePayload(name="statement.pdf", mimeType="application/pdf", buffer=content)
        )
        faults = await accessibility_faults(browser, page.url, await context.cookies())
        await page.get_by_role("button", name="Add attachment", exact=True).click()
        await expect(page.get_by_role("status")).to_contain_text("Add attachment")
        files = page.get_by_role("region", name="Attachments")
        async with page.expect_download() as downloading:
            await files.get_by_role("link", name="statement.pdf").click()
        download = await downloading.value
        assert download.suggested_filename == "statement.pdf"
        assert (await download.path()).read_bytes() == content
        await shot(page, "attachments")
        faults += await accessibility_faults(browser, page.url, await context.cookies())
        await context.close()
    assert faults == []


async def test_statistics_and_review_flags_in_both_languages(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    await open_case(http, settings)
    async with chromium() as browser:
        context, page = await signed_in(browser, "Conduct officer")
        area = page.get_by_role("navigation", name="Cases area")
        await area.get_by_role("link", name="Statistics").click()
        await expect(page.get_by_role("img", name="Allegations by year")).to_be_visible()
        await field(page, "Count by").select_option(label="Mission")
        await page.get_by_role("button", name="Show").click()
        table = page.get_by_role("table", name="Allegations by mission")
        await expect(table.get_by_role("row", name=re.compile("MINUSCA"))).to_have_count(1)
        await expect(page.get_by_role("img", name="Allegations by mission")).to_contain_text("MINUSCA")
        await shot(page, "statistics")
        faults = await accessibility_faults(browser, page.url, await context.cookies())
        await area.get_by_role("link", name="Review flags").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text("Review flags")
        await shot(page, "review-flags")
        faults += await accessibility_faults(browser, page.url, await context.cookies())
        await page.get_by_role("button", name="Français").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text("Signalements d'examen")
        faults += await accessibility_faults(browser, page.url, await context.cookies())
        await page.goto(url("console", "/cases/statistics?by=category"))
        await expect(page.get_by_role("img", name="Allégations par catégorie")).to_be_visible()
        await shot(page, "statistics-fr")
        faults += await accessibility_faults(browser, page.url, await context.cookies())
        await context.close()
    assert faults == []
