"""The Idempotency-Key rules that need no server: which keys are well formed, what makes two requests the
same, which answers are kept, what a retry gets, and the Update ids a request's steps carry."""

from __future__ import annotations

import asyncio
import contextvars
from typing import Any

import pytest

from services.common import idempotency
from services.common.commands import bounded_update
from services.common.errors import InvalidField, OutcomeUnknown
from services.common.idempotency import (
    AnswerLost,
    Found,
    KeyInFlight,
    KeyReused,
    StoredAnswer,
    UpdateId,
    decide,
)
from services.common.settings import Settings


@pytest.mark.parametrize("key", ["a", "3f1c2d4e-0000-4000-8000-000000000001", "x" * 200, "retry:1/2~ok!"])
def test_a_well_formed_key_is_taken_as_sent(key: str) -> None:
    assert idempotency.checked_key(key) == key


@pytest.mark.parametrize("key", ["", "x" * 201, "with space", "tab\there", "é", "nul\x00"])
def test_a_malformed_key_is_refused_naming_the_header(key: str) -> None:
    with pytest.raises(InvalidField) as refused:
        idempotency.checked_key(key)
    assert refused.value.field == "Idempotency-Key"
    assert refused.value.status_code == 422


def test_the_same_json_in_another_order_is_the_same_request() -> None:
    first = idempotency.fingerprint("POST", "/cases", "", "application/json", b'{"a": 1, "b": [1, 2]}')
    again = idempotency.fingerprint("POST", "/cases", "", "application/json", b'{"b":[1,2],"a":1}')
    assert first == again
    other = idempotency.fingerprint("POST", "/cases", "", "application/json", b'{"a": 2, "b": [1, 2]}')
    assert other != first


def test_method_path_and_query_are_part_of_the_request() -> None:
    body = b"{}"
    base = idempotency.fingerprint("POST", "/cases/1/actions", "", "application/json", body)
    assert idempotency.fingerprint("PUT", "/cases/1/actions", "", "application/json", body) != base
    assert idempotency.fingerprint("POST", "/cases/2/actions", "", "application/json", body) != base
    assert idempotency.fingerprint("POST", "/cases/1/actions", "mode=x", "application/json", body) != base
    # The same parameters in another order are the same query.
    assert idempotency.fingerprint("POST", "/p", "a=1&b=2", "", body) == idempotency.fingerprint(
        "POST", "/p", "b=2&a=1", "", body
    )


def test_the_same_form_under_another_multipart_boundary_is_the_same_request() -> None:
    def form(boundary: str, content: bytes) -> str:
        body = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.pdf"\r\n\r\n'.encode()
            + content
            + f"\r\n--{boundary}--\r\n".encode()
        )
        return idempotency.fingerprint(
            "POST", "/cases/1/attachments", "", f"multipart/form-data; boundary={boundary}", body
        )

    assert form("abc123", b"%PDF-1") == form("zz9", b"%PDF-1")
    assert form("abc123", b"%PDF-1") != form("abc123", b"%PDF-2")


@pytest.mark.parametrize("status", [200, 201, 204, 404, 409, 412, 422])
def test_successes_and_definitive_refusals_are_kept(status: int) -> None:
    assert idempotency.kept(status)


@pytest.mark.parametrize("status", [401, 403, 408, 429, 500, 503])
def test_answers_a_retry_may_change_are_not_kept(status: int) -> None:
    assert not idempotency.kept(status)


ANSWER = StoredAnswer(201, {"location": "/cases/1", "content-type": "application/json"}, b'{"id":"1"}')


def test_a_retry_of_the_same_request_gets_the_first_answer_marked_replayed() -> None:
    answer = decide(Found("POST", "/cases", "f1", ANSWER), "POST", "/cases", "f1")
    response = answer.response()
    assert response.status_code == 201
    assert response.body == b'{"id":"1"}'
    assert response.headers["location"] == "/cases/1"
    assert response.headers["idempotent-replayed"] == "true"


def test_the_key_used_for_another_request_is_refused() -> None:
    with pytest.raises(KeyReused) as refused:
        decide(Found("POST", "/cases", "f1", ANSWER), "POST", "/cases", "f2")
    assert refused.value.status_code == 409
    assert "Idempotency-Key" in refused.value.detail
    with pytest.raises(KeyReused):
        decide(Found("POST", "/cases", "f1", ANSWER), "POST", "/summits", "f1")


