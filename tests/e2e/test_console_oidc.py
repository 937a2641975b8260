"""Production sign-in in Debian's Chromium, against a real OpenID Connect issuer: the certified
`oidc-provider` package run with Node (tests/e2e/oidc_issuer.mjs). The test starts, beside the shared
platform, a console and a cases API of their own configured as production is: no development secret, the
APIs verifying RS256 tokens with the issuer's JWKS. Authorization code with PKCE there and back, the role and
State from the claims, the page asked for honoured, a forged ``state`` refused, people the console does not
serve refused with a reason, signing out at the issuer too."""

from __future__ import annotations

import base64
import json
import socket
import sys
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import jwt
import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from deploy.stack import LocalStack
from tests.e2e.console import accessibility_faults, chromium, shot

PROVIDER = "UN Test Identity"
CLIENT_SECRET = "console-client-secret-for-the-test"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def answers(address: str) -> bool:
    try:
        with urllib.request.urlopen(address, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@dataclass(frozen=True)
class Production:
    issuer: str
    console: str
    cases_api: str


@pytest.fixture(scope="module")
def production(platform: LocalStack) -> Iterator[Production]:
    issuer_port, cases_port, console_port = free_port(), free_port(), free_port()
    issuer = f"http://127.0.0.1:{issuer_port}"
    console = f"http://127.0.0.1:{console_port}"
    cases_api = f"http://127.0.0.1:{cases_port}"
    # The APIs and the console trust the issuer's keys, as production does (UNCOPS_JWKS_URL).
    trust = {
        "UNCOPS_JWKS_URL": f"{issuer}/jwks",
        "UNCOPS_JWT_ISSUER": issuer,
        "UNCOPS_JWT_AUDIENCE": "uncops",
    }
    names = ("oidc-issuer", "cases-oidc", "console-oidc")
    try:
        platform.spawn(
            names[0],
            ["node", "tests/e2e/oidc_issuer.mjs"],
            platform.env(OIDC_PORT=str(issuer_port), CONSOLE_URL=console, OIDC_CLIENT_SECRET=CLIENT_SECRET),
        )
        platform.wait_for(names[0], lambda: answers(f"{issuer}/.well-known/openid-configuration"), 30)
        platform.spawn(
            names[1],
            [sys.executable, "-m", "uncops.cli", "serve", "cases"],
            platform.env(CASES_PORT=str(cases_port), UNCOPS_BACKGROUND="false", **trust),
        )
        platform.wait_for(names[1], lambda: answers(f"{cases_api}/healthz"), 60)
        platform.spawn(
            names[2],
            [sys.executable, "-m", "uncops.cli", "serve", "console"],
            platform.env(
                CONSOLE_PORT=str(console_port),
                CASES_API_URL=cases_api,
                UNCOPS_CONSOLE_URL=console,
                UNCOPS_OIDC_ISSUER=issuer,
                UNCOPS_OIDC_CLIENT_ID="uncops-console",
                UNCOPS_OIDC_CLIENT_SECRET=CLIENT_SECRET,
                UNCOPS_OIDC_SCOPES="openid profile roles uncops",
                UNCOPS_OIDC_PROVIDER_NAME=PROVIDER,
                **trust,
            ),
        )
        platform.wait_for(names[2], lambda: answers(f"{console}/healthz"), 60)
        yield Production(issuer, console, cases_api)
    finally:
        for name in reversed(names):
            platform.stop(name)


async def at_the_issuer(page: Page, login: str) -> None:
    """oidc-provider's own development login and consent pages (the issuer's, not the console's)."""
    await page.get_by_placeholder("Enter any login").fill(login)
    await page.get_by_placeholder("and password").fill("any password")
    await page.get_by_role("button", name="Sign-in").click()
    await page.get_by_role("button", name="Continue").click()


async def consented_callback(context: BrowserContext, page: Page, login: str, console: str) -> str:
    """Signs in at the issuer and consents without following its redirects (the browser's own cookies): the
    address of the console's callback with the issuer's fresh code, not yet opened."""
    await page.get_by_placeholder("Enter any login").fill(login)
    await page.get_by_placeholder("and password").fill("any password")
    await page.get_by_role("button", name="Sign-in").click()
    await expect(page.get_by_role("button", name="Continue")).to_be_visible()
    address = urllib.parse.urljoin(page.url, await page.locator("form").first.get_attribute("action"))
    answer = await context.request.post(address, form={"prompt": "consent"}, max_redirects=0)
    for _ in range(5):
        address = urllib.parse.urljoin(address, answer.headers["location"])
        if address.startswith(f"{console}/sign-in/callback?"):
            return address
        answer = await context.request.get(address, max_redirects=0)
    raise AssertionError(f"the issuer did not send the browser back to the console: {address}")


async def begin(browser: Browser, production: Production, path: str) -> tuple[BrowserContext, Page]:
    """A new browser asking for ``path``, sent to sign in, choosing the identity provider."""
    context = await browser.new_context(locale="en-GB")
    page = await context.new_page()
    await page.goto(production.console + path)
    await expect(page).to_have_url(f"{production.console}/sign-in?" + urllib.parse.urlencode({"next": path}))
    await page.get_by_role("button", name=f"Sign in with {PROVIDER}").click()
    await page.wait_for_url(f"{production.issuer}/**")
    return context, page


def session_of(cookies: Sequence[Mapping[str, object]]) -> dict[str, object]:
    """The console's session as the browser holds it (signed, not encrypted: the test reads it)."""
    found = [str(c["value"]) for c in cookies if c["name"] == "uncops_console"]
    if not found:
        return {}
    value = found[0].split(".")[0]
    session: dict[str, object] = json.loads(base64.b64decode(value + "=" * (-len(value) % 4)))
    return session


async def test_an_officer_signs_in_at_the_issuer_and_comes_back_to_the_page_asked_for(
    production: Production,
) -> None:
    async with chromium() as browser:
        context, page = await begin(browser, production, "/cases?overdue=true")
        await shot(page, "oidc-issuer-login")
        await at_the_issuer(page, "officer")

        # Back on the page asked for, in the role the claims give, the cases API answering with the token.
        await expect(page).to_have_url(f"{production.console}/cases?overdue=true")
        await expect(page.get_by_role("heading", level=1)).to_have_text("Cases")
        await expect(page.get_by_text("Aminata Diallo · Conduct officer")).to_be_visible()
        await shot(page, "oidc-signed-in")
        # The APIs get the access token (a JWT for them), not the ID token (for the console).
        person = session_of(await context.cookies())["person"]
        assert isinstance(person, dict)
        claims = jwt.decode(person["token"], options={"verify_signature": False})
        assert claims["aud"] == "uncops" and claims["iss"] == production.issuer
        assert claims["roles"] == ["conduct_officer"] and claims["sub"] == "officer"

        # Signing out clears the session and signs out at the issuer too, then comes back to sign-in.
        await page.get_by_role("button", name="Sign out").click()
        await expect(page.get_by_role("button", name="Yes, sign me out")).to_be_visible()
        await page.get_by_role("button", name="Yes, sign me out").click()
        await expect(page).to_have_url(f"{production.console}/sign-in")
        await shot(page, "oidc-signed-out")
        await page.goto(production.console + "/cases")
        await expect(page).to_have_url(f"{production.console}/sign-in?next=%2Fcases")
        await context.close()


async def test_a_focal_point_signs_in_for_the_state_in_its_claims(production: Production) -> None:
    async with chromium() as browser:
        context, page = await begin(browser, production, "/cases")
        await at_the_issuer(page, "focal-sen")
        await expect(page).to_have_url(f"{production.console}/cases")
        await expect(page.get_by_text("Moussa Ndiaye · State focal point · SEN")).to_be_visible()
        await context.close()


async def test_the_sign_in_page_offers_the_issuer_only_and_is_accessible(production: Production) -> None:
    async with chromium() as browser:
        context = await browser.new_context(locale="en-GB")
        page = await context.new_page()
        await page.goto(production.console + "/sign-in")
        await expect(page.get_by_role("button", name=f"Sign in with {PROVIDER}")).to_be_visible()
        # No local sign-in: the platform's tokens come from the issuer.
        await expect(page.get_by_label("Role")).to_have_count(0)
        await shot(page, "oidc-sign-in")
        faults = await accessibility_faults(browser, production.console + "/sign-in", await context.cookies())
        assert faults == []
        french = await browser.new_context(locale="fr-FR")
        page = await french.new_page()
        await page.goto(production.console + "/sign-in")
        await expect(page.get_by_role("button", name=f"Se connecter avec {PROVIDER}")).to_be_visible()
        await shot(page, "oidc-sign-in-fr")
        await french.close()
        await context.close()


async def test_a_forged_state_is_refused_and_the_true_one_accepted(production: Production) -> None:
    async with chromium() as browser:
        context, page = await begin(browser, production, "/cases")
        back = await consented_callback(context, page, "officer", production.console)
        # The issuer's real code, with a state this browser did not start.
        forged = back.replace("state=", "state=forged", 1)
        answer = await page.goto(forged)
        assert answer is not None and answer.status == 400
        await expect(page.get_by_role("heading", level=1)).to_have_text("You are not signed in")
        await expect(page.get_by_text("This sign-in did not start in this browser")).to_be_visible()
        await shot(page, "oidc-forged-state")
        assert "person" not in session_of(await context.cookies())
        # The same code with the state this browser did start: signed in, back to the page asked for.
        await page.goto(back)
        await expect(page).to_have_url(f"{production.console}/cases")
        await expect(page.get_by_text("Aminata Diallo · Conduct officer")).to_be_visible()
        await context.close()


@pytest.mark.parametrize(
    ("login", "reason"),
    [
        ("partner", "gave you none of the roles this console serves"),
        ("focal-nostate", "without the ISO alpha-3 code of a UN Member State"),
    ],
)
async def test_a_person_the_console_does_not_serve_is_refused_with_the_reason(
    production: Production, login: str, reason: str
) -> None:
    async with chromium() as browser:
        context, page = await begin(browser, production, "/cases")
        await at_the_issuer(page, login)
        await page.wait_for_url(f"{production.console}/sign-in/callback?**")
        await expect(page.get_by_role("heading", level=1)).to_have_text("You are not signed in")
        await expect(page.get_by_text(reason)).to_be_visible()
        await shot(page, f"oidc-refused-{login}")
        await page.goto(production.console + "/cases")
        await expect(page).to_have_url(f"{production.console}/sign-in?next=%2Fcases")
        await context.close()
