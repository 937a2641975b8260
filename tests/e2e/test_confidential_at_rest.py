"""Confidential data at rest (issue 20): attachments encrypted in the S3-compatible object store (the local
stack's moto server), and a key rotation that re-encrypts every victim identity and attachment with nothing
lost, even when the re-encryption stops half-way."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import asyncpg
import httpx
import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from deploy.stack import REPO, LocalStack
from services.cases import queries, service
from services.cases.domain.confidential import (
    DOCUMENT_HEADER_MAX,
    LocalKeyRing,
    Vault,
    VictimIdentity,
    document_key_id,
    open_document,
    seal_document,
)
from services.cases.models import CaseRow, VictimIdentityRow
from services.common.auth import Role
from services.common.database import create_engine, session_factory
from services.common.migrations import upgrade
from services.common.objects import ObjectStore
from services.common.settings import Settings
from tests.conftest import bearer, url
from tests.e2e.test_case_lifecycle import intake

PDF = b"%PDF-1.4 synthetic witness statement, confidential\n" * 40
KEY_A, KEY_B = os.urandom(32), os.urandom(32)


def _store_settings(stack: LocalStack, bucket: str | None = None) -> Settings:
    env = stack.env()
    return Settings(
        environment="test",
        s3_endpoint_url=env["UNCOPS_S3_ENDPOINT_URL"],
        s3_bucket=bucket or env["UNCOPS_S3_BUCKET"],
    )


def _objects(stack: LocalStack, bucket: str | None = None) -> ObjectStore:
    env = stack.env()
    return ObjectStore(
        _store_settings(stack, bucket), (env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"])
    )


async def test_an_attachment_is_stored_encrypted_and_a_tampered_one_is_refused(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    officer = bearer(settings, Role.CONDUCT_OFFICER)
    case_id = (await http.post(url("cases", "/cases"), headers=officer, json=intake())).json()["case_id"]
    attached = await http.post(
        url("cases", f"/cases/{case_id}/attachments"),
        headers={**officer, "content-type": "application/pdf"},
        params={"filename": "déclaration témoin.pdf"},
        content=PDF,
    )
    assert attached.status_code == 200, attached.text
    attachment = attached.json()["attachments"][0]
    assert attachment["sha256"] == hashlib.sha256(PDF).hexdigest()
    download = url("cases", f"/cases/{case_id}/attachments/{attachment['attachment_id']}")

    objects = _objects(platform)
    key = service.attachment_key(case_id, attachment["attachment_id"])
    try:
        stored = await objects.get(key)
        assert stored is not None and len(stored) > len(PDF)
        assert b"witness" not in stored and b"%PDF" not in stored  # ciphertext only, in the store
        assert not (platform.run_dir / "attachments").exists()  # and nothing on the service's disk
        answer = await http.get(download, headers=officer)
        assert answer.status_code == 200 and answer.content == PDF
        assert answer.headers["content-type"] == "application/pdf"
        assert "d%C3%A9claration%20t%C3%A9moin.pdf" in answer.headers["content-disposition"]

        tampered = bytearray(stored)
        tampered[-200] ^= 0x01  # one bit of the body
        await objects.put(key, bytes(tampered))
        refused = await http.get(download, headers=officer)
        assert refused.status_code == 502, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert "integrity" in refused.json()["detail"] and b"witness" not in refused.content

        await objects.put(key, stored)  # put back: served again
        assert (await http.get(download, headers=officer)).content == PDF
    finally:
        await objects.close()


@pytest_asyncio.fixture
async def scratch_cases(stack: LocalStack) -> AsyncIterator[tuple[str, str]]:
    """A cases database of its own and a bucket of its own: (database URL, bucket)."""
    name = f"scratch_cases_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{stack.ports.postgres}/postgres")
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        database_url = f"postgresql+asyncpg://postgres@127.0.0.1:{stack.ports.postgres}/{name}"
        await asyncio.to_thread(upgrade, "cases", database_url)
        bucket = f"rekey-{uuid.uuid4().hex[:8]}"
        objects = _objects(stack, bucket)
        await objects.ensure_bucket()
        await objects.close()
        yield database_url, bucket
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


def _ring(*keys: str) -> LocalKeyRing:
    known = {"a": KEY_A, "b": KEY_B}
    return LocalKeyRing([(k, known[k]) for k in keys])


def _keys_setting(*keys: str) -> str:
    known = {"a": KEY_A, "b": KEY_B}
    return ",".join(f"{k}:{base64.urlsafe_b64encode(known[k]).decode()}" for k in keys)


async def _write_under_a(
    sessions: async_sessionmaker[AsyncSession], identities: dict[str, VictimIdentity]
) -> None:
    now = datetime.now(UTC)
    async with sessions() as session, session.begin():
        session.add(
            CaseRow(
                id="case-1",
                reference="MINUSCA-2026-R1",
                version=1,
                status="reported",
                mission="MINUSCA",
                personnel_category="individual_police_officer",
                police_contributing_country="SEN",
                category="category_1",
                allegation_type="sexual_exploitation",
                reported_on=date.today(),
                opened_at=now,
                updated_at=now,
                state={},
            )
        )
        await session.flush()
        vault = Vault(_ring("a"))
        for victim_id, identity in identities.items():
            session.add(
                VictimIdentityRow(
                    victim_id=victim_id, case_id="case-1", ciphertext=vault.seal(identity).encode()
                )
            )


def _rekey_command(
    stack: LocalStack, database_url: str, bucket: str, batch: int
) -> tuple[list[str], dict[str, str]]:
    env = stack.env(
        UNCOPS_ENV="test",
        CASES_DATABASE_URL=database_url,
        UNCOPS_S3_BUCKET=bucket,
        UNCOPS_VICTIM_DATA_KEYS=_keys_setting("b", "a"),
    )
    return [sys.executable, "-m", "uncops.cli", "rekey", "cases", "--batch", str(batch)], env


async def test_a_key_rotation_reencrypts_everything_and_an_interrupted_run_loses_nothing(
    stack: LocalStack, scratch_cases: tuple[str, str]
) -> None:
    database_url, bucket = scratch_cases
    engine = create_engine(database_url, pool_size=2)
    sessions = session_factory(engine)
    objects = _objects(stack, bucket)
    identities = {
        f"victim-{i:03}": VictimIdentity(name=f"Synthetic Person {i}", contact=f"+236 {i}") for i in range(7)
    }
    documents = {f"cases/case-1/doc-{i}": os.urandom(1000) + b"plain" for i in range(3)}
    try:
        # Everything written under key A.
        await _write_under_a(sessions, identities)
        for key, content in documents.items():
            await objects.put(key, seal_document(_ring("a"), content, key))

        async def readable(ring: LocalKeyRing) -> tuple[dict[str, str], dict[str, str]]:
            """Which key seals each record, after checking that ``ring`` opens every one to its plaintext."""
            async with sessions() as session:
                rows = {r.victim_id: r.ciphertext for r in await queries.identities_after(session, None, 100)}
            assert {v: Vault(ring).open(c) for v, c in rows.items()} == identities
            stored = {k: await objects.get(k) for k in documents}
            assert {k: open_document(ring, s or b"", k) for k, s in stored.items()} == documents
            return (
                {v: ring.key_id(c) for v, c in rows.items()},
                {k: document_key_id(ring, (s or b"")[:DOCUMENT_HEADER_MAX]) for k, s in stored.items()},
            )

        # B added, then made primary: a re-encryption that fails after 4 rows (a crash half-way).
        rotated = _ring("b", "a")

        class Crashing(Vault):
            calls = 0

            def reseal(self, ciphertext: bytes) -> bytes | None:
                Crashing.calls += 1
                if Crashing.calls == 5:
                    raise RuntimeError("crash in the middle of a batch")
                return super().reseal(ciphertext)

        with pytest.raises(RuntimeError, match="crash"):
            await service.rekey_victim_identities(sessions, Crashing(rotated), batch_size=2)
        by_key, _ = await readable(rotated)  # nothing lost: each row under A or B, all readable
        assert sorted(by_key.values()) == ["a"] * 3 + ["b"] * 4  # two batches committed, the third not

        # The command, run again to the end (the rows already under B are skipped).
        argv, env = _rekey_command(stack, database_url, bucket, batch=3)
        done = await asyncio.to_thread(
            subprocess.run,
            argv,
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        for line in (
            "3/7 checked, 0 re-encrypted",
            "6/7 checked, 2 re-encrypted",
        ):  # progress, batch by batch
            assert f"victim identities: {line}" in done.stderr
        assert "done: victim identities: 7/7 checked, 3 re-encrypted" in done.stderr
        assert "done: attachments: 3/3 checked, 3 re-encrypted" in done.stderr

        # Key A removed: B alone opens everything, to the same plaintext.
        by_key, by_document = await readable(_ring("b"))
        assert set(by_key.values()) == set(by_document.values()) == {"b"}
        again = await service.rekey_victim_identities(sessions, Vault(_ring("b")), batch_size=50)
        assert (again.checked, again.rekeyed) == (7, 0)  # idempotent
    finally:
        await objects.close()
        await engine.dispose()


async def test_a_rekey_killed_half_way_leaves_every_row_readable_and_finishes_when_run_again(
    stack: LocalStack, scratch_cases: tuple[str, str]
) -> None:
    database_url, bucket = scratch_cases
    engine = create_engine(database_url, pool_size=2)
    sessions = session_factory(engine)
    identities = {f"victim-{i:04}": VictimIdentity(name=f"Synthetic Person {i}") for i in range(600)}
    try:
        await _write_under_a(sessions, identities)
        argv, env = _rekey_command(stack, database_url, bucket, batch=1)  # a transaction per row
        command = await asyncio.create_subprocess_exec(*argv, env=env, cwd=REPO, stderr=subprocess.PIPE)
        assert command.stderr is not None
        progress = ""
        while not progress.startswith("victim identities:"):
            progress = (await command.stderr.readline()).decode()
            assert progress, "the command ended before any progress"
        command.kill()  # SIGKILL, as a crash would: no clean-up of any kind
        await command.wait()
        assert progress.startswith("victim identities: 1/600 checked")

        async with sessions() as session:
            rows = await queries.identities_after(session, None, 1000)
        by_key = {r.victim_id: _ring("b", "a").key_id(r.ciphertext) for r in rows}
        assert {r.victim_id: Vault(_ring("b", "a")).open(r.ciphertext) for r in rows} == identities
        assert 0 < list(by_key.values()).count("b") < 600  # stopped half-way, every row readable

        done = await asyncio.to_thread(
            subprocess.run, [*argv[:-1], "100"], env=env, cwd=REPO, capture_output=True
        )
        assert done.returncode == 0, done.stderr
        async with sessions() as session:
            rows = await queries.identities_after(session, None, 1000)
        assert {r.victim_id: Vault(_ring("b")).open(r.ciphertext) for r in rows} == identities
    finally:
        await engine.dispose()
