"""The workbench without Temporal: the light app of tests/security (stand-in client, SQLite)."""

from tests.security.conftest import light_app

__all__ = ["light_app"]
