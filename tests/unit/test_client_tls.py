"""Issue 20, client security for managed clusters: Kafka over TLS with a client certificate (SSL, SASL_SSL)
and Temporal with mutual TLS or an API key, from the settings the deployment files set
(docs/operations.md)."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import ValidationError
from temporalio.service import TLSConfig

from services.common.settings import Settings
from services.common.temporal import tls_config

_VARIABLES = [
    "KAFKA_SECURITY_PROTOCOL",
    "KAFKA_SASL_MECHANISM",
    "KAFKA_SSL_CAFILE",
    "KAFKA_SSL_CERTFILE",
    "KAFKA_SSL_KEYFILE",
    "TEMPORAL_TLS",
    "UNCOPS_TEMPORAL_TLS_CERT",
    "UNCOPS_TEMPORAL_TLS_KEY",
    "UNCOPS_TEMPORAL_TLS_CA",
    "UNCOPS_TEMPORAL_API_KEY",
]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in _VARIABLES:
        monkeypatch.delenv(variable, raising=False)


@dataclass(frozen=True)
class Pki:
    """A private CA, a server certificate for localhost and a client certificate, as PEM files."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _certificate(
    subject: str, key: ec.EllipticCurvePrivateKey, issuer: tuple[str, ec.EllipticCurvePrivateKey] | None
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    issuer_name, issuer_key = issuer or (subject, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
    )
    if issuer is None:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
    else:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
    return builder.sign(issuer_key, hashes.SHA256())


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    folder = tmp_path_factory.mktemp("pki")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _certificate("uncops test CA", ca_key, None)
    files: dict[str, bytes] = {"ca.pem": ca.public_bytes(serialization.Encoding.PEM)}
    for who in ("server", "client"):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _certificate(f"uncops test {who}", key, ("uncops test CA", ca_key))
        files[f"{who}.pem"] = cert.public_bytes(serialization.Encoding.PEM)
        files[f"{who}-key.pem"] = _key_pem(key)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return Pki(
        folder / "ca.pem",
        folder / "server.pem",
        folder / "server-key.pem",
        folder / "client.pem",
        folder / "client-key.pem",
    )


async def _handshake(server: ssl.SSLContext, client: ssl.SSLContext) -> str:
    """A TLS connection on loopback between the two contexts; the client's certificate's CN as the server saw
    it, or the error."""
    seen: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peercert") or {}
        names = [value for rdn in peer.get("subject", ()) for key, value in rdn if key == "commonName"]
        if not seen.done():
            seen.set_result(names[0] if names else "")
        writer.close()

    listener = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=server)
    port = listener.sockets[0].getsockname()[1]
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client, server_hostname="localhost")
        result = await asyncio.wait_for(seen, 10)
        writer.close()
        return result
    finally:
        listener.close()


def _server_context(pki: Pki) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.server_cert, pki.server_key)
    context.load_verify_locations(pki.ca)
    context.verify_mode = ssl.CERT_REQUIRED
    return context


# ---- Kafka


