"""Settings: documented defaults, environment overrides, and no unsafe production defaults."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from service.settings import DEVELOPMENT_JWT_SECRET, Settings, get_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No PERFBUDGET_* variable of the machine (CI sets some) leaks into these tests."""
    for name in list(os.environ):
        if name.startswith("PERFBUDGET_"):
            monkeypatch.delenv(name)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_defaults_are_as_documented() -> None:
    """Without any variable: the embedded stack on 127.0.0.1 with SQLite under ./var."""
    settings = Settings()
    assert settings.environment == "development"
    assert (settings.api_host, settings.api_port) == ("127.0.0.1", 8000)
    assert (settings.temporal_port, settings.ui_port) == (7233, 8233)
    assert settings.data_dir == Path("var")
    assert settings.database_url is None
    assert settings.effective_database_url == f"sqlite:///{Path('var').resolve()}/perfbudget.db"
    assert settings.temporal_address is None
    assert settings.embedded_temporal
    assert settings.effective_temporal_address == "127.0.0.1:7233"
    assert settings.temporal_namespace == "default"
    assert settings.task_queue == "perfbudget"
    assert settings.jwt_secret == DEVELOPMENT_JWT_SECRET
    assert settings.token_ttl_minutes == 60
    assert settings.log_format == "auto"
    assert settings.log_level == "INFO"


def test_environment_overrides_every_documented_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Each PERFBUDGET_* variable reaches its setting, and derived values follow."""
    variables = {
        "PERFBUDGET_ENVIRONMENT": "test",
        "PERFBUDGET_API_HOST": "0.0.0.0",
        "PERFBUDGET_API_PORT": "9000",
        "PERFBUDGET_TEMPORAL_PORT": "17233",
        "PERFBUDGET_UI_PORT": "18233",
        "PERFBUDGET_DATA_DIR": str(tmp_path),
        "PERFBUDGET_TEMPORAL_NAMESPACE": "budget",
        "PERFBUDGET_TASK_QUEUE": "q",
        "PERFBUDGET_TOKEN_TTL_MINUTES": "5",
        "PERFBUDGET_LOG_FORMAT": "json",
        "PERFBUDGET_LOG_LEVEL": "debug",
    }
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.environment == "test"
    assert (settings.api_host, settings.api_port) == ("0.0.0.0", 9000)
    assert settings.effective_temporal_address == "127.0.0.1:17233"
    assert settings.ui_port == 18233
    assert settings.effective_database_url == f"sqlite:///{tmp_path}/perfbudget.db"
    assert (settings.temporal_namespace, settings.task_queue) == ("budget", "q")
    assert settings.token_ttl_minutes == 5
    assert (settings.log_format, settings.log_level) == ("json", "DEBUG")


def test_temporal_address_selects_a_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    """With PERFBUDGET_TEMPORAL_ADDRESS the embedded server is off and the address is used."""
    monkeypatch.setenv("PERFBUDGET_TEMPORAL_ADDRESS", "temporal.internal:7233")
    settings = Settings()
    assert not settings.embedded_temporal
    assert settings.effective_temporal_address == "temporal.internal:7233"


def test_empty_temporal_address_means_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    """An empty variable (common in compose files) keeps the embedded server."""
    monkeypatch.setenv("PERFBUDGET_TEMPORAL_ADDRESS", "")
    assert Settings().embedded_temporal


@pytest.mark.parametrize(
    ("given", "effective"),
    [
        ("postgresql+psycopg://u:p@db:5432/pb", "postgresql+psycopg://u:p@db:5432/pb"),
        ("postgresql://u:p@db:5432/pb", "postgresql+psycopg://u:p@db:5432/pb"),
        ("postgres://u@db/pb", "postgresql+psycopg://u@db/pb"),
        ("sqlite:////srv/pb.db", "sqlite:////srv/pb.db"),
    ],
)
def test_database_url_is_used_with_the_psycopg_driver(
    monkeypatch: pytest.MonkeyPatch, given: str, effective: str
) -> None:
    """A configured URL is used as given; plain postgresql:// gets the installed driver."""
    monkeypatch.setenv("PERFBUDGET_DATABASE_URL", given)
    assert Settings().effective_database_url == effective


def test_production_refuses_the_development_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """Production without a JWT secret of its own does not start, and says which variable."""
    monkeypatch.setenv("PERFBUDGET_ENVIRONMENT", "production")
    with pytest.raises(ValidationError, match="PERFBUDGET_JWT_SECRET"):
        Settings()


def test_production_accepts_its_own_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """A secret of its own is enough for production."""
    monkeypatch.setenv("PERFBUDGET_ENVIRONMENT", "production")
    monkeypatch.setenv("PERFBUDGET_JWT_SECRET", "s" * 48)
    assert Settings().environment == "production"


def test_short_secret_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """HS256 needs at least 32 bytes of key; shorter is refused in every environment."""
    monkeypatch.setenv("PERFBUDGET_JWT_SECRET", "short")
    with pytest.raises(ValidationError, match="jwt_secret"):
        Settings()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PERFBUDGET_ENVIRONMENT", "staging"),
        ("PERFBUDGET_LOG_FORMAT", "xml"),
        ("PERFBUDGET_LOG_LEVEL", "LOUD"),
        ("PERFBUDGET_API_PORT", "70000"),
    ],
)
def test_invalid_values_are_refused(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    """A value outside the documented choices fails at start, not later."""
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        Settings()


def test_secret_is_not_in_repr() -> None:
    """Printing the settings (logs, tracebacks) does not leak the JWT secret."""
    assert DEVELOPMENT_JWT_SECRET not in repr(Settings())


def test_get_settings_reads_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """get_settings caches: the API, the worker and the CLI share one object."""
    first = get_settings()
    monkeypatch.setenv("PERFBUDGET_API_PORT", "9999")
    assert get_settings() is first
    get_settings.cache_clear()
    assert get_settings().api_port == 9999


def test_domain_rules_are_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Result-application percentages (and every rule) are set by nested environment variables."""
    monkeypatch.setenv("PERFBUDGET_RULES__RESULTS__FAIR_CUT_PERCENT", "15")
    monkeypatch.setenv("PERFBUDGET_RULES__RESULTS__POOR_CUT_PERCENT", "60")
    rules = Settings().rules
    assert rules.results.fair_cut_percent == 15
    assert rules.results.poor_cut_percent == 60
    assert rules.scoring.output_max == 50  # untouched rules keep the defaults of DOMAIN.md
