"""The attachments' object store client (services/common/objects.py, issue 20) when the store is down."""

from __future__ import annotations

import socket

import pytest

from services.common.objects import ObjectStore, ObjectStoreUnavailable
from services.common.settings import Settings


async def test_an_object_store_that_does_not_answer_is_a_503_to_retry() -> None:
    # A closed port: a clear 503 with Retry-After once the SDK's own retries are spent, not a 500.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    store = ObjectStore(Settings(s3_endpoint_url=f"http://127.0.0.1:{closed}"), ("id", "secret"))
    try:
        with pytest.raises(ObjectStoreUnavailable, match="could not store the document") as refused:
            await store.put("cases/c/a", b"sealed")
        assert refused.value.status_code == 503 and refused.value.headers == {"Retry-After": "5"}
        with pytest.raises(ObjectStoreUnavailable, match="could not read the document"):
            await store.get("cases/c/a")
    finally:
        await store.close()