async def test_kafka_clients_speak_mutual_tls_with_the_configured_files(pki: Pki) -> None:
    settings = Settings(
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="uncops",
        kafka_sasl_password="secret",
        kafka_ssl_cafile=pki.ca,
        kafka_ssl_certfile=pki.client_cert,
        kafka_ssl_keyfile=pki.client_key,
    )
    options = settings.kafka_options()
    assert options["security_protocol"] == "SASL_SSL"
    assert (options["sasl_mechanism"], options["sasl_plain_username"]) == ("SCRAM-SHA-512", "uncops")
    context = options["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    # A broker requiring a client certificate signed by the CA accepts this one.
    assert await _handshake(_server_context(pki), context) == "uncops test client"


async def test_kafka_over_tls_without_the_ca_refuses_a_private_broker(pki: Pki) -> None:
    """No KAFKA_SSL_CAFILE: the system's CAs, which never signed our test broker."""
    context = Settings(kafka_security_protocol="SSL").kafka_options()["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    with pytest.raises(ssl.SSLCertVerificationError):
        await _handshake(_server_context(pki), context)


def test_plaintext_kafka_has_no_tls_context() -> None:
    assert "ssl_context" not in Settings().kafka_options()


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"kafka_security_protocol": "SSL", "kafka_ssl_certfile": "c.pem"}, "KAFKA_SSL_KEYFILE go together"),
        ({"kafka_ssl_cafile": "ca.pem"}, "need KAFKA_SECURITY_PROTOCOL=SSL or SASL_SSL, not PLAINTEXT"),
        ({"temporal_tls_key": "k.pem"}, "UNCOPS_TEMPORAL_TLS_KEY go together"),
    ],
)
def test_half_configured_tls_is_refused(settings: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Settings.model_validate(settings)


def test_a_missing_kafka_file_is_named() -> None:
    settings = Settings(kafka_security_protocol="SSL", kafka_ssl_cafile=Path("/nonexistent/ca.pem"))
    with pytest.raises(ValueError, match=r"KAFKA_SSL_CAFILE=/nonexistent/ca\.pem: no such file"):
        settings.kafka_options()


def test_the_environment_names(monkeypatch: pytest.MonkeyPatch, pki: Pki) -> None:
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SSL")
    monkeypatch.setenv("KAFKA_SSL_CAFILE", str(pki.ca))
    monkeypatch.setenv("KAFKA_SSL_CERTFILE", str(pki.client_cert))
    monkeypatch.setenv("KAFKA_SSL_KEYFILE", str(pki.client_key))
    monkeypatch.setenv("UNCOPS_TEMPORAL_TLS_CERT", str(pki.client_cert))
    monkeypatch.setenv("UNCOPS_TEMPORAL_TLS_KEY", str(pki.client_key))
    monkeypatch.setenv("UNCOPS_TEMPORAL_TLS_CA", str(pki.ca))
    monkeypatch.setenv("UNCOPS_TEMPORAL_API_KEY", "an-api-key")
    settings = Settings()
    assert (settings.kafka_ssl_cafile, settings.kafka_ssl_certfile) == (pki.ca, pki.client_cert)
    assert settings.kafka_ssl_keyfile == pki.client_key
    assert (settings.temporal_tls_cert, settings.temporal_tls_key) == (pki.client_cert, pki.client_key)
    assert settings.temporal_tls_ca == pki.ca
    assert settings.temporal_api_key is not None
    assert settings.temporal_api_key.get_secret_value() == "an-api-key"


# ---- Temporal


def test_temporal_mutual_tls_reads_the_certificate_files(pki: Pki) -> None:
    config = tls_config(
        Settings(temporal_tls_cert=pki.client_cert, temporal_tls_key=pki.client_key, temporal_tls_ca=pki.ca)
    )
    assert isinstance(config, TLSConfig)
    assert config.client_cert == pki.client_cert.read_bytes()
    assert config.client_private_key == pki.client_key.read_bytes()
    assert config.server_root_ca_cert == pki.ca.read_bytes()


def test_temporal_mutual_tls_with_a_public_ca(pki: Pki) -> None:
    config = tls_config(Settings(temporal_tls_cert=pki.client_cert, temporal_tls_key=pki.client_key))
    assert isinstance(config, TLSConfig) and config.server_root_ca_cert is None


@pytest.mark.parametrize(
    ("settings", "expected"),
    [({}, False), ({"temporal_tls": True}, True), ({"temporal_api_key": "k"}, True)],
)
def test_temporal_tls_without_certificates(settings: dict[str, object], expected: bool) -> None:
    """An API key is a bearer secret: it travels over TLS only (Temporal Cloud requires it)."""
    assert tls_config(Settings.model_validate(settings)) is expected


def test_a_missing_temporal_file_is_named(pki: Pki) -> None:
    settings = Settings(temporal_tls_cert=Path("/nonexistent/client.pem"), temporal_tls_key=pki.client_key)
    with pytest.raises(ValueError, match=r"UNCOPS_TEMPORAL_TLS_CERT=/nonexistent/client\.pem: no such file"):
        tls_config(settings)
