"""The mail the local mail catcher caught (issue 18; deploy/mailcatcher.py writes each message as an .eml
file under <run dir>/mail/): a list and each message, in local development only (the development signing
secret), to any signed-in person. Elsewhere the pages do not exist."""

from __future__ import annotations

import re
from email import policy
from email.parser import BytesParser
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.exceptions import HTTPException

from services.console.pages import SignedIn, render

router = APIRouter(prefix="/mail", include_in_schema=False)
_NAME = re.compile(r"[A-Za-z0-9._@-]{1,200}\.eml")
MOST = 200


def _folder(request: Request) -> Path:
    settings = request.app.state.settings
    if not settings.local_sign_in:
        raise HTTPException(404)
    return Path(settings.run_dir) / "mail"


def _read(path: Path, body: bool = False) -> dict[str, Any]:
    with path.open("rb") as source:
        message = BytesParser(policy=policy.default).parse(source)
    date = message.get("Date")
    found: dict[str, Any] = {
        "name": path.name,
        "subject": str(message.get("Subject", "")),
        "to": str(message.get("To", "")),
        "date": parsedate_to_datetime(str(date)) if date else None,
        "message_id": str(message.get("Message-ID", "")),
    }
    if body:
        part = message.get_body(preferencelist=("plain",))
        found["body"] = part.get_content() if part is not None else ""
    return found


@router.get("")
async def caught_mail(request: Request, person: SignedIn) -> HTMLResponse:
    folder = _folder(request)
    files = (
        sorted(folder.glob("*.eml"), key=lambda p: p.stat().st_mtime, reverse=True) if folder.is_dir() else []
    )
    return render(
        request, "mail.html", messages=[_read(p) for p in files[:MOST]], total=len(files), folder=folder
    )


@router.get("/{name}")
async def caught_message(request: Request, person: SignedIn, name: str) -> HTMLResponse:
    folder = _folder(request)
    path = folder / name
    if not _NAME.fullmatch(name) or not path.is_file():
        raise HTTPException(404)
    return render(request, "mail_message.html", message=_read(path, body=True))
