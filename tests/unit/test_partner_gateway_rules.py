"""The partner gateway's rules without servers: Standard Webhooks signatures (checked with the
``standardwebhooks`` package, as a receiver would), the SSRF rule for webhook targets, the retry schedule,
the feed's cursor and order, each partner's topic scope, and the email to a failing subscription's contact."""

from __future__ import annotations

import base64
import ipaddress
import json
import random
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import SecretStr
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from services.common import mail
from services.common.errors import InvalidField
from services.common.settings import Settings
from services.partners import service
from services.partners.domain import feed, notices, retries, scope, signing, targets

PRODUCTION = Settings(
    environment="production",
    jwt_secret=SecretStr("a-real-production-secret-for-this-test"),
    victim_data_keys=SecretStr("k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="),
)
DEVELOPMENT = Settings(environment="test")


# ---- signatures


def test_a_signature_verifies_with_the_standard_webhooks_package() -> None:
    secret = signing.new_secret()
    assert secret.startswith("whsec_") and 24 <= len(signing.key_of(secret)) <= 64
    body = json.dumps({"id": "e-1", "data": {"é": 1}}, ensure_ascii=False).encode()
    headers = signing.headers([secret], "e-1", int(time.time()), body)
    assert Webhook(secret).verify(body, headers) == {"id": "e-1", "data": {"é": 1}}
    with pytest.raises(WebhookVerificationError):
        Webhook(signing.new_secret()).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body + b" ", headers)


def test_during_a_rotation_both_secrets_verify() -> None:
    old, new = signing.new_secret(), signing.new_secret()
    body = b'{"id":"e-2"}'
    headers = signing.headers([new, old], "e-2", int(time.time()), body)
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert Webhook(old).verify(body, headers) == {"id": "e-2"}
    assert Webhook(new).verify(body, headers) == {"id": "e-2"}


def test_the_signature_is_the_specifications_example() -> None:
    # The example of the Standard Webhooks specification (spec/standard-webhooks.md, "Signature scheme").
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert signing.signature(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body) == expected


# ---- targets (SSRF)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://[::1]:8080/hook",
        "http://10.1.2.3/hook",
        "https://192.168.0.10/hook",
        "http://172.16.5.4/hook",
        "http://169.254.169.254/latest/meta-data",  # cloud metadata
        "http://[fe80::1]/hook",
        "http://[fd00::1]/hook",
        "http://[::ffff:10.0.0.1]/hook",
        "http://0.0.0.0/hook",
    ],
)
async def test_production_refuses_loopback_private_and_link_local_targets(url: str) -> None:
    with pytest.raises(InvalidField) as refused:
        await service.check_target(PRODUCTION, url)
    assert refused.value.field == "url"


@pytest.mark.parametrize(
    "url", ["ftp://example.org/x", "file:///etc/passwd", "http:///nohost", "http://u:p@x.org/"]
)
async def test_only_http_urls_with_a_host_and_no_credentials(url: str) -> None:
    for settings in (PRODUCTION, DEVELOPMENT):
        with pytest.raises(InvalidField):
            await service.check_target(settings, url)


async def test_production_checks_every_address_a_name_resolves_to(monkeypatch: pytest.MonkeyPatch) -> None:
    answers: dict[str, list[str]] = {
        "public.example": ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"],
        "sneaky.example": ["93.184.215.14", "10.0.0.7"],
        "nowhere.example": [],
    }

    async def resolve(host: str, port: int) -> list[Any]:
        return [ipaddress.ip_address(a) for a in answers[host]]

    monkeypatch.setattr(service, "resolve", resolve)
    await service.check_target(PRODUCTION, "https://public.example/hook")
    with pytest.raises(InvalidField, match=r"10\.0\.0\.7 is a private address"):
        await service.check_target(PRODUCTION, "https://sneaky.example/hook")
    with pytest.raises(InvalidField, match="does not resolve"):
        await service.check_target(PRODUCTION, "https://nowhere.example/hook")


async def test_an_allow_list_admits_a_private_network_in_production() -> None:
    allowing = PRODUCTION.model_copy(update={"webhook_allowed_networks": ["10.20.0.0/16"]})
    await service.check_target(allowing, "http://10.20.3.4/hook")
    with pytest.raises(InvalidField):
        await service.check_target(allowing, "http://10.21.3.4/hook")


async def test_development_and_test_allow_loopback_only() -> None:
    await service.check_target(DEVELOPMENT, "http://127.0.0.1:9000/hook")
    await service.check_target(DEVELOPMENT, "http://localhost:9000/hook")  # not resolved outside production
    with pytest.raises(InvalidField):
        await service.check_target(DEVELOPMENT, "http://169.254.169.254/")


def test_refusal_reasons_name_the_address() -> None:
    assert targets.refusal(ipaddress.ip_address("8.8.8.8"), [], allow_loopback=False) is None
    assert targets.refusal(ipaddress.ip_address("127.0.0.1"), [], allow_loopback=False) == (
        "127.0.0.1 is a loopback address"
    )


# ---- retries


