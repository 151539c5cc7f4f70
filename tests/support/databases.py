"""Fresh, empty application databases: a SQLite file, or a throwaway PostgreSQL database.

PostgreSQL comes from PERFBUDGET_TEST_DATABASE_URL (a server where we may CREATE DATABASE).
Without it, or when the server does not answer, PostgreSQL tests are skipped, unless
PERFBUDGET_REQUIRE_POSTGRES=1 (CI), where a skip would hide that they never ran: then they fail.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import NoReturn

import psycopg
import pytest
from psycopg import sql
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import URL, make_url

from service.db import forget_engine


class SuiteSettings(BaseSettings):
    """What the test suite itself is configured with (kept apart from the service's Settings)."""

    model_config = SettingsConfigDict(env_prefix="PERFBUDGET_", extra="ignore")

    test_database_url: str | None = None
    require_postgres: bool = False


@cache
def suite_settings() -> SuiteSettings:
    return SuiteSettings()


def libpq_uri(url: URL) -> str:
    # psycopg wants a libpq URI: no "+psycopg" driver suffix.
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def postgres_base_url() -> URL:
    """The configured server URL, or skip (fail under PERFBUDGET_REQUIRE_POSTGRES=1)."""
    settings = suite_settings()
    if settings.test_database_url is None:
        _unavailable("PERFBUDGET_TEST_DATABASE_URL is not set")
    url = make_url(settings.test_database_url)
    try:
        with psycopg.connect(libpq_uri(url), connect_timeout=5):
            pass
    except psycopg.OperationalError as error:
        _unavailable(f"PostgreSQL at {url.host}:{url.port or 5432} is unreachable: {error}")
    return url


def _unavailable(reason: str) -> NoReturn:
    if suite_settings().require_postgres:
        pytest.fail(f"{reason} (and PERFBUDGET_REQUIRE_POSTGRES=1)", pytrace=False)
    pytest.skip(reason)


@contextmanager
def fresh_postgres_database(base: URL) -> Iterator[str]:
    """A new empty database on the server of `base`, dropped afterwards; yields its URL."""
    name = f"pbtest_{uuid.uuid4().hex[:16]}"
    # CREATE/DROP DATABASE cannot run inside a transaction block.
    with psycopg.connect(libpq_uri(base), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            yield base.set(database=name).render_as_string(hide_password=False)
        finally:
            # Close this process's pooled connections first (a cached engine would otherwise
            # hold connections the server is about to cut); FORCE: anything else still
            # connected must not keep the database alive.
            url = base.set(database=name).render_as_string(hide_password=False)
            forget_engine(url)
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def sqlite_file_url(directory: Path) -> str:
    return f"sqlite:///{directory / 'app.db'}"


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgresql", marks=pytest.mark.postgresql),
    ]
)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """SQLAlchemy URL of a fresh empty database; the test runs once on SQLite, once on PG."""
    if request.param == "sqlite":
        yield sqlite_file_url(tmp_path)
        return
    with fresh_postgres_database(postgres_base_url()) as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """SQLAlchemy URL of a fresh SQLite file, for tests that need one database, not both."""
    return sqlite_file_url(tmp_path)
