"""Rendering the console's pages: Jinja2 templates in the person's language (English or French, from the
catalogues in translations/, dates and numbers by Babel), the signed-in person of a request, and the CSRF
token every form carries."""

from __future__ import annotations

import secrets
import urllib.parse
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import Annotated, Any

from babel.dates import format_date, format_datetime, format_timedelta
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import Translations
from fastapi import Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from services.console.domain.agenda import long_day, venue_time
from services.console.domain.forms import FilledForm, StepForm
from services.console.domain.person import LANGUAGES, Language, Person, language_of
from services.console.domain.words import in_words
from services.console.gateway import Answer, Refused
from services.console.service.people import signed_in

HERE = Path(__file__).parent
# Dates and numbers as the UN writes them in each language (4 Dec 2026; 4 déc. 2026).
LOCALES: dict[Language, str] = {"en": "en_GB", "fr": "fr_FR"}
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


@cache
def translations(language: Language) -> Translations:
    """The language's catalogue, compiled from its .po file when first used (no binary is committed)."""
    if language == "en":
        return Translations()  # the message ids are the English
    import io

    with (HERE / "translations" / language / "LC_MESSAGES" / "messages.po").open("rb") as source:
        catalog = read_po(source, locale=language)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled)


@cache
def environment(language: Language) -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
    env.filters["words"] = lambda name: translations(language).gettext(in_words(str(name)))
    # A text said in the person's language where the catalogue has it, as it is otherwise (an API's reason),
    # never read as a format string: `_()` would fail on a "%" in a reason that echoes what a person typed.
    env.filters["said"] = lambda text: translations(language).gettext(str(text))
    env.filters["day"] = lambda value: _day(value, language)
    env.filters["moment"] = lambda value: _moment(value, language)
    env.filters["number"] = lambda value: format_decimal(value, locale=LOCALES[language])
    env.filters["until"] = lambda value: _until(value, language)
    # The agenda's times and days at the venue (part A: agenda and programme).
    env.filters["venue_time"] = lambda value: venue_time(value, LOCALES[language])
    env.filters["long_day"] = lambda value: long_day(value, LOCALES[language])
    env.filters["month"] = lambda value: format_date(value, format="MMM yyyy", locale=LOCALES[language])
    env.globals["language"] = language
    env.globals["languages"] = LANGUAGES
    return env


def _day(value: str | date | None, language: Language) -> str:
    if not value:
        return ""
    day = date.fromisoformat(value[:10]) if isinstance(value, str) else value
    return format_date(day, format="medium", locale=LOCALES[language])


def day_in(value: str | date | None, language: Language) -> str:
    """A date as the language writes it (4 Dec 2026; 4 déc. 2026): the notifications' emails use it too."""
    return _day(value, language)


def _moment(value: str | datetime | None, language: Language) -> str:
    if not value:
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return format_datetime(moment, format="medium", tzinfo=UTC, locale=LOCALES[language]) + " UTC"


def _until(value: str | datetime | None, language: Language) -> str:
    """How far off a moment is, in words: "in 12 days", "3 days ago" ("dans 12 jours", "il y a 3 jours")."""
    if not value:
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return format_timedelta(
        moment - datetime.now(UTC),
        granularity="day",
        threshold=400,
        add_direction=True,
        locale=LOCALES[language],
    )


def language(request: Request) -> Language:
    chosen = request.session.get("language")
    return chosen if chosen in LANGUAGES else language_of(request.headers.get("accept-language"))


def csrf_token(request: Request) -> str:
    """The session's CSRF token, made on first use; every form sends it back."""
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return token


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    chosen = language(request)
    person = signed_in(request.session)
    html = (
        environment(chosen)
        .get_template(template)
        .render(
            request=request,
            person=person,
            csrf_token=csrf_token(request),
            path=request.url.path,
            # The bell's count of unread notifications (api/notifications.count_unread), when known.
            unread=getattr(request.state, "unread", None),
            **context,
        )
    )
    return HTMLResponse(html, status_code=status_code, headers={"Content-Language": chosen})


class NotSignedIn(Exception):
    """Raised by ``person_of``: the app's handler sends the visitor to sign in, then back here."""

    def __init__(self, back_to: str) -> None:
        self.back_to = back_to


def back_to(request: Request) -> str:
    path = request.url.path
    return path + ("?" + request.url.query if request.url.query else "")


def sign_in_url(back: str) -> str:
    return "/sign-in?" + urllib.parse.urlencode({"next": back})


def safe_next(value: str | None) -> str:
    """Only a path of this site: never an address elsewhere (an open redirect)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


def person_of(request: Request) -> Person:
    person = signed_in(request.session)
    if person is None:
        request.session.pop("person", None)
        raise NotSignedIn(
            back_to(request) if request.method == "GET" else request.headers.get("referer", "/")
        )
    return person


SignedIn = Annotated[Person, Depends(person_of)]


class CsrfRefused(Exception):
    pass


async def checked_csrf(request: Request, csrf_token_: Annotated[str, Form(alias=CSRF_FIELD)] = "") -> None:
    """Every form posts the session's token back (or htmx sends it as a header): a page of another site
    cannot make the person act."""
    sent = csrf_token_ or request.headers.get(CSRF_HEADER, "")
    expected = request.session.get("csrf")
    if not isinstance(expected, str) or not secrets.compare_digest(sent, expected):
        raise CsrfRefused()


CsrfChecked = Depends(checked_csrf)


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def form_page(
    request: Request,
    template: str,
    form: StepForm,
    values: dict[str, str] | None = None,
    key: str | None = None,
    errors: dict[str, str] | None = None,
    refused: Refused | None = None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """A page with a form laid out from a schema (templates/fields.html), its values, errors and the
    Idempotency-Key it is sent under (a new one for a new form)."""
    return render(
        request,
        template,
        status_code=status_code,
        form=form,
        values=values or {},
        errors=errors or {},
        key=key or str(uuid.uuid4()),
        refused=refused,
        **context,
    )


def key_after(refused: Refused, key: str) -> str:
    """The key the form is sent again under: a refusal is a finished request, so a corrected form is a new
    one; an outcome not known in time (503) is sent again under the same key, so it is applied once."""
    return key if refused.status == 503 else str(uuid.uuid4())


async def submit_form(
    request: Request,
    template: str,
    form: StepForm,
    send: Callable[[dict[str, str], str], Awaitable[FilledForm | Answer]],
    done: Callable[[Answer], str],
    **context: Any,
) -> HTMLResponse | RedirectResponse:
    """Reads the posted form and sends it under its Idempotency-Key; on success, sees the person to
    ``done(answer)``. A refusal the API explains, or a value that cannot be read, shows the form again with
    the reason at the top and beside its field."""
    values = {name: str(value) for name, value in (await request.form()).items()}
    key = values.get("idempotency_key") or str(uuid.uuid4())
    try:
        outcome = await send(values, key)
    except Refused as refused:
        if refused.status >= 500 and refused.status != 503:
            raise
        return form_page(
            request,
            template,
            form,
            values,
            key_after(refused, key),
            refused.field_errors,
            refused,
            refused.status,
            **context,
        )
    if isinstance(outcome, FilledForm):
        return form_page(request, template, form, values, key, outcome.errors, None, 422, **context)
    return see_other(done(outcome))