def test_the_default_schedule_spans_about_three_days_then_stops() -> None:
    schedule = Settings(environment="test").webhook_retry_seconds
    total = sum(schedule)
    assert 2.5 * 86400 <= total <= 3 * 86400
    rng = random.Random(7)
    waits = [retries.next_wait(schedule, n, rng) for n in range(1, len(schedule) + 1)]
    assert all(w is not None and base <= w <= base * 1.2 for w, base in zip(waits, schedule, strict=True))
    assert retries.next_wait(schedule, len(schedule) + 1) is None


def test_the_schedule_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UNCOPS_WEBHOOK_RETRY_SECONDS", "[0.5, 1, 2]")
    assert Settings(environment="test").webhook_retry_seconds == [0.5, 1, 2]


# ---- the feed


def test_a_cursor_round_trips_and_belongs_to_its_topic() -> None:
    cursor = feed.encode_cursor("uncops.pledges.v1", {0: 12, 2: 5, 1: 0})
    assert feed.decode_cursor(cursor, "uncops.pledges.v1") == {0: 12, 1: 0, 2: 5}
    with pytest.raises(feed.BadCursor, match="another topic"):
        feed.decode_cursor(cursor, "uncops.summit.v1")


@pytest.mark.parametrize(
    "cursor",
    [
        "not base64!",
        base64.urlsafe_b64encode(b"[1, 2]").decode(),
        base64.urlsafe_b64encode(b'{"t": "uncops.pledges.v1", "o": {"0": -1}}').decode(),
        base64.urlsafe_b64encode(b'{"t": "uncops.pledges.v1", "o": {"x": 1}}').decode(),
        base64.urlsafe_b64encode(b'{"t": "uncops.pledges.v1", "o": {"0": true}}').decode(),
    ],
)
def test_a_cursor_not_made_here_is_refused(cursor: str) -> None:
    with pytest.raises(feed.BadCursor):
        feed.decode_cursor(cursor, "uncops.pledges.v1")


def test_pages_merge_partitions_by_time_and_keep_each_partitions_order() -> None:
    def run(partition: int, *stamps: int) -> list[feed.Positioned]:
        return [
            feed.Positioned(partition, offset, stamp, f"{partition}:{offset}")
            for offset, stamp in enumerate(stamps)
        ]

    # Partition 1's clock went back (a later offset with an earlier time): its order is kept all the same.
    runs = {0: run(0, 10, 30, 50), 1: run(1, 20, 15, 60), 2: run(2)}
    page = feed.merged(runs, 4)
    assert [p.event for p in page] == ["0:0", "1:0", "1:1", "0:1"]
    offsets = feed.advanced({0: 0, 1: 0, 2: 0}, page)
    assert offsets == {0: 2, 1: 2, 2: 0}
    # The next page starts exactly where this one ended: nothing skipped, nothing repeated.
    rest = {p: [x for x in r if x.offset >= offsets[p]] for p, r in runs.items()}
    assert [p.event for p in feed.merged(rest, 10)] == ["0:2", "1:2"]


# ---- scope


def test_every_partner_reads_the_public_topics_and_only_a_grant_opens_case_detail() -> None:
    public = {"uncops.pledges.v1", "uncops.cases.public.v1", "uncops.summit.v1"}
    assert scope.readable_topics([]) == public
    assert scope.readable_topics(["uncops.cases.v1"]) == public | {"uncops.cases.v1"}
    assert scope.readable_topics(["no.such.topic"]) == public
    with pytest.raises(service.TopicForbidden) as refused:
        service.check_event_types(["org.un.uncops.cases.case_changed.v1"], scope.readable_topics([]))
    assert (refused.value.status_code, refused.value.field) == (403, "event_types.0")
    with pytest.raises(InvalidField, match="unknown event type"):
        service.check_event_types(["org.un.uncops.cases.nothing.v1"], scope.readable_topics([]))


# ---- the contact's email when a subscription fails (issue 18)


def test_the_failing_email_names_the_subscription_its_error_and_the_way_back() -> None:
    since = datetime(2026, 12, 6, 14, 5, 9, tzinfo=UTC)
    said = notices.failing_email("sub_1", "https://partner.example.org/hook", since, "HTTP 503")
    assert said.subject == "[UNCOPS] Webhook subscription sub_1 is failing"
    assert "Subscription: sub_1\nURL: https://partner.example.org/hook\n" in said.body
    assert "Failing since: 2026-12-06 14:05:09 UTC\nLast error: HTTP 503\n" in said.body
    assert "    POST /webhooks/subscriptions/sub_1/resume\n" in said.body
    message = mail.plain_message(
        DEVELOPMENT,
        to="ops@example.org",
        subject=said.subject,
        body=said.body,
        message_id=notices.message_id("ntf_1"),
        date=since,
    )
    assert message["Message-ID"] == "<ntf_1@partners.uncops>" == notices.message_id("ntf_1")
    assert message["To"] == "ops@example.org" and message["Auto-Submitted"] == "auto-generated"
    assert message.get_content_type() == "text/plain" and message["Content-Language"] == "en"


def test_an_email_not_taken_waits_longer_each_time_up_to_an_hour() -> None:
    waits = [notices.retry_after(attempts).total_seconds() for attempts in range(10)]
    assert waits[:3] == [30, 60, 120] and waits == sorted(waits) and waits[-1] == 3600
