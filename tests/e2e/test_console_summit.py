"""A summit planner's and a focal point's summit pages in Debian's Chromium: plan a small summit from the
template, see its plan as a timeline, move a milestone, invite every Member State, a focal point registers
its delegation (head and a member), the planner sees it arrive and accredits it, the focal point sees the
badges; the head of delegation on the agenda, a clash read in words and fixed, the programme released and
its PDF downloaded; the budget with a line, spending, money received and the gap. axe-core finds no serious
fault on any of these pages, in English and in French."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

from babel.dates import format_date
from playwright.async_api import Browser, BrowserContext, FilePayload, Locator, Page, expect

from deploy.stack import LocalStack
from tests.conftest import url
from tests.e2e.console import accessibility_faults, chromium, field, fill_session, pdf_text, shot, signed_in

TODAY = datetime.now(UTC).date()
PDF = FilePayload(name="credentials.pdf", mimeType="application/pdf", buffer=b"%PDF-1.4 credentials of Ghana")


def labelled(scope: Locator, label: str) -> Locator:
    """A form control inside one group or section of a page, by its label's words."""
    return scope.get_by_label(re.compile(rf"^{re.escape(label)}(?: \(|$)"))


async def plan_a_summit(page: Page) -> str:
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Summits").click()
    await page.get_by_role("link", name="Plan a summit").click()
    summit_id = f"UNCOPS-C{uuid.uuid4().hex[:6].upper()}"
    await field(page, "ID").fill(summit_id)
    await field(page, "Name").fill("Console test summit")
    await field(page, "Starts on").fill(str(TODAY + timedelta(days=100)))
    await field(page, "Ends on").fill(str(TODAY + timedelta(days=101)))
    await field(page, "Capacity").fill("40")
    await page.get_by_role("button", name="Plan the summit").click()
    await expect(page.get_by_role("status")).to_contain_text("Plan summit")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Console test summit")
    return summit_id


async def faults_on(browser: Browser, context: BrowserContext, addresses: list[str]) -> list[str]:
    found = []
    cookies = await context.cookies()
    for address in addresses:
        found += [f"{address}: {fault}" for fault in await accessibility_faults(browser, address, cookies)]
    return found


