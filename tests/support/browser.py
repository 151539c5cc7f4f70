"""Headless Chromium for the browser tests: Debian's `chromium`, driven by Playwright.

Playwright never downloads a browser here (`executable_path`). Without Chromium the tests that
need it are skipped with the reason, unless PERFBUDGET_REQUIRE_BROWSER=1 (CI, set by .ci/run),
where a skip would hide that they never ran: then they fail.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import cache
from pathlib import Path
from typing import NoReturn

import pytest
from pydantic_settings import BaseSettings, SettingsConfigDict

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Screenshots of the main pages, kept as test artifacts (var/ is not committed).
ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "artifacts" / "e2e"


class BrowserSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PERFBUDGET_", extra="ignore")

    require_browser: bool = False


@cache
def _settings() -> BrowserSettings:
    return BrowserSettings()


def missing(reason: str) -> NoReturn:
    """Skip for want of a system package the browser tests need; fail in CI, where it must be."""
    if _settings().require_browser:
        pytest.fail(f"{reason} (and PERFBUDGET_REQUIRE_BROWSER=1)", pytrace=False)
    pytest.skip(reason)


def chromium_or_skip() -> Path:
    if CHROMIUM.exists():
        return CHROMIUM
    missing(f"{CHROMIUM} is missing (apt-get install chromium)")


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[object]:
    """One headless Chromium for the session (each test opens its own contexts)."""
    executable = chromium_or_skip()
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=str(executable), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield chromium
        finally:
            await chromium.close()
