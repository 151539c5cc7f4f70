"""Configuration of the service: the only module that reads the environment.

Every setting has a `PERFBUDGET_` environment variable (`PERFBUDGET_API_PORT=9000`). The defaults
run the embedded stack on one machine; production sets the database, the Temporal cluster and a
real JWT secret, and refuses to start with the development secret.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from models.rules import Rules

# Long enough for HS256 (PyJWT warns below 32 bytes) and loud about what it is, so that it is
# recognised in any log or config dump; the validator below keeps it out of production.
DEVELOPMENT_JWT_SECRET = "perfbudget-development-secret-do-not-use-in-production"  # noqa: S105

Environment = Literal["development", "production", "test"]
LogFormat = Literal["auto", "json", "console"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
NotificationMode = Literal["send", "capture"]
# scheme://host[:port], as a browser sends it in the Origin header.
Origin = Annotated[str, Field(pattern=r"^https?://[^/\s:]+(:[0-9]{1,5})?$")]


class TemporalConfigError(RuntimeError):
    """A file the Temporal settings name (TLS material) cannot be read; the message names it."""


class Settings(BaseSettings):
    """Everything the API, the worker and the CLI may be configured with."""

    # frozen: one cached instance is shared by the API, the worker and the CLI; nobody should be
    # able to change it under the others (use `model_copy(update=...)` for a variant).
    model_config = SettingsConfigDict(
        env_prefix="PERFBUDGET_", extra="ignore", frozen=True, env_nested_delimiter="__"
    )

    environment: Environment = "development"

    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=0, le=65535)
    temporal_port: int = Field(default=7233, ge=0, le=65535)
    ui_port: int = Field(default=8233, ge=0, le=65535)

    data_dir: Path = Path("./var")
    # `perfbudget up` on a fresh data directory (no user yet) seeds a demo district
    # (`service.demo`); PERFBUDGET_DEMO=0 starts empty.
    demo: bool = True
    # None: SQLite in data_dir (see effective_database_url).
    database_url: str | None = None

    # None: run the embedded dev server on 127.0.0.1:temporal_port.
    temporal_address: str | None = None
    temporal_namespace: str = "default"
    task_queue: str = "perfbudget"
    # How long Temporal keeps a closed project's history when `perfbudget setup` registers the
    # namespace (an existing namespace keeps its own). Closed projects stay readable in the SQL
    # read model and the audit chain; the history is for operators and replay.
    temporal_namespace_retention_days: int = Field(default=30, ge=1, le=3650)

    # A TLS cluster (mTLS self-hosted, or Temporal Cloud). Any certificate, server name or API
    # key implies TLS; files are PEM, read at connection time.
    temporal_tls: bool = False
    temporal_tls_client_cert: Path | None = None
    temporal_tls_client_key: Path | None = None
    temporal_tls_server_ca: Path | None = None  # None: the system's trusted roots
    temporal_tls_server_name: str | None = None  # when the address is not the certificate's name
    # Temporal Cloud API key (instead of a client certificate); sent as a bearer token over TLS.
    temporal_api_key: str | None = Field(default=None, repr=False)

    # The Temporal SDK's own metrics (worker, workflow, activity, client RPC, and the
    # projection's perfbudget_escalations) in Prometheus format on host:port; None: off.
    temporal_metrics_bind: str | None = Field(default=None, pattern=r"^[^\s:]+:[0-9]{1,5}$")
    # The API's /metrics answers only with `Authorization: Bearer <token>` when set; unset, it
    # is open (scrape it on the cluster-internal Service; do not route /metrics in an ingress).
    metrics_token: str | None = Field(default=None, repr=False, min_length=16)

    # Graceful shutdown on SIGTERM: the API finishes requests in flight for up to this long;
    # the worker lets activities in hand finish (workflow tasks are short). Keep the pod's
    # terminationGracePeriodSeconds above both.
    api_graceful_shutdown_seconds: int = Field(default=10, ge=0, le=600)
    # How long the API keeps an idle client connection open: above the idle timeout of
    # whatever pools connections to it (a load balancer's 60 s, a client's pool), so that the
    # pool always closes an idle connection first and never sends a request on one the API is
    # closing at that moment (the request would be reset). uvicorn's own default is 5 s.
    api_keep_alive_seconds: int = Field(default=75, ge=1, le=3600)
    worker_graceful_shutdown_seconds: int = Field(default=30, ge=0, le=3600)

    # repr=False keeps the secret out of tracebacks and `print(settings)`.
    jwt_secret: str = Field(default=DEVELOPMENT_JWT_SECRET, repr=False, min_length=32)
    token_ttl_minutes: int = Field(default=60, gt=0)

    # Every number of the domain (scoring, assessment, monitoring, result application) with the
    # defaults of DOMAIN.md; e.g. PERFBUDGET_RULES__RESULTS__FAIR_CUT_PERCENT=15. New project
    # workflows start with these and keep them for life.
    rules: Rules = Rules()

    log_format: LogFormat = "auto"
    log_level: LogLevel = "INFO"

    # Notifications (the outbox of `service.notifications`). `capture` records every message as
    # `captured` without sending it: the simulator's mode, and a dry run before going live.
    notification_mode: NotificationMode = "send"
    # Tries per message, counted across deliveries; then it is `failed` and shown to operators.
    notification_max_attempts: int = Field(default=5, ge=1, le=50)
    # Wait before the second try, doubling after each (1, 2, 4, 8 s by default): rides out a
    # receiver's restart without holding an activity slot for long.
    notification_retry_delay_seconds: float = Field(default=1.0, ge=0, le=300)
    # Per HTTP request and per SMTP conversation.
    notification_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    # A message claimed for sending longer ago than this belongs to a deliverer that died; it
    # is tried again. Must exceed the longest delivery (tries × timeout + backoff).
    notification_claim_timeout_seconds: float = Field(default=300.0, gt=0)
    # The worker delivers whatever is still pending this often: rows no workflow will send
    # (`service.outbox_sweep`).
    notification_sweep_seconds: float = Field(default=300.0, gt=0)

    smtp_host: str = "localhost"
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_from: str = "perfbudget@localhost"
    smtp_username: str | None = None
    # repr=False, like jwt_secret: never in a traceback or a settings dump.
    smtp_password: str | None = Field(default=None, repr=False)
    smtp_starttls: bool = False

    # Sign-in throttling (`service.throttle`). After `login_max_failures` failed sign-ins for one
    # username within `login_window_seconds`, that username gets 429 for `login_lockout_seconds`,
    # right password or not; a successful sign-in clears its count. One client address is
    # locked the same way after `login_max_failures_per_client` failures with any usernames,
    # which stops one machine from trying a few passwords on every account; it is higher
    # because an office behind one NAT address shares it.
    login_max_failures: int = Field(default=5, ge=1, le=1000)
    login_window_seconds: int = Field(default=300, ge=1)
    login_lockout_seconds: int = Field(default=300, ge=1)
    login_max_failures_per_client: int = Field(default=50, ge=1, le=100_000)

    # Larger request bodies are refused with 413 before the application reads them; the
    # largest legitimate body (goals with 200 indicators) stays well under 1 MiB.
    max_body_bytes: int = Field(default=1_048_576, ge=1)

    # The cyclic garbage collector's youngest-generation threshold (Python's default: 700),
    # set at start-up after what is loaded is frozen (`service.gc_tuning`); 0 leaves both alone.
    gc_young_threshold: int = Field(default=10_000, ge=0)

    # Origins a browser may call the API from (`["https://pb.example.gov.cn"]`, JSON in the
    # environment). Empty: no CORS headers at all, so only same-origin pages can read answers.
    # Each must be scheme://host[:port] as browsers send it: an entry with a path or a trailing
    # slash would never match, which looks like a bug in the client.
    cors_origins: list[Origin] = Field(default_factory=list)

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_log_level(cls, value: object) -> object:
        # `PERFBUDGET_LOG_LEVEL=debug` is what people type.
        return value.upper() if isinstance(value, str) else value

    @field_validator(
        "temporal_address",
        "database_url",
        "temporal_tls_client_cert",
        "temporal_tls_client_key",
        "temporal_tls_server_ca",
        "temporal_tls_server_name",
        "temporal_api_key",
        "temporal_metrics_bind",
        "metrics_token",
        "smtp_username",
        "smtp_password",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # `PERFBUDGET_TEMPORAL_ADDRESS=` in a compose file or shell means "not set", not "".
        return None if value == "" else value

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Self:
        if self.environment == "production" and self.jwt_secret == DEVELOPMENT_JWT_SECRET:
            msg = (
                "PERFBUDGET_JWT_SECRET must be set to a secret of your own in production; "
                "the development default would let anyone forge tokens"
            )
            raise ValueError(msg)
        return self

    @model_validator(mode="after")
    def _client_certificate_in_pairs(self) -> Self:
        if (self.temporal_tls_client_cert is None) != (self.temporal_tls_client_key is None):
            msg = (
                "PERFBUDGET_TEMPORAL_TLS_CLIENT_CERT and PERFBUDGET_TEMPORAL_TLS_CLIENT_KEY "
                "go together: a client certificate is useless without its key"
            )
            raise ValueError(msg)
        return self

    @property
    def temporal_tls_enabled(self) -> bool:
        """Whether the connection to Temporal uses TLS (set, or implied by a TLS option)."""
        return self.temporal_tls or any(
            value is not None
            for value in (
                self.temporal_tls_client_cert,
                self.temporal_tls_server_ca,
                self.temporal_tls_server_name,
                self.temporal_api_key,
            )
        )

    @property
    def embedded_temporal(self) -> bool:
        """True when `perfbudget up` should start its own Temporal dev server."""
        return self.temporal_address is None

    @property
    def effective_temporal_address(self) -> str:
        """host:port of the Temporal frontend: the configured cluster or the embedded server."""
        if self.temporal_address is not None:
            return self.temporal_address
        return f"127.0.0.1:{self.temporal_port}"

    @property
    def effective_database_url(self) -> str:
        """SQLAlchemy URL of the application database."""
        if self.database_url is None:
            # Absolute, so that the API and the worker agree even if one of them changes directory.
            return f"sqlite:///{(self.data_dir / 'perfbudget.db').resolve()}"
        # Plain `postgresql://` would pick psycopg2, which is not installed; psycopg 3 is.
        for prefix in ("postgresql://", "postgres://"):
            if self.database_url.startswith(prefix):
                return "postgresql+psycopg://" + self.database_url.removeprefix(prefix)
        return self.database_url


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment once."""
    return Settings()