async def test_a_planner_plans_invites_and_accredits_and_a_focal_point_registers(
    platform: LocalStack,
) -> None:
    async with chromium() as browser:
        context, page = await signed_in(browser, "Planner", name="Planner Console")
        summit_id = await plan_a_summit(page)
        base = url("console", f"/summits/{summit_id}")
        summit_nav = page.get_by_role("navigation", name=re.compile("^Summit"))
        for name in ("Milestones", "Delegations", "Agenda", "Budget", "Programme"):
            await expect(summit_nav.get_by_role("link", name=name, exact=True)).to_be_visible()
        await shot(page, "summit")

        # The plan: a timeline drawn on the server, and the same facts in a table.
        await summit_nav.get_by_role("link", name="Milestones").click()
        await expect(page.get_by_role("img", name=re.compile("as a timeline"))).to_be_visible()
        # The template's first milestone fell due before the summit was planned: the plan marks it overdue.
        overdue = page.get_by_role("row", name=re.compile("Invitations sent by note verbale"))
        for _ in range(20):
            if "Overdue" in await overdue.inner_text():
                break
            await page.wait_for_timeout(500)
            await page.reload()
        await expect(overdue).to_contain_text("Overdue")
        await page.get_by_role("button", name="Mark completed: Chair's Note published").click()
        await expect(page.get_by_role("status")).to_contain_text("Complete")
        await expect(page.get_by_role("row", name=re.compile("Chair's Note published"))).to_contain_text(
            "Done"
        )
        await page.get_by_role("link", name="Reschedule: Programme final").click()
        moved_to = TODAY + timedelta(days=80)
        await field(page, "Due at").fill(f"{moved_to}T17:00")
        await page.get_by_role("button", name="Reschedule the milestone").click()
        await expect(page.get_by_role("status")).to_contain_text("Reschedule milestone")
        await expect(page.get_by_role("row", name=re.compile("Programme final"))).to_contain_text(
            format_date(moved_to, "medium", locale="en_GB")
        )
        await shot(page, "summit-milestones")

        # Every Member State invited at once.
        await summit_nav.get_by_role("link", name="Delegations").click()
        await page.get_by_label("All 193 Member States").check()
        await field(page, "Note verbale").fill("PD/CONSOLE/{member_state}")
        await page.get_by_role("button", name="Send the invitations").click()
        await expect(page.get_by_role("status")).to_contain_text("193 States invited", timeout=60_000)
        await expect(page.get_by_role("link", name="Next page")).to_be_visible()
        await shot(page, "summit-delegations")

        # Ghana's focal point registers its head of delegation and a member.
        fp_context, fp_page = await signed_in(browser, "State focal point", "GHA", "Focal Point Ghana")
        await fp_page.get_by_role("navigation", name="Main").get_by_role("link", name="Summits").click()
        await (
            fp_page.get_by_role("row", name=re.compile("Console test summit"))
            .get_by_role("link", name="GHA: Invited")
            .click()
        )
        head = fp_page.get_by_role("group", name="Head of delegation")
        await labelled(head, "Full name").fill("Ama Mensah")
        await labelled(head, "Function").fill("Inspector-General of Police")
        await labelled(head, "Languages").fill("en")
        await head.get_by_label("Head of delegation").select_option(label="Chief of police")
        member = fp_page.get_by_role("group", name=re.compile("^Member 1"))
        await labelled(member, "Full name").fill("Kofi Boateng")
        await labelled(member, "Function").fill("Police adviser")
        await labelled(member, "Languages").fill("en\nfr")
        await fp_page.get_by_label("Credentials letter").set_input_files(PDF)
        await fp_page.get_by_role("button", name="Register the delegation").click()
        await expect(fp_page.get_by_role("status")).to_contain_text("Register")
        await expect(fp_page.get_by_role("row", name=re.compile("Ama Mensah"))).to_contain_text(
            "Not yet accredited"
        )
        delegation_address = fp_page.url.split("?")[0]
        await shot(fp_page, "summit-delegation-registered")

        # The planner sees it arrive among the registered ones and accredits it.
        await page.get_by_label("Status").select_option(label="Registered")
        await page.get_by_role("button", name="Show").click()
        ghana = page.get_by_role("row", name=re.compile("Ghana"))
        await expect(ghana).to_contain_text("Registered")
        await ghana.get_by_role("button", name="Start review: Ghana").click()
        await expect(page.get_by_role("status")).to_contain_text("Start review")
        await page.goto(f"{base}/delegations?status=under_review")
        await page.get_by_role("button", name="Accredit: Ghana").click()
        await expect(page.get_by_role("status")).to_contain_text("Accredit")

        # The focal point sees its badges.
        await fp_page.goto(delegation_address)
        await expect(fp_page.get_by_role("row", name=re.compile("Ama Mensah"))).to_contain_text(
            "Accredited: badge"
        )
        await expect(fp_page.get_by_role("row", name=re.compile("Kofi Boateng"))).to_contain_text(
            "Accredited: badge"
        )
        await shot(fp_page, "summit-delegation-accredited")

        # Ghana's head of delegation speaks twice: the agenda offers her by name, and a second session at an
        # overlapping time is refused with the clash in words, before anything is saved; moved, it is saved.
        day = str(TODAY + timedelta(days=100))
        ama = ["Ama Mensah (Inspector-General of Police)"]
        await summit_nav.get_by_role("link", name="Agenda").click()
        await fill_session(
            page, day, "Accountable policing", "10:00", "11:00", "Conference Room 1 (350)", ama
        )
        await page.get_by_role("button", name="Save session").click()
        await expect(page.get_by_role("status")).to_contain_text("The session is saved")
        await fill_session(page, day, "Women in policing", "10:30", "11:30", "Conference Room 4 (600)", ama)
        await page.get_by_role("button", name="Save session").click()
        conflicts = page.locator("#conflicts")
        await expect(conflicts).to_contain_text("Nothing was saved.")
        await expect(conflicts).to_contain_text(f"{ama[0]} is already at “Accountable policing”")
        await shot(page, "summit-agenda-clash")
        await field(page, "Starts at").fill(f"{day}T11:30")
        await field(page, "Ends at").fill(f"{day}T12:30")
        await page.get_by_role("button", name="Save session").click()
        await expect(page.get_by_role("status")).to_contain_text("The session is saved")
        await expect(page.get_by_role("cell", name="Women in policing")).to_be_visible()

        # The programme released, and printed.
        await summit_nav.get_by_role("link", name="Programme").click()
        await page.get_by_role("button", name="Release the programme").click()
        await expect(page.get_by_role("status")).to_contain_text("Release 1 of the programme is published.")
        text = await pdf_text(page, "Printable programme (PDF)")
        assert "Accountable policing" in text and "Women in policing" in text and "Ama Mensah" in text

        # The budget: a line, spending against it, money received, and the gap still to fund.
        await summit_nav.get_by_role("link", name="Budget").click()
        lines = page.get_by_role("region", name="Add a budget line")
        await labelled(lines, "Category").fill("interpretation")
        await labelled(lines, "Title").fill("Interpretation in two languages")
        await labelled(lines, "Planned").fill("100000")
        await lines.get_by_role("button", name="Add a budget line").click()
        await expect(page.get_by_role("status")).to_contain_text("Add budget line")
        spending = page.get_by_role("region", name="Record an expenditure")
        await labelled(spending, "Budget line ID").select_option(label="Interpretation in two languages")
        await labelled(spending, "Amount").fill("12500")
        await labelled(spending, "Spent on").fill(str(TODAY))
        await labelled(spending, "Description").fill("Interpreters' rehearsal day")
        await spending.get_by_role("button", name="Record an expenditure").click()
        await expect(page.get_by_role("status")).to_contain_text("Record expenditure")
        money = page.get_by_role("region", name="Record money received")
        await labelled(money, "Member state").select_option("CHN")
        await labelled(money, "Amount").fill("30000")
        await labelled(money, "Currency").fill("USD")
        await labelled(money, "Received on").fill(str(TODAY))
        await money.get_by_role("button", name="Record money received").click()
        await expect(page.get_by_role("status")).to_contain_text("Record receipt")
        funding = page.get_by_role("table", name="Funding in USD")
        await expect(funding).to_contain_text("100,000")
        await expect(funding).to_contain_text("12,500")
        await expect(page.get_by_role("alert")).to_contain_text("70,000 USD of the budget of 100,000 USD")
        await expect(page.get_by_role("img", name=re.compile("^Budget, pledged"))).to_be_visible()
        await shot(page, "summit-budget")

        # A refused form says why, beside the field.
        await labelled(lines, "Category").fill("Not A Category")
        await labelled(lines, "Title").fill("Bad line")
        await labelled(lines, "Planned").fill("10")
        await lines.get_by_role("button", name="Add a budget line").click()
        await expect(page.get_by_role("alert").filter(has_text="There is a problem")).to_be_visible()
        await shot(page, "summit-budget-refused")

        # The overview shows the gap too, and moves the whole summit by date.
        await page.goto(base)
        await expect(page.get_by_role("alert")).to_contain_text("Funding gap")
        await field(page, "Starts on").fill(str(TODAY + timedelta(days=107)))
        await field(page, "Ends on").fill(str(TODAY + timedelta(days=108)))
        await page.get_by_role("button", name="Reschedule the summit").click()
        await expect(page.get_by_role("status")).to_contain_text("Reschedule")
        await expect(page.get_by_role("definition").first).to_contain_text(
            format_date(TODAY + timedelta(days=107), "medium", locale="en_GB")
        )

        await page.goto(f"{base}/milestones")
        reschedule_link = await page.get_by_role(
            "link", name="Reschedule: Registration closes"
        ).get_attribute("href")
        pages = [
            url("console", "/summits"),
            url("console", "/summits/new"),
            base,
            f"{base}/milestones",
            url("console", str(reschedule_link)),
            f"{base}/delegations",
            f"{base}/budget",
        ]
        faults = await faults_on(browser, context, pages)
        faults += await faults_on(browser, fp_context, [url("console", "/summits"), delegation_address, base])

        # The same pages in French.
        fr_context, fr_page = await signed_in(browser, "Planificateur", locale="fr-FR")
        await fr_page.goto(f"{base}/milestones")
        await expect(fr_page.get_by_role("heading", level=1)).to_have_text("Jalons")
        await shot(fr_page, "summit-milestones-fr")
        await fr_page.goto(f"{base}/budget")
        await expect(fr_page.get_by_role("alert")).to_contain_text("ne sont pas encore financés")
        await shot(fr_page, "summit-budget-fr")
        faults += await faults_on(browser, fr_context, pages)
        fr_fp_context, fr_fp_page = await signed_in(browser, "Point focal d'un État", "GHA", locale="fr-FR")
        await fr_fp_page.goto(delegation_address)
        await expect(fr_fp_page.get_by_role("row", name=re.compile("Ama Mensah"))).to_contain_text(
            "Accrédité : badge"
        )
        await shot(fr_fp_page, "summit-delegation-fr")
        faults += await faults_on(browser, fr_fp_context, [delegation_address])
        assert faults == []
