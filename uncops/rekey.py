"""``uncops rekey cases``: every victim identity and attachment re-encrypted under the primary key of
UNCOPS_VICTIM_DATA_KEYS, with progress; ``uncops new-key``: a fresh key for that setting (issue 20).

Rotation without downtime: add the new key SECOND (every process then reads it), roll out; make it FIRST,
roll out (new data is sealed under it); run ``uncops rekey cases``; remove the old key, roll out."""

from __future__ import annotations

import argparse
import asyncio
import sys

from services.common.settings import Settings

REKEY_HELP = """\
Re-encrypts every victim identity (cases database) and every attachment (object store) not yet under the
primary key, the first of UNCOPS_VICTIM_DATA_KEYS; the other keys of the ring must still open them. Each
batch of identities is its own transaction and each attachment is replaced by one PUT, so an interrupted run
leaves every record readable under the ring and is simply run again (what is already under the primary key
is skipped). Progress (checked/total) on stderr.

Exit status: 0 when everything is under the primary key, 1 if some record opens under no key of the ring
(listed; left untouched), 2 on an error."""


def add_rekey_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    rekey = commands.add_parser(
        "rekey",
        help="re-encrypt a service's confidential data under the primary key (after a key rotation)",
        description=REKEY_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    rekey.add_argument("service", choices=["cases"])
    rekey.add_argument("--batch", type=int, default=200, help="rows per transaction (default 200)")
    commands.add_parser("new-key", help="print a fresh victim-data key (urlsafe base64 of 32 random bytes)")


def new_key() -> int:
    from services.cases.domain.confidential import new_key

    print(new_key())
    return 0


def rekey(settings: Settings, args: argparse.Namespace) -> int:
    if args.batch < 1:
        print("error: --batch must be at least 1", file=sys.stderr)
        return 2
    return asyncio.run(rekey_cases(settings, args.batch))


async def rekey_cases(settings: Settings, batch: int) -> int:
    from services.cases import service
    from services.cases.domain.confidential import Vault
    from services.common.database import create_engine, session_factory
    from services.common.objects import ObjectStore

    ring = service.key_ring(settings)
    print(
        f"re-encrypting under key {ring.primary_key_id!r} (ring: {', '.join(ring.key_ids)})", file=sys.stderr
    )

    def progress(report: service.Rekeyed) -> None:
        print(report.line(), file=sys.stderr, flush=True)

    engine = create_engine(settings.database_url("cases"), pool_size=2)
    objects = ObjectStore(settings)
    try:
        identities = await service.rekey_victim_identities(
            session_factory(engine), Vault(ring), batch, progress
        )
        attachments = await service.rekey_attachments(objects, ring, batch, progress)
    finally:
        await objects.close()
        await engine.dispose()
    unreadable = [*identities.unreadable, *attachments.unreadable]
    for report in (identities, attachments):
        print(f"done: {report.line()}", file=sys.stderr)
    for name in unreadable:
        print(f"unreadable under every key of the ring, left as it was: {name}", file=sys.stderr)
    return 1 if unreadable else 0
