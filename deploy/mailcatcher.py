"""The local mail catcher (issue 18): an SMTP server (aiosmtpd) on loopback that writes each message it
accepts as an ``.eml`` file under ``<run dir>/mail/`` and delivers nothing. ``make run`` and the test stack
start it (deploy/stack.py) on ``SMTP_PORT`` (1025 by default).

A file is named from the message's Message-ID: a message sent again (after a crash between the server's
acceptance and the sender's record of it) replaces its own file instead of making a second one.

    python -m deploy.mailcatcher --port 1025 --folder .run/local/mail
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import os
import re
import signal
import sys
import uuid
from email import message_from_bytes
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

_UNSAFE = re.compile(r"[^A-Za-z0-9._@-]")


def file_name(message_id: str | None, content: bytes) -> str:
    """``<id@host>`` -> ``id@host.eml``; without a Message-ID, the content's digest (the same bytes, the same
    file)."""
    if message_id:
        cleaned = _UNSAFE.sub("_", message_id.strip().strip("<>"))[:180]
        if cleaned.strip("._"):
            return f"{cleaned}.eml"
    return f"{hashlib.sha256(content).hexdigest()[:32]}.eml"


class Catcher:
    """aiosmtpd's handler: each accepted message written whole, atomically (a reader never sees half)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        if isinstance(content, str):
            content = content.encode()
        message_id = message_from_bytes(content).get("Message-ID")
        target = self.folder / file_name(message_id, content)
        partial = self.folder / f".{uuid.uuid4().hex}.part"
        partial.write_bytes(content)
        os.replace(partial, target)
        return "250 Message accepted for delivery"


async def serve(host: str, port: int, folder: Path) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(Catcher(folder), hostname="uncops-mailcatcher", decode_data=False), host, port
    )
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    # JSON lines like the platform's own processes (issue 20).
    from services.common import observability

    observability.configure("mailcatcher")
    log = observability.get_logger(__name__)
    log.info("mail catcher listening", host=host, port=port, folder=str(folder))
    try:
        await stop.wait()
    finally:
        server.close()
        with contextlib.suppress(Exception):
            await server.wait_closed()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.mailcatcher", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("SMTP_PORT", "1025")))
    parser.add_argument(
        "--folder", type=Path, default=Path(os.environ.get("UNCOPS_RUN_DIR", ".run/local")) / "mail"
    )
    args: Any = parser.parse_args(argv)
    asyncio.run(serve(args.host, args.port, args.folder))
    return 0


if __name__ == "__main__":
    sys.exit(main())
