"""Production verification: RS256 tokens checked against the identity provider's JWKS (served here on
loopback by a throwaway HTTP server), and HS256 development tokens refused there."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from services.common.auth import Role, TokenError, TokenVerifier, issue_token
from services.common.settings import Settings

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def jwks_url() -> Iterator[str]:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(KEY.public_key()))
    body = json.dumps({"keys": [{**jwk, "kid": "idp-1", "use": "sig", "alg": "RS256"}]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/.well-known/jwks.json"
    server.shutdown()


def _token(key: Any, kid: str = "idp-1", **claims: Any) -> str:
    now = int(time.time())
    payload = {
        "sub": "officer-9",
        "roles": ["conduct_officer"],
        "iss": "https://idp.example",
        "aud": "uncops",
        "iat": now,
        "exp": now + 300,
        **claims,
    }
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": kid})


@pytest.fixture
def verifier(jwks_url: str) -> TokenVerifier:
    settings = Settings(
        environment="production",
        jwks_url=jwks_url,
        jwt_issuer="https://idp.example",
        jwt_secret="a-production-secret-of-sufficient-length",
        victim_data_keys="k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
    )
    return TokenVerifier(settings)


def test_rs256_token_from_the_identity_provider_is_accepted(verifier: TokenVerifier) -> None:
    principal = verifier.verify(_token(KEY, member_state=None))
    assert principal.subject == "officer-9" and principal.roles == frozenset({Role.CONDUCT_OFFICER})


def test_token_signed_by_another_key_is_refused(verifier: TokenVerifier) -> None:
    with pytest.raises(TokenError):
        verifier.verify(_token(OTHER_KEY))


def test_unknown_key_id_is_refused(verifier: TokenVerifier) -> None:
    with pytest.raises(TokenError):
        verifier.verify(_token(KEY, kid="not-published"))


def test_development_hs256_token_is_refused_in_production(verifier: TokenVerifier) -> None:
    development = Settings(environment="development")
    with pytest.raises(TokenError):
        verifier.verify(issue_token(development, Role.ADMIN))
