"""The partner guide's code (docs/partners.md, "Quick start for partners") runs as it is written there: the
webhook verifier against signatures made here (and the Standard Webhooks specification's own example), the
consumer against the real broker. A change to the guide that breaks either fails here."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import re
import secrets
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from deploy.stack import LocalStack
from services.common.kafka import plain_producer
from services.common.settings import Settings
from tests.unit.contracts.test_generated_files import _example_data
from uncops_contracts import CloudEvent, encode_kafka
from uncops_contracts.cases import AllegationRecorded
from uncops_contracts.topics import CASES_PUBLIC

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "partners.md"
Verify = Callable[..., bool]


def snippet(name: str) -> str:
    """The guide's ```python block whose first line is `# <name>`."""
    blocks: list[str] = re.findall(r"```python\n(.*?)```", GUIDE.read_text(), flags=re.DOTALL)
    (block,) = [b for b in blocks if b.startswith(f"# {name}\n")]
    return block


def _lines_of_code(block: str) -> int:
    return len([line for line in block.splitlines()[1:] if line.strip()])


@pytest.mark.parametrize("name", ["verify_webhook.py", "consumer.py"])
def test_the_snippets_are_about_ten_lines(name: str) -> None:
    assert _lines_of_code(snippet(name)) <= 11, "the guide promises ten lines or so"


# ------------------------------------------------------------------ the webhook verifier


@pytest.fixture
def verify() -> Verify:
    namespace: dict[str, Any] = {}
    exec(compile(snippet("verify_webhook.py"), "verify_webhook.py", "exec"), namespace)
    return cast(Verify, namespace["verify"])


def _sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    # Standard Webhooks, written out here apart from the guide: HMAC-SHA256 over "<id>.<timestamp>.<body>".
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, msg_id.encode() + b"." + str(timestamp).encode() + b"." + body, hashlib.sha256)
    return "v1," + base64.b64encode(mac.digest()).decode()


def _secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def _delivery(secret: str, body: bytes, at: int | None = None, msg_id: str = "msg_1") -> dict[str, str]:
    timestamp = int(time.time()) if at is None else at
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": _sign(secret, msg_id, timestamp, body),
    }


BODY = json.dumps(
    {"specversion": "1.0", "id": "e-1", "type": "org.un.uncops.cases.allegation_recorded.v1"}
).encode()


def test_the_verifier_accepts_the_specifications_example(
    verify: Verify, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The example of the Standard Webhooks specification (and of its reference libraries' tests).
    monkeypatch.setattr(time, "time", lambda: 1614265330.0 + 60)
    headers = {
        "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "webhook-timestamp": "1614265330",
        "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    }

    assert verify("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", headers, b'{"test": 2432232314}')
    assert not verify("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", headers, b'{"test": 2432232315}')


def test_the_verifier_accepts_a_fresh_delivery_and_either_secret_of_a_rotation(verify: Verify) -> None:
    secret, previous = _secret(), _secret()
    headers = _delivery(secret, BODY)

    assert verify(secret, headers, BODY)
    # While a secret is rotated, a delivery carries one signature per valid secret.
    both = f"{_delivery(previous, BODY)['webhook-signature']} {headers['webhook-signature']}"
    rotated = {**headers, "webhook-signature": both}
    assert verify(secret, rotated, BODY) and verify(previous, rotated, BODY)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda h, s: (h, BODY + b" "),  # the body changed on the way
        lambda h, s: ({**h, "webhook-id": "msg_2"}, BODY),  # another delivery's id
        lambda h, s: (_delivery(_secret(), BODY), BODY),  # signed with someone else's secret
        lambda h, s: (_delivery(s, BODY, at=int(time.time()) - 3600), BODY),  # an old delivery replayed
        lambda h, s: (_delivery(s, BODY, at=int(time.time()) + 3600), BODY),  # from the future
        lambda h, s: ({**h, "webhook-signature": "v1,"}, BODY),  # no signature at all
    ],
    ids=["body", "id", "secret", "replayed", "future", "empty"],
)
def test_the_verifier_refuses(verify: Verify, tamper: Callable[..., tuple[dict[str, str], bytes]]) -> None:
    secret = _secret()
    headers, body = tamper(_delivery(secret, BODY), secret)

    assert not verify(secret, headers, body)


# ------------------------------------------------------------------ the consumer, on the real broker


@contextlib.contextmanager
def _running(code: str) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        yield process
    finally:
        process.kill()
        process.wait(10)


async def test_the_consumer_prints_public_events_and_skips_unknown_types(
    stack: LocalStack, settings: Settings
) -> None:
    payload = AllegationRecorded.model_validate(_example_data(AllegationRecorded))
    known = CloudEvent.of(payload, subject=f"al-{uuid.uuid4().hex[:8]}")
    future = known.model_copy(
        update={"id": str(uuid.uuid4()), "type": "org.un.uncops.cases.something_new.v1"}
    )
    producer = plain_producer(settings, "test-partner-guide")
    await producer.start()
    try:
        for event in (future, known):  # a type this contracts version lacks comes first: skipped, not fatal
            headers, value = encode_kafka(event)
            await producer.send_and_wait(
                CASES_PUBLIC.name, value, key=event.subject.encode(), headers=headers
            )
    finally:
        await producer.stop()
    code = snippet("consumer.py").replace("127.0.0.1:9092", settings.kafka_bootstrap_servers)
    code = code.replace('group_id="my-view"', f'group_id="guide-{uuid.uuid4().hex[:8]}"')

    with _running(code) as process:
        assert process.stdout is not None and process.stderr is not None
        lines: list[str] = []
        deadline = time.monotonic() + 60
        while not any(line.startswith(known.id) for line in lines):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            with contextlib.suppress(TimeoutError):
                line = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), remaining)
                if not line:
                    break
                lines.append(line)
        printed = [line for line in lines if line.startswith(known.id)]
        running = process.poll() is None
        if not printed or not running:
            process.kill()
            pytest.fail(f"the consumer printed {lines!r}, running={running}; stderr: {process.stderr.read()}")

    (line,) = printed
    assert f"{known.id} {known.type} {known.subject} " in line
    assert f"allegation_id='{payload.allegation_id}'" in line
    assert not any(line.startswith(future.id) for line in lines)
