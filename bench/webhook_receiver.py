"""Webhook endpoints for the partner gateway's benchmark: one asyncio process, one port, many endpoints.

    POST /hook/<n>        answers 204 at once and records the delivery
    POST /blackhole/<n>   reads the request and never answers (the sender waits for its own timeout)

It also holds a second socket bound but not listening: a connection to that port is refused at once, as to a
server that is down. Each delivery is recorded as a JSON line in ``--out`` (flushed every 0.1 s):
``[n, webhook-id, CloudEvent id, CloudEvent subject, CloudEvent time, arrival time.time(), signed]``.
When ready it writes ``{"port": ..., "refused_port": ...}`` to ``--ready``; SIGTERM flushes and stops it.

    python -m bench.webhook_receiver --ready ready.json --out deliveries.jsonl
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import socket
import time
from pathlib import Path
from typing import IO, Any

_NO_CONTENT = b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"
_NOT_FOUND = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"


class Receiver:
    def __init__(self, out: IO[str]) -> None:
        self.out = out
        self.pending: list[str] = []
        self.count = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:  # keep-alive: requests one after the other on the connection
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, path = [*lines[0].split(" "), "", ""][:2]
                headers = {}
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0") or 0))
                arrived = time.time()
                if path.startswith("/blackhole/"):
                    await reader.read()  # until the sender gives up and closes
                    return
                if method != "POST" or not path.startswith("/hook/"):
                    writer.write(_NOT_FOUND)
                    await writer.drain()
                    continue
                writer.write(_NO_CONTENT)
                await writer.drain()
                self.record(path, headers, body, arrived)
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        except asyncio.CancelledError:
            return  # the receiver stopping with connections still open (the black holes'): nothing to report
        finally:
            writer.close()

    def record(self, path: str, headers: dict[str, str], body: bytes, arrived: float) -> None:
        try:
            event: dict[str, Any] = json.loads(body)
        except ValueError:
            event = {}
        signed = all(headers.get(h) for h in ("webhook-id", "webhook-timestamp", "webhook-signature"))
        self.pending.append(
            json.dumps(
                [
                    int(path.removeprefix("/hook/")),
                    headers.get("webhook-id"),
                    event.get("id"),
                    event.get("subject"),
                    event.get("time"),
                    arrived,
                    signed,
                ]
            )
        )
        self.count += 1

    async def flush_every(self, seconds: float) -> None:
        while True:
            await asyncio.sleep(seconds)
            self.flush()

    def flush(self) -> None:
        if self.pending:
            self.out.write("\n".join(self.pending) + "\n")
            self.out.flush()
            self.pending.clear()


async def serve(ready: Path, out_path: Path) -> None:
    refused = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    refused.bind(("127.0.0.1", 0))  # bound, never listening: connections to it are refused
    with out_path.open("a") as out:
        receiver = Receiver(out)
        server = await asyncio.start_server(receiver.handle, "127.0.0.1", 0, backlog=1024)
        port = server.sockets[0].getsockname()[1]
        flusher = asyncio.create_task(receiver.flush_every(0.1))
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        ports = json.dumps({"port": port, "refused_port": refused.getsockname()[1]})
        await asyncio.to_thread(ready.write_text, ports)
        await stop.wait()
        server.close()  # not wait_closed(): the black-holed connections never close on their own
        flusher.cancel()
        receiver.flush()
    refused.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ready", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    asyncio.run(serve(args.ready, args.out))


if __name__ == "__main__":
    main()
