"""The secretariat and a Member State's focal point at work on pledges in the console, in Debian's Chromium:
the review from acknowledgement to acceptance through a clarification, a pledge submitted through the SMART
form and reported on, a bulk import previewed (a dry run), run with its progress shown and its rejected rows
downloaded, the follow-up and its CSV; no serious accessibility fault on any pledge page in English or
French."""

from __future__ import annotations

import csv
import io
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from playwright.async_api import Browser, BrowserContext, FilePayload, Page, expect

from deploy.stack import LocalStack
from services.common.auth import Role
from services.common.settings import Settings
from tests.conftest import bearer, url
from tests.e2e.console import accessibility_faults, chromium, field, shot, signed_in

NEXT_YEAR = str(datetime.now(UTC).date() + timedelta(days=366))


def tag() -> str:
    return uuid.uuid4().hex[:8]


async def submit(http: httpx.AsyncClient, settings: Settings, state: str, title: str, **extra: Any) -> Any:
    answer = await http.post(
        url("pledges", "/pledges"),
        headers=bearer(settings, Role.STATE_FOCAL_POINT, member_state=state),
        json={"member_state": state, "kind": "gender_parity", "title": title, **extra},
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


async def act(http: httpx.AsyncClient, settings: Settings, pledge_id: str, action: str) -> None:
    answer = await http.post(
        url("pledges", f"/pledges/{pledge_id}/actions"),
        headers=bearer(settings, Role.PLANNER),
        json={"action": action},
    )
    assert answer.status_code == 200, answer.text


async def step(page: Page, name: str, fields: dict[str, str] | None = None) -> None:
    """Clicks the step's button on the pledge; fills its form, if it has one, by the fields' labels."""
    await page.get_by_role("button", name=name, exact=True).click()
    if fields is not None:
        await expect(page.get_by_role("heading", level=1)).to_have_text(name)
        for label, value in fields.items():
            control = field(page, label)
            if await control.evaluate("e => e.tagName") == "SELECT":
                await control.select_option(label=value)
            else:
                await control.fill(value)
        await page.get_by_role("button", name=name, exact=True).click()
    await expect(page.get_by_role("status")).to_contain_text(name)


async def axe(browser: Browser, context: BrowserContext, page: Page) -> list[str]:
    return [
        f"{page.url}: {fault}"
        for fault in await accessibility_faults(browser, page.url, await context.cookies())
    ]


async def test_the_secretariat_reviews_and_accepts_a_pledge(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    t = tag()
    original = await submit(http, settings, "GHA", f"Women in formed police units {t}")
    look_alike = await submit(http, settings, "GHA", f"Women in formed police unit {t}")
    assert look_alike["possible_duplicate_of"] == [original["id"]]
    async with chromium() as browser:
        context, page = await signed_in(browser, "Planner", name="Secretariat")
        await expect(page).to_have_url(url("console", "/pledges"))
        nav = page.get_by_role("navigation", name="Main")
        await expect(nav.get_by_role("link", name="Pledges")).to_have_attribute("aria-current", "page")
        await field(page, "Member State").select_option("GHA")
        await field(page, "Status").select_option(label="Submitted")
        await page.get_by_role("button", name="Find").click()
        await expect(page.get_by_role("link", name=look_alike["title"]).first).to_be_visible()
        # The possible duplicate beside the pledge it resembles.
        compared = page.get_by_role("table", name=re.compile(re.escape(look_alike["title"])))
        await expect(compared.get_by_role("link", name=original["title"])).to_be_visible()
        await shot(page, "pledge-queue")
        faults = await axe(browser, context, page)

        await page.get_by_role("link", name=look_alike["title"]).first.click()
        await expect(page.get_by_role("heading", level=1)).to_have_text(look_alike["title"])
        await expect(
            page.get_by_role("table", name=re.compile("beside the pledge it resembles"))
        ).to_be_visible()
        await step(page, "Acknowledge")
        await step(page, "Start review")
        await page.get_by_role("button", name="Request clarification", exact=True).click()
        await shot(page, "pledge-step")
        faults += await axe(browser, context, page)
        # A question too short: the pledges API's reason beside the field, the summary takes the focus.
        await field(page, "Questions").fill("?")
        await page.get_by_role("button", name="Request clarification", exact=True).click()
        await expect(page.get_by_role("alert")).to_contain_text("Questions")
        await expect(page.get_by_role("alert")).to_be_focused()
        await field(page, "Questions").fill("Which units will the women officers come from?")
        await page.get_by_role("button", name="Request clarification", exact=True).click()
        await expect(page.get_by_role("status")).to_contain_text("Request clarification")
        await expect(page.locator(".facts").first).to_contain_text("Clarification requested")
        pledge_url = page.url.split("?")[0]

        # The focal point answers the clarification.
        fp_context, fp_page = await signed_in(browser, "State focal point", member_state="GHA")
        await fp_page.goto(pledge_url)
        await expect(fp_page.get_by_role("button", name="Accept")).to_have_count(0)
        await fp_page.get_by_role("button", name="Resubmit", exact=True).click()
        await expect(fp_page.get_by_role("main")).to_contain_text(
            "Which units will the women officers come from?"
        )
        await field(fp_page, "Answer").fill("From the national gendarmerie's FPU training centre.")
        await fp_page.get_by_role("button", name="Resubmit", exact=True).click()
        await expect(fp_page.get_by_role("status")).to_contain_text("Resubmit")
        await fp_context.close()

        await page.goto(pledge_url)
        await expect(page.locator(".facts").first).to_contain_text("Under review")
        await step(page, "Accept", {"Note": "Consistent with the force generation plan"})
        await expect(page.locator(".facts").first).to_contain_text("Accepted")
        await expect(page.get_by_role("main")).to_contain_text("Next report due")
        await shot(page, "pledge-accepted")
        faults += await axe(browser, context, page)
        await context.close()
    assert faults == []


async def test_a_focal_point_submits_a_pledge_and_reports_progress(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    title = f"Twenty-five per cent women in our FPUs {tag()}"
    async with chromium() as browser:
        context, page = await signed_in(browser, "State focal point", member_state="SEN", name="Awa Ndiaye")
        await page.get_by_role("navigation", name="Main").get_by_role("link", name="Pledges").click()
        area = page.get_by_role("navigation", name="Pledges area")
        await area.get_by_role("link", name="Submit a pledge").click()
        await expect(page.get_by_role("group", name="Measurable")).to_contain_text("How progress is measured")
        await expect(field(page, "Member state")).to_have_value("SEN")
        await field(page, "Kind").select_option(label="Gender parity")
        await field(page, "Title").fill(title)
        await field(page, "Indicator").fill("Share of women in formed police units")
        await field(page, "Baseline").fill("12")
        await field(page, "Target").fill("25")
        await field(page, "Unit").fill("percent")
        await field(page, "Resources").fill("Two recruitment campaigns and a training course")
        await field(page, "Target date").fill(NEXT_YEAR)
        await shot(page, "pledge-new")
        faults = await axe(browser, context, page)
        submit_button = page.get_by_role("button", name="Submit the pledge")
        await submit_button.dblclick()  # a double click submits one pledge
        await expect(page.get_by_role("status")).to_contain_text("Submit pledge")
        await expect(page.get_by_role("heading", level=1)).to_have_text(title)
        await expect(page.get_by_role("main")).to_contain_text("from 12 to 25 percent")
        pledge_id = page.url.split("/pledges/")[1].split("?")[0]
        listed = await http.get(
            url("pledges", "/pledges"),
            params={"member_state": "SEN", "limit": 100},
            headers=bearer(settings, Role.PLANNER),
        )
        assert [p["title"] for p in listed.json()["items"]].count(title) == 1

        for action in ("acknowledge", "start_review", "accept"):
            await act(http, settings, pledge_id, action)
        await page.reload()
        await step(
            page,
            "Report progress",
            {
                "Period": f"{NEXT_YEAR[:4]}-H1",
                "Stage": "In progress",
                "Value": "18",
                "Narrative": "Two more women commanders.",
            },
        )
        await expect(page.get_by_role("table", name="Progress reported")).to_contain_text(
            "Two more women commanders."
        )
        await expect(page.locator(".facts").first).to_contain_text("In progress")
        await shot(page, "pledge-reported")
        faults += await axe(browser, context, page)

        # Its own State's pledges only, and the follow-up of them.
        await area.get_by_role("link", name="Our pledges").click()
        await expect(page.get_by_role("link", name=title)).to_be_visible()
        await area.get_by_role("link", name="Follow-up").click()
        await expect(page.get_by_role("table", name=re.compile("By Member State"))).to_contain_text("SEN")
        await expect(page.get_by_role("table", name=re.compile("By Member State"))).not_to_contain_text("GHA")
        await shot(page, "pledge-follow-up-focal-point")
        faults += await axe(browser, context, page)
        # A withdrawal says why.
        await page.goto(url("console", f"/pledges/{pledge_id}"))
        await step(page, "Withdraw", {"Reason": "The State withdraws the pledge for now"})
        await expect(page.locator(".facts").first).to_contain_text("Withdrawn")
        await context.close()
    assert faults == []


def import_file(summit: str, rows: int, t: str) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["member_state", "summit", "kind", "title", "target_date"])
    states = ["GHA", "SEN", "CIV", "FRA", "CHN", "RWA", "NPL", "IND", "BGD", "EGY"]
    for i in range(rows):
        writer.writerow(
            [
                states[i % len(states)],
                summit,
                "equipment_training",
                f"Côte {t} training course {i:03d}",
                NEXT_YEAR,
            ]
        )
    writer.writerow(["XXA", summit, "gender_parity", f"Unknown State {t}", NEXT_YEAR])
    writer.writerow(["GHA", summit, "flying_cars", f"Bad kind {t}", NEXT_YEAR])
    return "\ufeff" + out.getvalue()  # as a spreadsheet saves "CSV UTF-8"


async def test_a_bulk_import_is_previewed_run_and_its_rejected_rows_downloaded(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    t = tag()
    summit = f"IMPC-{t}"
    planner = bearer(settings, Role.PLANNER)
    async with chromium() as browser:
        context, page = await signed_in(browser, "Planner")
        await (
            page.get_by_role("navigation", name="Pledges area")
            .get_by_role("link", name="Import pledges")
            .click()
        )
        await shot(page, "pledge-import")
        faults = await axe(browser, context, page)
        await field(page, "CSV file").set_input_files(
            FilePayload(name="pledges.csv", mimeType="text/csv", buffer=import_file(summit, 120, t).encode())
        )
        await page.get_by_role("button", name="Preview the import").click()
        status = page.get_by_role("status")
        await expect(status).to_contain_text("nothing is stored yet")
        await expect(status).to_contain_text("122 rows read: 120 would be imported, 2 rejected")
        rejected = page.get_by_role("table", name="Rows that would be rejected")
        await expect(rejected.get_by_role("row", name=re.compile(r"^122 member_state"))).to_be_visible()
        await expect(rejected.get_by_role("row", name=re.compile(r"^123 kind"))).to_be_visible()
        await shot(page, "pledge-import-preview")
        faults += await axe(browser, context, page)
        found = await http.get(url("pledges", "/pledges"), params={"summit": summit}, headers=planner)
        assert found.json()["items"] == []  # a dry run stores nothing

        await page.get_by_role("button", name="Import the 120 valid rows").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text("Importing pledges")
        progress = page.get_by_role("progressbar", name="Chunks imported")
        await expect(progress).to_have_attribute("max", "3")
        await expect(page.get_by_role("status")).to_contain_text(
            "The import is finished: 120 pledges imported, 2 rows rejected", timeout=60_000
        )
        await expect(progress).to_have_attribute("value", "3")
        await shot(page, "pledge-import-run")
        faults += await axe(browser, context, page)
        async with page.expect_download() as downloading:
            await page.get_by_role("link", name="Download the rejected rows as CSV").click()
        download = await downloading.value
        content = (await download.path()).read_bytes()
        assert content.startswith(b"\xef\xbb\xbf")
        rows = list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))
        assert [(r["member_state"], r["kind"]) for r in rows] == [
            ("XXA", "gender_parity"),
            ("GHA", "flying_cars"),
        ]
        assert "XXA is not a UN Member State" in rows[0]["rejected_because"]
        assert rows[1]["rejected_because"].startswith("kind:")

        # Stored once, each row, even when the confirmation is sent again.
        preview_url = page.url
        stored: list[dict[str, Any]] = []
        params: dict[str, Any] = {"summit": summit, "limit": 500}
        stored = (await http.get(url("pledges", "/pledges"), params=params, headers=planner)).json()["items"]
        assert len(stored) == 120 and len({p["title"] for p in stored}) == 120
        assert any(p["title"] == f"Côte {t} training course 000" for p in stored)
        assert "/runs/" in preview_url

        # Fixed and sent back: the console drops its own column.
        fixed = content.decode("utf-8-sig").replace("XXA", "KEN").replace("flying_cars", "other")
        await page.goto(url("console", "/pledges/import"))
        await field(page, "CSV file").set_input_files(
            FilePayload(name="fixed.csv", mimeType="text/csv", buffer=fixed.encode("utf-8-sig"))
        )
        await page.get_by_role("button", name="Preview the import").click()
        await expect(page.get_by_role("status")).to_contain_text(
            "2 rows read: 2 would be imported, 0 rejected"
        )

        # A file the pledges API cannot read at all: its reason, beside the field and in the summary.
        await page.goto(url("console", "/pledges/import"))
        await field(page, "CSV file").set_input_files(
            FilePayload(
                name="odd.csv",
                mimeType="text/csv",
                buffer=b"member_state,kind,title,colour\nGHA,other,Odd,blue\n",
            )
        )
        await page.get_by_role("button", name="Preview the import").click()
        await expect(page.get_by_role("alert")).to_contain_text("unknown column 'colour'")
        await expect(page.get_by_role("alert")).to_be_focused()
        await shot(page, "pledge-import-refused")
        faults += await axe(browser, context, page)
        await context.close()
    assert faults == []


async def test_the_follow_up_and_its_csv_export(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    pledge = await submit(http, settings, "CIV", f"Formation des unités de police de Côte d'Ivoire {tag()}")
    for action in ("acknowledge", "start_review", "accept"):
        await act(http, settings, pledge["id"], action)
    async with chromium() as browser:
        context, page = await signed_in(browser, "Planner")
        await page.goto(url("console", "/pledges/follow-up?member_state=CIV"))
        await expect(page.get_by_role("img", name=re.compile("By Member State"))).to_contain_text("CIV")
        table = page.get_by_role("table", name=re.compile("By kind"))
        await expect(table.get_by_role("row", name=re.compile("^Gender parity"))).to_be_visible()
        await shot(page, "pledge-follow-up")
        faults = await axe(browser, context, page)
        await field(page, "Traffic light").select_option(label="Green")
        await page.get_by_role("button", name="Show").click()
        await expect(page.get_by_role("link", name=pledge["title"])).to_be_visible()
        async with page.expect_download() as downloading:
            await page.get_by_role("link", name="Download these pledges as CSV").click()
        content = (await (await downloading.value).path()).read_bytes()
        assert content.startswith(b"\xef\xbb\xbf")
        exported = list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))
        assert pledge["title"] in [row["title"] for row in exported]
        assert {row["member_state"] for row in exported} == {"CIV"}
        await context.close()
    assert faults == []


