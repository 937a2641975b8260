"""Configuration from the environment (pydantic-settings), with safe production defaults."""

import base64
import binascii
import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from uncops_contracts.envelope import SCHEMA_BASE, SCHEMA_PATH
from uncops_contracts.policies import CasePolicy, PledgePolicy, SummitPolicy

# Accepted only in development and test: production must bring its own secret or a JWKS URL.
DEVELOPMENT_JWT_SECRET = "uncops-development-secret-do-not-use-in-production"
DEVELOPMENT_VICTIM_DATA_KEY = "uncops-development-victim-data-key"
DEVELOPMENT_CONSOLE_SECRET = "uncops-development-console-secret"
# Victim-data key ids (issue 20): as services/cases/domain/confidential.py writes them before each token.
_KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
LEGACY_VICTIM_KEY_ID = "legacy"

# The services with an API, a database, events and workflows; the console (services/console) is in front.
SERVICES = ("pledges", "cases", "summit")
CONSOLE = "console"
# The partner gateway (issue 18): an API and a database, but no workflows and no events of its own.
PARTNERS = "partners"
DEFAULT_PORTS = {"console": 8000, "pledges": 8001, "cases": 8002, "summit": 8003, "partners": 8004}


def _env(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class Settings(BaseSettings):
    # Nested policies from the environment, e.g. CASE_POLICY__PCC_REPLY_WORKING_DAYS=12.
    # hide_input_in_errors (issue 20): a refused setting's error must not print the input (secrets).
    model_config = SettingsConfigDict(
        extra="ignore", populate_by_name=True, env_nested_delimiter="__", hide_input_in_errors=True
    )

    environment: Literal["development", "test", "production"] = Field(
        "development", validation_alias=_env("UNCOPS_ENV")
    )
    host: str = Field("127.0.0.1", validation_alias=_env("UNCOPS_HOST"))
    run_dir: Path = Field(Path(".run/local"), validation_alias=_env("UNCOPS_RUN_DIR"))
    log_level: str = Field("INFO", validation_alias=_env("UNCOPS_LOG_LEVEL"))
    # The API process also runs its service's outbox relay and consumers unless told not to.
    background: bool = Field(True, validation_alias=_env("UNCOPS_BACKGROUND"))

    console_port: int = DEFAULT_PORTS["console"]
    pledges_port: int = DEFAULT_PORTS["pledges"]
    cases_port: int = DEFAULT_PORTS["cases"]
    summit_port: int = DEFAULT_PORTS["summit"]
    partners_port: int = DEFAULT_PORTS["partners"]

    postgres_host: str = "127.0.0.1"
    postgres_port: int = 5432
    postgres_user: str = "postgres"
    pledges_database_url: str | None = None
    cases_database_url: str | None = None
    summit_database_url: str | None = None
    # Notifications to people (issue 18): the console's own database (people, notifications, email outbox).
    console_database_url: str | None = None
    database_pool_size: int = 20
    # The hot paths' own asyncpg connections (ServiceRuntime.driver_connection), beside the engine's.
    database_driver_pool_size: int = 10
    # Batches of pledge submissions being stored at once by an API process (intake.IntakeWriter), each on
    # one of those connections. One gathers the most submissions per statement (measured: PostgreSQL's CPU
    # per submission is then close to a bare INSERT's); more let a slow statement hold fewer back.
    pledge_intake_writers: int = Field(1, ge=1, le=32)

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_security_protocol: str = "PLAINTEXT"
    kafka_sasl_mechanism: str | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    # Issue 20, Kafka over TLS (KAFKA_SECURITY_PROTOCOL=SSL or SASL_SSL): the CA that signed the brokers'
    # certificates (default: the system's), and a client certificate and key for mutual TLS. Paths.
    kafka_ssl_cafile: Path | None = None
    kafka_ssl_certfile: Path | None = None
    kafka_ssl_keyfile: Path | None = None
    kafka_topic_partitions: int = 3
    kafka_replication_factor: int = 1

    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    temporal_tls: bool = False
    # Issue 20, Temporal client security: mutual TLS (a self-hosted cluster's or Temporal Cloud's client
    # certificate and key, the CA when the server's is not publicly trusted; paths) or an API key (Temporal
    # Cloud). Either turns TLS on (services/common/temporal.py tls_config).
    temporal_tls_cert: Path | None = Field(None, validation_alias=_env("UNCOPS_TEMPORAL_TLS_CERT"))
    temporal_tls_key: Path | None = Field(None, validation_alias=_env("UNCOPS_TEMPORAL_TLS_KEY"))
    temporal_tls_ca: Path | None = Field(None, validation_alias=_env("UNCOPS_TEMPORAL_TLS_CA"))
    temporal_api_key: SecretStr | None = Field(None, validation_alias=_env("UNCOPS_TEMPORAL_API_KEY"))

    jwt_secret: SecretStr = Field(
        SecretStr(DEVELOPMENT_JWT_SECRET), validation_alias=_env("UNCOPS_JWT_SECRET")
    )
    jwks_url: str | None = Field(None, validation_alias=_env("UNCOPS_JWKS_URL"))
    jwt_issuer: str = Field("uncops-local", validation_alias=_env("UNCOPS_JWT_ISSUER"))
    jwt_audience: str = Field("uncops", validation_alias=_env("UNCOPS_JWT_AUDIENCE"))
    # The old single passphrase: read only in development and test, as the key ring's legacy key (below).
    victim_data_key: SecretStr = Field(
        SecretStr(DEVELOPMENT_VICTIM_DATA_KEY), validation_alias=_env("UNCOPS_VICTIM_DATA_KEY")
    )

    outbox_batch_size: int = Field(500, validation_alias=_env("UNCOPS_OUTBOX_BATCH_SIZE"))
    outbox_linger_ms: int = Field(5, ge=0, le=1000, validation_alias=_env("UNCOPS_OUTBOX_LINGER_MS"))
    outbox_retention_hours: int = Field(168, validation_alias=_env("UNCOPS_OUTBOX_RETENTION_HOURS"))
    consumer_max_attempts: int = Field(5, validation_alias=_env("UNCOPS_CONSUMER_MAX_ATTEMPTS"))
    consumer_stall_seconds: float = Field(60.0, validation_alias=_env("UNCOPS_CONSUMER_STALL_SECONDS"))
    # Standalone relay, consumer and worker processes serve /metrics on this port (the API serves its own on
    # its HTTP port). Issue 20: on by default, 9100 as in the deployment files; 0 turns it off. The local
    # stack gives each process its own (deploy/stack.py, docs/operations.md).
    metrics_port: int = Field(9100, ge=0, le=65535, validation_alias=_env("UNCOPS_METRICS_PORT"))
    # Policy defaults of misconduct cases (deadlines, 2272 thresholds), each overridable.
    case_policy: CasePolicy = CasePolicy()
    pledge_policy: PledgePolicy = PledgePolicy()
    summit_policy: SummitPolicy = SummitPolicy()
    # How long an Idempotency-Key's first answer is kept and replayed (services/common/idempotency.py).
    idempotency_ttl_hours: int = Field(
        24, ge=1, le=24 * 90, validation_alias=_env("UNCOPS_IDEMPOTENCY_TTL_HOURS")
    )
    # How long a request waits for a workflow step's outcome before answering 503 with Retry-After.
    step_timeout_seconds: float = Field(
        5.0, gt=0, le=300, validation_alias=_env("UNCOPS_STEP_TIMEOUT_SECONDS")
    )
    attachment_max_bytes: int = Field(20 * 1024 * 1024, validation_alias=_env("UNCOPS_ATTACHMENT_MAX_BYTES"))

    # The console: the key that signs its session cookie, where it finds the APIs (by default on this
    # host at their ports) and the front-end packages npm installed (htmx).
    console_session_secret: SecretStr = Field(
        SecretStr(DEVELOPMENT_CONSOLE_SECRET), validation_alias=_env("UNCOPS_CONSOLE_SESSION_SECRET")
    )
    pledges_api_url: str | None = None
    cases_api_url: str | None = None
    summit_api_url: str | None = None
    console_node_modules: Path = Field(
        Path(__file__).resolve().parents[2] / "node_modules",
        validation_alias=_env("UNCOPS_CONSOLE_NODE_MODULES"),
    )
    # The console's production sign-in: OpenID Connect (authorization code with PKCE) against this issuer.
    # The person's role(s) and Member State are read from the ID token's claims named here (the APIs' own
    # claim names by default; a dotted name reaches into an object, e.g. realm_access.roles).
    console_url: str | None = Field(None, validation_alias=_env("UNCOPS_CONSOLE_URL"))
    oidc_issuer: str | None = Field(None, validation_alias=_env("UNCOPS_OIDC_ISSUER"))
    oidc_client_id: str = Field("uncops-console", validation_alias=_env("UNCOPS_OIDC_CLIENT_ID"))
    # None: a public client, protected by PKCE alone.
    oidc_client_secret: SecretStr | None = Field(None, validation_alias=_env("UNCOPS_OIDC_CLIENT_SECRET"))
    oidc_scopes: str = Field("openid profile", validation_alias=_env("UNCOPS_OIDC_SCOPES"))
    oidc_provider_name: str | None = Field(None, validation_alias=_env("UNCOPS_OIDC_PROVIDER_NAME"))
    oidc_roles_claim: str = Field("roles", validation_alias=_env("UNCOPS_OIDC_ROLES_CLAIM"))
    oidc_member_state_claim: str = Field(
        "member_state", validation_alias=_env("UNCOPS_OIDC_MEMBER_STATE_CLAIM")
    )

    # Issue 18, schemas at their URLs: the base of every published event's ce_dataschema. Production points
    # it at the partner gateway's public address, which serves each schema at <base>/<domain>/<file>; the
    # outbox and the contracts keep the canonical base, and the relay swaps the prefix when it publishes.
    schema_base_url: str = Field(SCHEMA_BASE, validation_alias=_env("UNCOPS_SCHEMA_BASE_URL"))

    @field_validator("schema_base_url")
    @classmethod
    def _schema_base_url_ends_with_the_schemas_path(cls, value: str) -> str:
        value = value.rstrip("/")
        if not value.startswith(("http://", "https://")) or not value.endswith(SCHEMA_PATH):
            raise ValueError(
                f"UNCOPS_SCHEMA_BASE_URL must be an http(s) URL ending with {SCHEMA_PATH} "
                f"(the path the partner gateway serves the schemas at), got {value!r}"
            )
        return value

    # Notifications to people (issue 18): email over SMTP (the local mail catcher by default), the digest's
    # hour (UTC) and whether the console composes digests by itself (tests compose them on demand).
    smtp_host: str = Field("127.0.0.1", validation_alias=_env("SMTP_HOST"))
    smtp_port: int = Field(1025, validation_alias=_env("SMTP_PORT"))
    smtp_starttls: bool = Field(False, validation_alias=_env("SMTP_STARTTLS"))
    smtp_username: str | None = Field(None, validation_alias=_env("SMTP_USERNAME"))
    smtp_password: SecretStr | None = Field(None, validation_alias=_env("SMTP_PASSWORD"))
    smtp_timeout_seconds: float = Field(10.0, gt=0, validation_alias=_env("SMTP_TIMEOUT_SECONDS"))
    mail_from: str = Field("UNCOPS <no-reply@uncops.local>", validation_alias=_env("UNCOPS_MAIL_FROM"))
    notification_digest_hour: int = Field(7, ge=0, le=23, validation_alias=_env("UNCOPS_DIGEST_HOUR"))
    notification_digests: bool = Field(True, validation_alias=_env("UNCOPS_DIGESTS"))

    # ---- The partner gateway (services/partners, issue 18): webhooks, the event feed, schemas at their URLs.
    partners_database_url: str | None = None
    # Seconds before each retry of a failed webhook delivery (each with up to 20 % jitter); when the last has
    # failed too, the delivery fails and its subscription is marked failing. The default spans 3 days.
    webhook_retry_seconds: list[float] = Field(
        [5, 300, 1800, 7200, 18000, 36000, 36000, 86400, 72000],
        min_length=1,
        validation_alias=_env("UNCOPS_WEBHOOK_RETRY_SECONDS"),
    )
    webhook_timeout_seconds: float = Field(
        10.0, gt=0, le=60, validation_alias=_env("UNCOPS_WEBHOOK_TIMEOUT_SECONDS")
    )
    # Deliveries in flight at once in one gateway process, and per subscription (one per aggregate key).
    webhook_concurrency: int = Field(16, ge=1, le=256, validation_alias=_env("UNCOPS_WEBHOOK_CONCURRENCY"))
    webhook_subscription_concurrency: int = Field(
        4, ge=1, le=64, validation_alias=_env("UNCOPS_WEBHOOK_SUBSCRIPTION_CONCURRENCY")
    )
    # How long a rotated-out secret keeps signing beside the new one.
    webhook_secret_overlap_hours: float = Field(
        24.0, ge=0, le=24 * 30, validation_alias=_env("UNCOPS_WEBHOOK_SECRET_OVERLAP_HOURS")
    )
    # Networks (CIDR) a production webhook may target although they are loopback, private or link-local.
    webhook_allowed_networks: list[str] = Field([], validation_alias=_env("UNCOPS_WEBHOOK_ALLOWED_NETWORKS"))
    # The dispatcher's poll when no NOTIFY wakes it (retries falling due, a missed notification).
    webhook_poll_seconds: float = Field(
        1.0, gt=0, le=60, validation_alias=_env("UNCOPS_WEBHOOK_POLL_SECONDS")
    )
    # Where contracts/schemas and contracts/asyncapi.yaml are; default: the repository's contracts/ folder,
    # else the uncops_contracts package's data.
    contracts_dir: Path | None = Field(None, validation_alias=_env("UNCOPS_CONTRACTS_DIR"))

    # ---- Confidential data at rest (issue 20): the victim-data key ring and the attachments' object store.
    # UNCOPS_VICTIM_DATA_KEYS: comma-separated `key-id:urlsafe base64 of 32 random bytes`; the first encrypts,
    # all decrypt (services/cases/domain/confidential.py). Required in production.
    victim_data_keys: SecretStr | None = Field(None, validation_alias=_env("UNCOPS_VICTIM_DATA_KEYS"))
    # S3-compatible storage: no endpoint = AWS itself; credentials: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY.
    s3_endpoint_url: str | None = Field(None, validation_alias=_env("UNCOPS_S3_ENDPOINT_URL"))
    s3_bucket: str = Field("uncops-attachments", min_length=3, validation_alias=_env("UNCOPS_S3_BUCKET"))
    s3_region: str = Field("us-east-1", validation_alias=_env("UNCOPS_S3_REGION"))

    def victim_key_ring(self) -> list[tuple[str, bytes]]:
        """UNCOPS_VICTIM_DATA_KEYS as (key id, 32-byte key), primary first; ValueError, never the key, if
        malformed."""
        if self.victim_data_keys is None or not self.victim_data_keys.get_secret_value().strip():
            return []
        keys: list[tuple[str, bytes]] = []
        for position, entry in enumerate(self.victim_data_keys.get_secret_value().split(","), 1):
            key_id, separator, encoded = entry.strip().partition(":")
            if not separator or not _KEY_ID.match(key_id):
                raise ValueError(
                    f"UNCOPS_VICTIM_DATA_KEYS entry {position} must be key-id:key, the id 1-40 letters, "
                    "digits, '-' or '_'"
                )
            if key_id == LEGACY_VICTIM_KEY_ID or key_id in {k for k, _ in keys}:
                raise ValueError(f"UNCOPS_VICTIM_DATA_KEYS: key id {key_id!r} is reserved or given twice")
            try:
                key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), altchars=b"-_", validate=True)
            except (binascii.Error, ValueError):
                key = b""
            # 32 random bytes are almost never all printable (p < 1e-13): such a key is a passphrase.
            if len(key) != 32 or all(32 <= b < 127 for b in key):
                raise ValueError(
                    f"UNCOPS_VICTIM_DATA_KEYS key {key_id!r} must be the urlsafe base64 of 32 random bytes, "
                    "not a passphrase: make one with `uncops new-key`"
                )
            keys.append((key_id, key))
        return keys

    @property
    def legacy_victim_passphrase(self) -> str | None:
        """The old UNCOPS_VICTIM_DATA_KEY: read (the ring's legacy key) only in development and test."""
        return None if self.environment == "production" else self.victim_data_key.get_secret_value()

    def _check_victim_keys(self) -> None:
        keys = self.victim_key_ring()
        if self.environment != "production":
            return
        if not keys:
            raise ValueError(
                "UNCOPS_VICTIM_DATA_KEYS is required in production: comma-separated key-id:key, each key the "
                "urlsafe base64 of 32 random bytes (docs/operations.md, victim-data keys)"
            )
        if self.victim_data_key.get_secret_value() != DEVELOPMENT_VICTIM_DATA_KEY:
            raise ValueError(
                "UNCOPS_VICTIM_DATA_KEY (a passphrase) is read only in development and test: remove it and "
                "use UNCOPS_VICTIM_DATA_KEYS"
            )

    @model_validator(mode="after")
    def _refuse_development_secrets(self) -> "Settings":
        if not self.jwks_url:
            self.jwks_url = None  # an empty variable means "not set", never "skip the secret check"
        if not self.oidc_issuer:
            self.oidc_issuer = None
        self._check_victim_keys()
        if self.environment == "production":
            if self.jwks_url is None and self.jwt_secret.get_secret_value() == DEVELOPMENT_JWT_SECRET:
                raise ValueError(
                    "UNCOPS_JWT_SECRET is the development secret: set a real secret or UNCOPS_JWKS_URL"
                )
            if self.oidc_issuer and not self.console_url:
                raise ValueError("UNCOPS_OIDC_ISSUER needs UNCOPS_CONSOLE_URL (the sign-in's redirect URI)")
        return self

    @model_validator(mode="after")
    def _client_tls_is_complete(self) -> "Settings":
        # Issue 20: a half-configured TLS client fails at its first connection, far from the cause.
        if (self.temporal_tls_cert is None) != (self.temporal_tls_key is None):
            raise ValueError("UNCOPS_TEMPORAL_TLS_CERT and UNCOPS_TEMPORAL_TLS_KEY go together (mutual TLS)")
        if (self.kafka_ssl_certfile is None) != (self.kafka_ssl_keyfile is None):
            raise ValueError("KAFKA_SSL_CERTFILE and KAFKA_SSL_KEYFILE go together (mutual TLS)")
        ssl_files = (self.kafka_ssl_cafile, self.kafka_ssl_certfile)
        if any(ssl_files) and self.kafka_security_protocol not in ("SSL", "SASL_SSL"):
            raise ValueError(
                "KAFKA_SSL_CAFILE, KAFKA_SSL_CERTFILE and KAFKA_SSL_KEYFILE need KAFKA_SECURITY_PROTOCOL=SSL "
                f"or SASL_SSL, not {self.kafka_security_protocol}"
            )
        return self

    @property
    def local_sign_in(self) -> bool:
        """Whether the console may sign people in by itself: only with the development signing secret,
        whose tokens nothing outside this machine accepts."""
        return self.jwks_url is None and self.jwt_secret.get_secret_value() == DEVELOPMENT_JWT_SECRET

    @property
    def public_console_url(self) -> str:
        """Where people reach the console (the identity provider sends them back there)."""
        return (self.console_url or f"http://127.0.0.1:{self.console_port}").rstrip("/")

    def api_url(self, service: str) -> str:
        url: str | None = getattr(self, f"{service}_api_url")
        return (url or f"http://127.0.0.1:{self.port(service)}").rstrip("/")

    def database_url(self, service: str) -> str:
        url: str | None = getattr(self, f"{service}_database_url")
        if url:
            return url
        return (
            f"postgresql+asyncpg://{self.postgres_user}@{self.postgres_host}:{self.postgres_port}"
            f"/uncops_{service}"
        )

    def port(self, service: str) -> int:
        port: int = getattr(self, f"{service}_port")
        return port

    def kafka_options(self) -> dict[str, object]:
        """Connection options shared by every aiokafka client."""
        options: dict[str, object] = {
            "bootstrap_servers": self.kafka_bootstrap_servers,
            "security_protocol": self.kafka_security_protocol,
        }
        if self.kafka_sasl_mechanism:
            options["sasl_mechanism"] = self.kafka_sasl_mechanism
            options["sasl_plain_username"] = self.kafka_sasl_username
            if self.kafka_sasl_password:
                options["sasl_plain_password"] = self.kafka_sasl_password.get_secret_value()
        if self.kafka_security_protocol in ("SSL", "SASL_SSL"):
            # Imported here: services.common.kafka imports this module.
            from services.common.kafka import ssl_context

            options["ssl_context"] = ssl_context(self)
        return options


@lru_cache
def get_settings() -> Settings:
    return Settings()
