"""TLS and API-key settings for a Temporal Cloud or mTLS cluster, as connect_client uses them."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from temporalio.client import TLSConfig

from service.settings import Settings
from service.temporal_client import TemporalConfigError, tls_config


def test_plain_grpc_by_default() -> None:
    assert tls_config(Settings(environment="test")) is False


def test_api_key_implies_tls_with_system_roots() -> None:
    settings = Settings(environment="test", temporal_api_key="key-of-temporal-cloud")
    config = tls_config(settings)
    assert isinstance(config, TLSConfig)
    assert (config.server_root_ca_cert, config.client_cert) == (None, None)
    assert "key-of-temporal-cloud" not in repr(settings)


def test_mutual_tls_reads_the_pem_files(tmp_path: Path) -> None:
    files = {}
    for name in ("ca", "cert", "key"):
        files[name] = tmp_path / f"{name}.pem"
        files[name].write_bytes(f"-----BEGIN {name}-----\n".encode())
    config = tls_config(
        Settings(
            environment="test",
            temporal_tls_server_ca=files["ca"],
            temporal_tls_client_cert=files["cert"],
            temporal_tls_client_key=files["key"],
            temporal_tls_server_name="temporal.internal",
        )
    )
    assert isinstance(config, TLSConfig)
    assert config.server_root_ca_cert == b"-----BEGIN ca-----\n"
    assert config.client_cert == b"-----BEGIN cert-----\n"
    assert config.client_private_key == b"-----BEGIN key-----\n"
    assert config.domain == "temporal.internal"


def test_a_missing_file_names_its_variable(tmp_path: Path) -> None:
    settings = Settings(environment="test", temporal_tls_server_ca=tmp_path / "absent.pem")
    with pytest.raises(TemporalConfigError, match="PERFBUDGET_TEMPORAL_TLS_SERVER_CA: cannot read"):
        tls_config(settings)


def test_a_client_certificate_needs_its_key(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="go together"):
        Settings(environment="test", temporal_tls_client_cert=tmp_path / "cert.pem")


def test_production_refuses_the_development_jwt_secret() -> None:
    with pytest.raises(ValidationError, match="PERFBUDGET_JWT_SECRET must be set"):
        Settings(environment="production")
    assert Settings(environment="production", jwt_secret="x" * 40).environment == "production"


def test_the_worker_command_names_an_unreadable_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from service import cli, schema
    from service.db import engine_for
    from service.settings import get_settings

    url = f"sqlite:///{tmp_path / 'app.db'}"
    schema.upgrade(engine_for(url))
    monkeypatch.setenv("PERFBUDGET_DATABASE_URL", url)
    monkeypatch.setenv("PERFBUDGET_TEMPORAL_ADDRESS", "127.0.0.1:9")
    monkeypatch.setenv("PERFBUDGET_TEMPORAL_TLS_SERVER_CA", str(tmp_path / "absent.pem"))
    get_settings.cache_clear()
    try:
        assert cli.main(["worker"]) == 2
    finally:
        get_settings.cache_clear()
    assert "PERFBUDGET_TEMPORAL_TLS_SERVER_CA: cannot read" in capsys.readouterr().err
