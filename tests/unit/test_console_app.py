"""The console's front door without the APIs behind it: the sign-in page, its refusals, the session cookie's
flags, CSRF on every form, the security headers, no redirect to another site, local sign-in only with the
development secret."""

from __future__ import annotations

import re
from collections.abc import Iterator

import jwt
import pytest
from fastapi.testclient import TestClient

from services.common.settings import DEVELOPMENT_JWT_SECRET, Settings
from services.console.app import create

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def console() -> Iterator[TestClient]:
    with TestClient(create(Settings(environment="test", background=False)), follow_redirects=False) as client:
        yield client


def csrf(client: TestClient, path: str = "/sign-in") -> str:
    found = CSRF.search(client.get(path).text)
    assert found
    return found.group(1)


def test_a_visitor_goes_to_sign_in_and_the_page_has_the_fixed_controls(console: TestClient) -> None:
    assert console.get("/").headers["location"] == "/sign-in"
    page = console.get("/sign-in")
    assert page.status_code == 200
    for label in ("Role", "Member State", "Name"):
        assert re.search(rf"<label for=\"\w+\">{label}\b", page.text), label
    assert ">Sign in</button>" in page.text
    assert '<html lang="en">' in page.text


def test_signing_in_mints_the_token_uncops_token_would(console: TestClient) -> None:
    answer = console.post(
        "/sign-in",
        data={
            "csrf_token": csrf(console),
            "role": "state_focal_point",
            "member_state": "sen",
            "next": "/cases",
        },
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/cases"
    cookie = answer.headers["set-cookie"]
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
    # The token in the session is the development one, for the State given.
    import base64
    import json

    value = console.cookies["uncops_console"].split(".")[0]
    session = json.loads(base64.b64decode(value + "=" * (-len(value) % 4)))
    claims = jwt.decode(
        session["person"]["token"], DEVELOPMENT_JWT_SECRET, audience="uncops", algorithms=["HS256"]
    )
    assert claims["roles"] == ["state_focal_point"] and claims["member_state"] == "SEN"


@pytest.mark.parametrize(
    ("form", "field", "reason"),
    [
        ({"role": "state_focal_point", "member_state": ""}, "member_state", "names the State"),
        ({"role": "conduct_officer", "member_state": "ZZZ"}, "member_state", "not the ISO"),
        ({"role": "partner"}, "role", "choose one"),
        ({"role": "nobody"}, "role", "choose one"),
    ],
)
def test_a_wrong_sign_in_says_why_beside_the_field(
    console: TestClient, form: dict[str, str], field: str, reason: str
) -> None:
    answer = console.post("/sign-in", data={"csrf_token": csrf(console), **form})
    assert answer.status_code == 422
    assert f'href="#{field}"' in answer.text and reason in answer.text


def test_a_form_without_the_sessions_csrf_token_is_refused(console: TestClient) -> None:
    csrf(console)
    for token in ("", "forged"):
        answer = console.post("/sign-in", data={"csrf_token": token, "role": "conduct_officer"})
        assert answer.status_code == 403
    assert console.post("/sign-out", data={}).status_code == 403


@pytest.mark.parametrize(
    "target", ["https://elsewhere.example/", "//elsewhere.example/", "/\\elsewhere.example"]
)
def test_sign_in_never_sends_the_person_to_another_site(console: TestClient, target: str) -> None:
    answer = console.post(
        "/sign-in", data={"csrf_token": csrf(console), "role": "conduct_officer", "next": target}
    )
    assert answer.headers["location"] == "/"


def test_every_answer_carries_a_strict_content_security_policy(console: TestClient) -> None:
    for path in ("/sign-in", "/static/console.css", "/static/vendor/htmx.min.js", "/nowhere"):
        headers = console.get(path).headers
        policy = headers["content-security-policy"]
        assert "default-src 'none'" in policy and "script-src 'self'" in policy and "unsafe" not in policy
        assert headers["x-content-type-options"] == "nosniff" and headers["x-frame-options"] == "DENY"
    page = console.get("/sign-in").text
    assert (
        "<script>" not in page
        and " style=" not in page
        and "http" not in page.split("<body", 1)[0].replace("http-equiv", "")
    )


def test_a_page_unknown_is_the_consoles_404_page(console: TestClient) -> None:
    answer = console.get("/nowhere")
    assert answer.status_code == 404 and "Page not found" in answer.text


def test_local_sign_in_is_refused_without_the_development_secret() -> None:
    settings = Settings(
        environment="test", background=False, jwt_secret="a-real-secret-shared-with-the-identity-provider"
    )
    with TestClient(create(settings), follow_redirects=False) as client:
        page = client.get("/sign-in")
        assert ">Sign in</button>" not in page.text
        answer = client.post("/sign-in", data={"csrf_token": csrf(client), "role": "admin"})
        assert answer.status_code == 403 and "Local sign-in is off" in answer.text


def test_the_language_switch_speaks_french(console: TestClient) -> None:
    answer = console.post(
        "/language", data={"csrf_token": csrf(console), "language": "fr", "next": "/sign-in"}
    )
    assert answer.headers["location"] == "/sign-in"
    page = console.get("/sign-in")
    assert '<html lang="fr">' in page.text and page.headers["content-language"] == "fr"


def test_production_refuses_the_development_cookie_secret() -> None:
    settings = Settings(
        environment="production",
        jwt_secret="a-real-secret-shared-with-the-identity-provider",
        victim_data_keys="k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
    )
    with pytest.raises(RuntimeError, match="UNCOPS_CONSOLE_SESSION_SECRET"):
        create(settings)


def test_an_expired_session_returns_to_sign_in_and_back_to_the_page() -> None:
    import base64
    import json
    import time

    from itsdangerous import TimestampSigner

    from services.common.settings import DEVELOPMENT_CONSOLE_SECRET

    person = {
        "role": "conduct_officer",
        "subject": "cdo-1",
        "token": "expired.token.value",
        "expires_at": int(time.time()) - 60,
    }
    data = base64.b64encode(json.dumps({"person": person}).encode())
    cookie = TimestampSigner(DEVELOPMENT_CONSOLE_SECRET).sign(data).decode()
    with TestClient(create(Settings(environment="test", background=False)), follow_redirects=False) as client:
        client.cookies.set("uncops_console", cookie)
        answer = client.get("/cases/some-case?audit=x")
        assert answer.status_code == 303
        assert answer.headers["location"] == "/sign-in?next=%2Fcases%2Fsome-case%3Faudit%3Dx"
        back = client.post(
            "/sign-in",
            data={"csrf_token": csrf(client), "role": "conduct_officer", "next": "/cases/some-case?audit=x"},
        )
        assert back.headers["location"] == "/cases/some-case?audit=x"


def test_a_malformed_address_is_the_consoles_own_page(console: TestClient) -> None:
    answer = console.get("/sign-in", params={"next": "x" * 10})  # fine
    assert answer.status_code == 200
    signed = console.post("/sign-in", data={"csrf_token": csrf(console), "role": "conduct_officer"})
    assert signed.status_code == 303
    answer = console.get("/cases/some-case", params={"verify": "perhaps"})
    assert answer.status_code == 400 and "This address is not valid" in answer.text
    assert answer.headers["content-type"].startswith("text/html")


def test_a_planner_is_sent_to_the_pledges_first(console: TestClient) -> None:
    # The secretariat's pledges are the planner's first area, then the summits.
    signed = console.post("/sign-in", data={"csrf_token": csrf(console), "role": "planner"})
    assert signed.headers["location"] == "/"
    home = console.get("/", follow_redirects=False)
    assert home.status_code == 303 and home.headers["location"] == "/pledges"


def test_the_console_serves_its_operations_document_and_docs_like_every_service(console: TestClient) -> None:
    document = console.get("/openapi.json").json()
    assert {"/healthz", "/readyz", "/metrics"} <= set(document["paths"])
    docs = console.get("/docs")
    assert docs.status_code == 200 and "swagger-ui" in docs.text.lower() and "cdn" not in docs.text.lower()
    # The one page allowed an inline script; every other keeps the strict policy.
    assert "'unsafe-inline'" in docs.headers["content-security-policy"]
    assert "unsafe" not in console.get("/sign-in").headers["content-security-policy"]
