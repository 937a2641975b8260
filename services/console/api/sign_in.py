"""Signing in and out. Locally (the development signing secret only) the console mints the token itself, the
same one ``uncops token`` prints. In production the identity provider in settings signs the person in:
OpenID Connect, authorization code with PKCE (S256), ``state`` and ``nonce``.

Authlib's Starlette client runs the protocol: it reads the issuer's discovery document, keeps ``state``, the
``nonce`` and the PKCE verifier in the session cookie between the two legs (under the state's own key, so a
callback this browser did not start finds nothing), exchanges the code and checks the ID token (signature
against the issuer's JWKS, issuer, audience, nonce, expiry, ``at_hash``). What is ours: the person the claims
make (domain/sign_in.py) and which token the APIs get.
"""

from __future__ import annotations

import asyncio
import secrets
import urllib.parse
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from authlib.integrations.base_client import MismatchingStateError
from authlib.integrations.starlette_client import OAuth, OAuthError, StarletteOAuth2App
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.exc import SQLAlchemyError

from services.common.auth import TokenError, TokenVerifier
from services.common.errors import InvalidField
from services.common.observability import get_logger
from services.common.settings import Settings
from services.console.domain.notifications import valid_email
from services.console.domain.person import Person
from services.console.domain.sign_in import SignInRefused, person_of_claims
from services.console.pages import CsrfChecked, render, safe_next, see_other
from services.console.service import notifications
from services.console.service.people import SIGN_IN_ROLES, sign_in_locally

CALLBACK = "/sign-in/callback"
_NEXT = "sign_in_next"  # the page to go back to, kept in the session across the round trip
_CLOCK_SKEW_SECONDS = 60

router = APIRouter(include_in_schema=False)
log = get_logger(__name__)


@dataclass
class IdentityProvider:
    settings: Settings
    client: StarletteOAuth2App
    # The APIs' own check of a token (UNCOPS_JWKS_URL, UNCOPS_JWT_ISSUER, UNCOPS_JWT_AUDIENCE).
    apis_verifier: TokenVerifier

    @property
    def redirect_uri(self) -> str:
        return self.settings.public_console_url + CALLBACK

    async def start(self, request: Request, next_: str) -> str:
        """The authorization request's address; ``state``, ``nonce`` and the PKCE verifier stay in the
        session (Authlib keeps them under the state's own key)."""
        try:
            found = await self.client.create_authorization_url(self.redirect_uri)
        except (OAuthError, OSError, RuntimeError, ValueError) as failed:
            raise SignInRefused("failed", str(failed)[:200]) from failed
        await self.client.save_authorize_data(request, redirect_uri=self.redirect_uri, **found)
        request.session[_NEXT] = next_
        return str(found["url"])

    async def finish(self, request: Request) -> tuple[Person, str]:
        """The person the callback brings back, and the page to go back to."""
        next_ = str(request.session.get(_NEXT, "/"))  # the new session drops it
        try:
            token = await self.client.authorize_access_token(
                request,
                claims_options={"iss": {"essential": True, "values": [self.settings.oidc_issuer]}},
                leeway=_CLOCK_SKEW_SECONDS,
            )
        except MismatchingStateError as stale:
            # A state this browser did not start (tampered with, replayed, or from an expired session).
            raise SignInRefused("state") from stale
        except (OAuthError, OSError, ValueError) as failed:
            raise SignInRefused("failed", str(failed)[:200]) from failed
        claims = dict(token["userinfo"]) if token.get("userinfo") else None
        if claims is None:
            raise SignInRefused("failed", "the identity provider sent no ID token")
        api_token, expires_at = await self._api_token(token, claims)
        person = person_of_claims(
            claims,
            served=[role.value for role in SIGN_IN_ROLES],
            roles_claim=self.settings.oidc_roles_claim,
            member_state_claim=self.settings.oidc_member_state_claim,
            token=api_token,
            expires_at=expires_at,
        )
        return person, next_

    async def _api_token(self, token: dict[str, Any], id_claims: dict[str, Any]) -> tuple[str, int]:
        """The access token when it is a JWT the APIs accept (the usual case: the APIs are its audience);
        else the ID token, which the APIs accept when their audience is the console's client id."""
        access = token.get("access_token")
        if isinstance(access, str) and access.count(".") == 2:
            try:
                await asyncio.to_thread(self.apis_verifier.verify, access)
            except TokenError:
                pass
            else:
                expires = token.get("expires_at") or id_claims["exp"]
                return access, int(expires)
        return str(token["id_token"]), int(id_claims["exp"])

    async def end_session_url(self) -> str | None:
        """The issuer's RP-initiated logout, coming back to the sign-in page; None when it offers none."""
        try:
            metadata = await self.client.load_server_metadata()
        except (OAuthError, OSError, ValueError):
            return None
        endpoint = metadata.get("end_session_endpoint")
        if not isinstance(endpoint, str):
            return None
        query = urllib.parse.urlencode(
            {
                "client_id": self.settings.oidc_client_id,
                "post_logout_redirect_uri": self.settings.public_console_url + "/sign-in",
            }
        )
        return endpoint + ("&" if "?" in endpoint else "?") + query


