"""S3-compatible object storage (issue 20): where the cases service keeps its attachments, encrypted by the
caller before they get here (services/cases/domain/confidential.py), so the store only ever holds ciphertext.

aioboto3 (async, the AWS SDK's own request signing and retries) against AWS S3 or any S3-compatible server:
UNCOPS_S3_ENDPOINT_URL (unset: AWS), UNCOPS_S3_BUCKET, UNCOPS_S3_REGION; credentials from the standard
AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or an instance role). One client per process, opened on first use.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aioboto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from services.common.errors import DomainError
from services.common.settings import Settings

_MISSING = {"NoSuchKey", "404", "NotFound", "NoSuchBucket"}
RETRY_AFTER_SECONDS = 5


class ObjectStoreUnavailable(DomainError):
    """The object store did not answer (after the SDK's own retries), or refused us: 503, retry later."""

    status_code = 503

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}


@contextlib.contextmanager
def _unavailable(action: str) -> Iterator[None]:
    try:
        yield
    except (BotoCoreError, ClientError) as exc:
        # The reason (connection refused, access denied...) for the log; never a key or a credential.
        raise ObjectStoreUnavailable(f"the object store could not {action}: {type(exc).__name__}") from exc


class ObjectStore:
    def __init__(self, settings: Settings, credentials: tuple[str, str] | None = None) -> None:
        """``credentials`` (access key id, secret): only where the environment has none (the local stack's own
        process); otherwise the SDK's usual chain (AWS_* variables, a profile, an instance role)."""
        self.bucket = settings.s3_bucket
        self._settings = settings
        key_id, secret = credentials or (None, None)
        self._session = aioboto3.Session(aws_access_key_id=key_id, aws_secret_access_key=secret)
        self._stack = contextlib.AsyncExitStack()
        self._client: Any = None
        self._lock = asyncio.Lock()

    async def _s3(self) -> Any:
        async with self._lock:
            if self._client is None:
                self._client = await self._stack.enter_async_context(
                    self._session.client(
                        "s3",
                        endpoint_url=self._settings.s3_endpoint_url,
                        region_name=self._settings.s3_region,
                        # Path-style: works with every S3-compatible server (no per-bucket DNS name).
                        config=Config(s3={"addressing_style": "path"}, retries={"mode": "standard"}),
                    )
                )
            return self._client

    async def ensure_bucket(self) -> None:
        """Creates the bucket if it is missing (local stack and tests; production provisions its own)."""
        s3 = await self._s3()
        try:
            await s3.head_bucket(Bucket=self.bucket)
        except ClientError:
            await s3.create_bucket(Bucket=self.bucket)

    async def put(self, key: str, data: bytes) -> None:
        s3 = await self._s3()
        with _unavailable("store the document"):
            await s3.put_object(
                Bucket=self.bucket, Key=key, Body=data, ContentType="application/octet-stream"
            )

    async def get(self, key: str, first: int | None = None) -> bytes | None:
        """The object's bytes (only its ``first`` bytes if given), or None if there is none."""
        s3 = await self._s3()
        extra = {"Range": f"bytes=0-{first - 1}"} if first else {}
        with _unavailable("read the document"):
            try:
                answer = await s3.get_object(Bucket=self.bucket, Key=key, **extra)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in _MISSING:
                    return None
                raise
            async with answer["Body"] as body:
                data: bytes = await body.read()
        return data

    async def keys(self, prefix: str) -> AsyncIterator[str]:
        """Every object's key under ``prefix``, in key order."""
        s3 = await self._s3()
        async for page in s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents", ()):
                yield item["Key"]

    async def close(self) -> None:
        await self._stack.aclose()
        self._client = None
