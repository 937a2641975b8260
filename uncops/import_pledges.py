"""``uncops import-pledges``: a client of POST /pledges/import that sends a large file in chunks and
merges their reports, each rejected row with its line in the file."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from services.common.settings import Settings

if TYPE_CHECKING:
    import httpx


IMPORT_HELP = """\
Reads a CSV file (a header row, then one pledge a row) or a JSON file (a list of pledges, or
{"pledges": [...]}) and sends it to POST /pledges/import in chunks of --chunk rows (each CSV chunk keeps
the header). Prints the merged report as JSON on stdout, with each rejected row's line in FILE (the header
is line 1; in JSON, the pledge's index from 1), and the progress on stderr.

all_or_nothing applies to each chunk: a chunk with a bad row stores none of its rows, while the other
chunks are stored or not on their own. Use --chunk 0 to send the whole file in one request, so that any bad
row stores nothing (an import holds at most PLEDGE_POLICY__IMPORT_MAX_ROWS rows, 20,000 by default).

Exit status: 0 if every row was imported, 1 if some rows were rejected, 2 on an error (unreadable file,
refused request, service unreachable: the report then holds the chunks sent before it)."""


def add_import_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    imports = commands.add_parser(
        "import-pledges",
        help="import a summit's pledges from a CSV or JSON file into the pledges service",
        description=IMPORT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    imports.add_argument("file", help="a .csv or .json file")
    imports.add_argument("--mode", choices=("accept_valid", "all_or_nothing"), default="accept_valid")
    imports.add_argument("--url", help="the pledges service (default http://127.0.0.1:PLEDGES_PORT, 8001)")
    imports.add_argument("--token", help="a bearer token (default: a development planner token)")
    imports.add_argument(
        "--chunk", type=int, default=1000, help="rows per request (default 1000); 0: the file in one request"
    )
    imports.add_argument(
        "--idempotency-key",
        help="chunk n is sent with Idempotency-Key KEY-n: the same import run again replays its reports",
    )
    imports.add_argument("--timeout", type=float, default=300, help="seconds per request (default 300)")


class _ImportFailed(Exception):
    pass


@dataclass
class _Chunk:
    body: bytes
    lines: dict[int, int]  # the chunk's line numbers -> the file's

    @property
    def span(self) -> str:
        return f"lines {self.lines[min(self.lines)]}-{self.lines[max(self.lines)]}"


@dataclass
class _MergedReport:
    mode: str
    received: int = 0
    accepted: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    pledge_ids: list[str] = field(default_factory=list)
    possible_duplicates: list[dict[str, Any]] = field(default_factory=list)
    chunks: list[dict[str, Any]] = field(default_factory=list)

    def add(self, number: int, chunk: _Chunk, response: httpx.Response) -> None:
        try:
            body = response.json()
        except ValueError:
            body = None
        if not (isinstance(body, dict) and "rejected" in body and response.status_code in (200, 201, 422)):
            detail = body.get("detail") if isinstance(body, dict) else response.text[:500]
            detail = detail if isinstance(detail, str) else json.dumps(detail)
            raise _ImportFailed(f"chunk {number} ({chunk.span}): HTTP {response.status_code}: {detail}")
        lines = chunk.lines
        self.received += body["received"]
        self.accepted += body["accepted"]
        self.rejected += [{**r, "line": lines.get(r["line"], r["line"])} for r in body["rejected"]]
        self.pledge_ids += body["pledge_ids"]
        self.possible_duplicates += [
            {**d, "line": lines.get(d["line"], d["line"])} for d in body["possible_duplicates"]
        ]
        self.chunks.append(
            {
                "chunk": number,
                "lines": chunk.span.removeprefix("lines "),
                "status": response.status_code,
                "accepted": body["accepted"],
                "replayed": response.headers.get("Idempotent-Replayed") == "true",
            }
        )


def import_pledges(settings: Settings, args: argparse.Namespace) -> int:
    import httpx

    if args.chunk < 0:
        print("--chunk is a number of rows, or 0 for a single request", file=sys.stderr)
        return 2
    try:
        fmt, chunks, total = _import_chunks(args.file, args.chunk)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        print(f"cannot read {args.file}: {exc}", file=sys.stderr)
        return 2
    if not total:
        print(f"no pledges in {args.file}", file=sys.stderr)
        return 2
    token = args.token
    if not token:
        from services.common.auth import Role, issue_token

        token = issue_token(settings, Role.PLANNER, subject="uncops-import-pledges")
    url = (args.url or f"http://127.0.0.1:{settings.pledges_port}").rstrip("/") + "/pledges/import"
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "text/csv" if fmt == "csv" else "application/json",
    }
    report = _MergedReport(mode=args.mode)
    progress = _Progress(total)
    failed = False
    try:
        with httpx.Client(timeout=args.timeout) as client:
            for number, chunk in enumerate(chunks, start=1):
                if args.idempotency_key:
                    headers["Idempotency-Key"] = f"{args.idempotency_key}-{number}"
                try:
                    response = client.post(
                        url, params={"mode": args.mode}, content=chunk.body, headers=headers
                    )
                except httpx.HTTPError as exc:
                    raise _ImportFailed(
                        f"chunk {number} ({chunk.span}): {type(exc).__name__}: {exc}"
                    ) from exc
                report.add(number, chunk, response)
                progress.advance(len(chunk.lines))
    except _ImportFailed as exc:
        progress.close()
        print(f"import stopped: {exc}", file=sys.stderr)
        failed = True
    else:
        progress.close()
    print(json.dumps(asdict(report), indent=2))
    if failed:
        return 2
    return 1 if report.rejected else 0


def _import_chunks(path: str, chunk: int) -> tuple[str, list[_Chunk], int]:
    """The format, the request bodies (each with its lines mapped to the file's) and the number of rows."""
    import csv
    import io
    from pathlib import Path

    from services.common.errors import InvalidField
    from services.pledges.domain.importing import csv_records

    text = Path(path).read_text(encoding="utf-8-sig")
    suffix = Path(path).suffix.lower()
    chunks: list[_Chunk] = []
    if suffix == ".json" or (suffix != ".csv" and text.lstrip()[:1] in ("[", "{")):
        document = json.loads(text)
        if isinstance(document, dict) and set(document) == {"pledges"}:
            document = document["pledges"]
        if not isinstance(document, list):
            raise ValueError('a JSON list of pledges, or {"pledges": [...]}')
        size = chunk or max(1, len(document))
        for start in range(0, len(document), size):
            part = document[start : start + size]
            body = json.dumps(part, ensure_ascii=False).encode()
            chunks.append(_Chunk(body, {index: start + index for index in range(1, len(part) + 1)}))
        return "json", chunks, len(document)
    try:
        header, records = csv_records(text)
    except InvalidField as exc:
        raise ValueError(exc.reason) from exc
    size = chunk or max(1, len(records))
    for start in range(0, len(records), size):
        part = records[start : start + size]
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(values for _, values in part)
        # The chunk's own line numbers, as the service reads them (a quoted cell may span lines).
        sent = [line for line, _ in csv_records(out.getvalue())[1]]
        lines = dict(zip(sent, (line for line, _ in part), strict=True))
        chunks.append(_Chunk(out.getvalue().encode(), lines))
    return "csv", chunks, len(records)


class _Progress:
    """tqdm when it is installed, else a plain "\\r{done}/{total} rows" line on stderr."""

    def __init__(self, total: int) -> None:
        self.total, self.done = total, 0
        try:
            self.bar: Any = importlib.import_module("tqdm").tqdm(total=total, unit="rows", file=sys.stderr)
        except ImportError:
            self.bar = None
            self._show()

    def advance(self, rows: int) -> None:
        self.done += rows
        if self.bar is not None:
            self.bar.update(rows)
        else:
            self._show()

    def _show(self) -> None:
        print(f"\r{self.done}/{self.total} rows", end="", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        else:
            print(file=sys.stderr, flush=True)
