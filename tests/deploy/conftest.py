"""Validation of deploy/ without a cluster or a Docker engine.

The Helm chart is rendered by Helm's own Go engine through the `helm-python-sdk` package (the
`helm` extra; no helm binary is packaged for pip or Debian). A fresh machine may lack it: those
tests then skip with the reason, unless PERFBUDGET_REQUIRE_DEPLOY_TOOLS=1 (CI, like
PERFBUDGET_REQUIRE_POSTGRES), where a skip would hide that the chart was never rendered.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType
from typing import NoReturn

import pytest
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


class DeployToolSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PERFBUDGET_", extra="ignore")

    require_deploy_tools: bool = False


def _unavailable(reason: str) -> NoReturn:
    if DeployToolSettings().require_deploy_tools:
        pytest.fail(f"{reason} (and PERFBUDGET_REQUIRE_DEPLOY_TOOLS=1)", pytrace=False)
    pytest.skip(reason)


def require_module(name: str, install: str) -> ModuleType:
    """Import `name`, or skip (fail under PERFBUDGET_REQUIRE_DEPLOY_TOOLS=1) saying how to get it."""
    try:
        return importlib.import_module(name)
    except ImportError as error:
        _unavailable(f"{name} is not installed ({error}); install it with {install}")