async def test_the_pledge_pages_in_french(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    pledge = await submit(http, settings, "SEN", f"Des femmes dans nos unités {tag()}")
    await act(http, settings, pledge["id"], "acknowledge")
    async with chromium() as browser:
        context, page = await signed_in(browser, "Planificateur", locale="fr-FR")
        await expect(page.locator("html")).to_have_attribute("lang", "fr")
        faults: list[str] = []
        pages = [
            ("/pledges", "Engagements à examiner"),
            (f"/pledges/{pledge['id']}", pledge["title"]),
            (f"/pledges/{pledge['id']}/steps/start_review", None),
            ("/pledges/follow-up", "Suivi des engagements"),
            ("/pledges/import", "Importer des engagements"),
        ]
        for path, heading in pages:
            await page.goto(url("console", path))
            if heading:
                await expect(page.get_by_role("heading", level=1)).to_have_text(heading)
            faults += await axe(browser, context, page)
        await shot(page, "pledge-import-fr")
        # The import's preview and run, in French.
        await field(page, "Fichier CSV").set_input_files(
            FilePayload(
                name="engagements.csv",
                mimeType="text/csv",
                buffer=import_file(f"FR-{tag()}", 3, tag()).encode(),
            )
        )
        await page.get_by_role("button", name="Prévisualiser l'importation").click()
        await expect(page.get_by_role("status")).to_contain_text(
            "5 lignes lues : 3 seraient importées, 2 rejetées."
        )
        await shot(page, "pledge-import-preview-fr")
        faults += await axe(browser, context, page)
        await page.get_by_role("button", name="Importer les 3 lignes valides").click()
        await expect(page.get_by_role("status")).to_contain_text("L'importation est terminée", timeout=60_000)
        await shot(page, "pledge-import-run-fr")
        faults += await axe(browser, context, page)
        await page.goto(url("console", "/pledges/follow-up"))
        await shot(page, "pledge-follow-up-fr")
        await context.close()
        context, page = await signed_in(browser, "Point focal d'un État", member_state="SEN", locale="fr-FR")
        await page.goto(url("console", "/pledges/new"))
        await expect(page.get_by_role("group", name="Mesurable")).to_be_visible()
        await shot(page, "pledge-new-fr")
        faults += await axe(browser, context, page)
        await page.goto(url("console", f"/pledges/{pledge['id']}"))
        await expect(page.get_by_role("button", name="Retirer")).to_be_visible()
        await shot(page, "pledge-fr")
        faults += await axe(browser, context, page)
        await context.close()
    assert faults == []