def identity_provider(settings: Settings) -> IdentityProvider | None:
    """The console's client of the issuer in settings; None when the platform has none (local sign-in)."""
    if not settings.oidc_issuer:
        return None
    secret = settings.oidc_client_secret.get_secret_value() if settings.oidc_client_secret else None
    client_kwargs: dict[str, Any] = {
        "scope": settings.oidc_scopes,
        "code_challenge_method": "S256",
        "timeout": 10,
    }
    if secret is None:
        client_kwargs["token_endpoint_auth_method"] = "none"  # a public client: PKCE is its proof
    oauth = OAuth()
    client = oauth.register(
        name="issuer",
        server_metadata_url=settings.oidc_issuer.rstrip("/") + "/.well-known/openid-configuration",
        client_id=settings.oidc_client_id,
        client_secret=secret,
        client_kwargs=client_kwargs,
    )
    assert isinstance(client, StarletteOAuth2App)
    return IdentityProvider(settings, client, TokenVerifier(settings))


def issuer_origin(settings: Settings) -> str | None:
    """The issuer's scheme and host: the console's forms may lead there (sign-in and sign-out)."""
    if not settings.oidc_issuer:
        return None
    parts = urllib.parse.urlsplit(settings.oidc_issuer)
    return f"{parts.scheme}://{parts.netloc}"


def _page(request: Request, next_: str, status_code: int = 200, **context: object) -> HTMLResponse:
    return render(
        request,
        "sign_in.html",
        status_code=status_code,
        roles=[role.value for role in SIGN_IN_ROLES],
        local=request.app.state.settings.local_sign_in,
        provider=request.app.state.identity is not None,
        provider_name=request.app.state.settings.oidc_provider_name,
        next=safe_next(next_),
        **context,
    )


@router.get("/sign-in")
async def sign_in_page(request: Request, next_: Annotated[str, Query(alias="next")] = "/") -> HTMLResponse:
    return _page(request, next_)


@router.post("/sign-in", dependencies=[CsrfChecked], response_model=None)
async def sign_in(
    request: Request,
    role: Annotated[str, Form()] = "",
    member_state: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    email: Annotated[str, Form()] = "",
    next_: Annotated[str, Form(alias="next")] = "/",
) -> HTMLResponse | RedirectResponse:
    address = email.strip()
    try:
        person = sign_in_locally(request.app.state.settings, role, member_state, name)
        if address and not valid_email(address):
            raise InvalidField("email", _("Enter an email address such as name@example.org", request))
    except InvalidField as refused:
        values = {"role": role, "member_state": member_state, "name": name, "email": email}
        return _page(request, next_, 422, errors={refused.field: refused.reason}, values=values)
    _begin_session(request, person)
    await _record(request, person, address or None)
    return see_other(safe_next(next_))


def _(message: str, request: Request) -> str:
    from services.console.pages import language, translations

    return translations(language(request)).gettext(message)


async def _record(request: Request, person: Person, email: str | None) -> None:
    """Notifications to people (issue 18): the directory learns who signed in, with their email. A database
    away does not stop the sign-in: the next one records them."""
    from services.console.pages import language

    try:
        await asyncio.wait_for(
            notifications.record_sign_in(
                request.app.state.runtime.sessions, person, language(request), email, datetime.now(UTC)
            ),
            5,
        )
    except (OSError, SQLAlchemyError, TimeoutError) as failed:
        log.warning("person not recorded in the directory", error=repr(failed))


def _begin_session(request: Request, person: Person) -> None:
    language = request.session.get("language")
    request.session.clear()  # a new session for the person: nothing carried over from before
    request.session.update(person=person.session(), csrf=secrets.token_urlsafe(32))
    if language:
        request.session["language"] = language


def _provider(request: Request) -> IdentityProvider | None:
    provider: IdentityProvider | None = request.app.state.identity
    return provider


@router.post("/sign-in/provider", dependencies=[CsrfChecked], response_model=None)
async def sign_in_with_provider(
    request: Request, next_: Annotated[str, Form(alias="next")] = "/"
) -> HTMLResponse | RedirectResponse:
    """Off to the identity provider (authorization code with PKCE); it sends the person back to the
    callback."""
    provider = _provider(request)
    if provider is None:
        return _page(request, next_, 404)
    try:
        address = await provider.start(request, safe_next(next_))
    except SignInRefused as refused:
        return _refused(request, refused)
    return see_other(address)


@router.get(CALLBACK, response_model=None)
async def sign_in_callback(request: Request) -> HTMLResponse | RedirectResponse:
    provider = _provider(request)
    if provider is None:
        return _page(request, "/", 404)
    try:
        person, next_ = await provider.finish(request)
    except SignInRefused as refused:
        return _refused(request, refused)
    _begin_session(request, person)
    await _record(request, person, person.email)
    return see_other(safe_next(next_))


def _refused(request: Request, refused: SignInRefused) -> HTMLResponse:
    status_code = {"failed": 502, "state": 400}.get(refused.reason, 403)
    return render(
        request, "sign_in_refused.html", status_code=status_code, reason=refused.reason, detail=refused.detail
    )


@router.post("/sign-out", dependencies=[CsrfChecked])
async def sign_out(request: Request) -> RedirectResponse:
    """Clears the session; signed in by the identity provider, the person is signed out there too (its
    end_session_endpoint, when it has one, sends them back to the sign-in page)."""
    language = request.session.get("language")
    request.session.clear()
    if language:
        request.session["language"] = language
    provider = _provider(request)
    end_session = await provider.end_session_url() if provider is not None else None
    return see_other(end_session or "/sign-in")