def test_a_request_still_running_under_the_key_is_not_run_again() -> None:
    with pytest.raises(KeyInFlight) as refused:
        decide(Found("POST", "/cases", "f1", None), "POST", "/cases", "f1")
    assert refused.value.status_code == 409
    assert refused.value.headers == {"Retry-After": "1"}


def test_a_request_that_committed_and_died_is_answered_lost_not_run_again() -> None:
    with pytest.raises(AnswerLost) as lost:
        decide(Found("POST", "/cases", "f1", None, committed=True, abandoned=True), "POST", "/cases", "f1")
    assert lost.value.status_code == 409
    assert "was applied" in lost.value.detail
    # Still within its lease, it may yet answer; another request under the key is still refused.
    with pytest.raises(KeyInFlight):
        decide(Found("POST", "/cases", "f1", None, committed=True), "POST", "/cases", "f1")
    with pytest.raises(KeyReused):
        decide(Found("POST", "/cases", "f1", None, committed=True, abandoned=True), "POST", "/cases", "f2")


def test_a_request_without_a_key_sends_updates_without_an_id() -> None:
    assert UpdateId("case-1", "act").value is None


def test_a_retried_request_gives_its_updates_the_same_ids() -> None:
    def attempt() -> list[str | None]:
        token = idempotency._update_ids.set(
            idempotency._UpdateIds(idempotency.update_base("officer-1", "key-1", "f1"))
        )
        try:
            ids = []
            missing = UpdateId("delegation-1", "act")  # sent to a workflow not yet started: no answer
            ids.append(missing.value)
            sent = UpdateId("delegation-1", "act")  # sent again once started: the same id
            ids.append(sent.value)
            sent.answered()
            second = UpdateId("delegation-1", "act")  # a second step on the same workflow: its own id
            ids.append(second.value)
            second.answered()
            ids.append(UpdateId("plan-1", "act").value)
            return ids
        finally:
            idempotency._update_ids.reset(token)

    first = contextvars.copy_context().run(attempt)
    again = contextvars.copy_context().run(attempt)
    assert first == again
    assert first[0] == first[1] != first[2]
    assert first[3] != first[2]
    assert idempotency.update_base("officer-1", "key-1", "f1") != idempotency.update_base(
        "officer-2", "key-1", "f1"
    )


def test_the_header_is_declared_on_the_operation() -> None:
    extra = idempotency.declared({"parameters": [{"name": "x", "in": "query"}]})
    names = [parameter["name"] for parameter in extra["parameters"]]
    assert names == ["x", "Idempotency-Key"]


class _Unanswered:
    """A workflow handle whose Update never answers (its worker is down); records the Update ids sent."""

    id = "case-1"

    def __init__(self) -> None:
        self.ids: list[str | None] = []

    async def execute_update(self, update: str, request: Any, *, id: str | None, result_type: type) -> Any:
        self.ids.append(id)
        await asyncio.sleep(3600)


async def test_a_step_not_answered_in_time_is_503_with_retry_after() -> None:
    assert Settings().step_timeout_seconds == 5
    handle = _Unanswered()
    with pytest.raises(OutcomeUnknown) as unknown:
        await bounded_update(handle, "act", {}, dict, wait_seconds=0.05)  # type: ignore[arg-type]
    assert unknown.value.status_code == 503
    assert unknown.value.headers == {"Retry-After": "1"}
    assert "Idempotency-Key" in unknown.value.detail


async def test_a_retried_step_sends_its_update_under_the_same_id() -> None:
    handle = _Unanswered()
    base = idempotency.update_base("officer-1", "key-1", "f1")
    for _ in range(2):  # the first attempt, then the retry after its 503
        token = idempotency._update_ids.set(idempotency._UpdateIds(base))
        try:
            with pytest.raises(OutcomeUnknown):
                await bounded_update(handle, "act", {}, dict, wait_seconds=0.01)  # type: ignore[arg-type]
        finally:
            idempotency._update_ids.reset(token)
    assert handle.ids[0] is not None and handle.ids == [handle.ids[0]] * 2
