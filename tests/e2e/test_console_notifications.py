"""Notifications to people (issue 18) in Debian's Chromium: a planner's bell counts the milestones falling
due, the list links to the milestones, one and then all are marked as read, the preferences are radio groups
with legends and an email field; the same pages in French; axe-core clean; found by role and label only."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

from aiokafka import AIOKafkaProducer
from playwright.async_api import expect

from deploy.stack import LocalStack
from services.common.settings import Settings
from tests.e2e.console import accessibility_faults, chromium, field, shot, signed_in
from uncops_contracts import CloudEvent, encode_kafka
from uncops_contracts.summit import MilestoneDue
from uncops_contracts.topics import SUMMIT


async def milestones_due(settings: Settings, titles: list[str]) -> str:
    summit_id = str(uuid.uuid4())
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, acks="all")
    await producer.start()
    try:
        for n, title in enumerate(titles):
            payload = MilestoneDue(
                milestone_id=str(uuid.uuid4()),
                summit_id=summit_id,
                title=title,
                due_at=datetime.now(UTC) + timedelta(days=10 + n),
            )
            headers, value = encode_kafka(CloudEvent.of(payload, subject=summit_id))
            await producer.send_and_wait(SUMMIT.name, value, key=summit_id.encode(), headers=headers)
    finally:
        await producer.stop()
    return summit_id


async def test_the_bell_the_list_mark_as_read_and_the_preferences(
    platform: LocalStack, settings: Settings
) -> None:
    tag = uuid.uuid4().hex[:6]
    async with chromium() as browser:
        context, page = await signed_in(browser, "Planner", name=f"Planner {tag}")
        summit_id = await milestones_due(settings, [f"Venue contract {tag}", f"Catering {tag}"])
        bell = page.get_by_role("link", name=re.compile(r"^Notifications"))
        for _ in range(60):
            await page.reload()
            if await bell.inner_text() == "Notifications, 2 unread":
                break
            await page.wait_for_timeout(500)
        await expect(bell).to_have_text("Notifications, 2 unread")
        await bell.click()
        await expect(page.get_by_role("heading", level=1)).to_have_text("Notifications")
        newest = page.get_by_role("link", name=re.compile(f"Catering {tag}"))
        await expect(newest).to_have_attribute("href", f"/summits/{summit_id}/milestones")
        await shot(page, "notifications")
        faults = await accessibility_faults(browser, page.url, await context.cookies())

        await page.get_by_role("button", name=re.compile(f"^Mark as read: .*Catering {tag}")).click()
        await expect(page.get_by_role("status")).to_have_text("Marked as read.")
        await expect(page.get_by_role("link", name="Notifications, 1 unread")).to_be_visible()
        await page.get_by_role("button", name="Mark all as read").click()
        await expect(page.get_by_role("status")).to_have_text("All your notifications are marked as read.")
        await expect(page.get_by_role("link", name="Notifications", exact=True)).to_be_visible()

        await page.get_by_role("link", name="Choose which emails you receive").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text("Notification settings")
        await field(page, "Email").fill(f"planner-{tag}@un.test")
        milestones = page.get_by_role("group", name="A summit milestone falls due")
        await milestones.get_by_role("radio", name="Daily digest").check()
        await (
            page.get_by_role("group", name="A summit's funding gap")
            .get_by_role("radio", name="No email")
            .check()
        )
        await page.get_by_role("button", name="Save settings").click()
        await expect(page.get_by_role("status")).to_have_text("Your settings are saved.")
        await expect(milestones.get_by_role("radio", name="Daily digest")).to_be_checked()
        await expect(field(page, "Email")).to_have_value(f"planner-{tag}@un.test")
        await shot(page, "notification-settings")
        faults += await accessibility_faults(browser, page.url, await context.cookies())

        await page.get_by_role("button", name="Français").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text("Paramètres des notifications")
        await expect(
            page.get_by_role("group", name="Un jalon d'un sommet arrive à échéance").get_by_role(
                "radio", name="Récapitulatif quotidien"
            )
        ).to_be_checked()
        await shot(page, "notification-settings-fr")
        faults += await accessibility_faults(browser, page.url, await context.cookies())
        await page.get_by_role("link", name="Notifications", exact=True).click()
        await expect(page.get_by_role("link", name=re.compile(f"« Catering {tag} »"))).to_be_visible()
        await shot(page, "notifications-fr")
        faults += await accessibility_faults(browser, page.url, await context.cookies())

        await page.get_by_role("link", name="Courriels interceptés").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text("Courriels interceptés")
        faults += await accessibility_faults(browser, page.url, await context.cookies())
        await context.close()
    assert faults == []
