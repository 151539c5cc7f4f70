"""Suite-wide fixtures live in tests/support/, one module per concern; this registers them."""

from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher, profiles

from service import auth

pytest_plugins = [
    # Before `temporal`, which imports it (a plugin must be registered before its import).
    "tests.support.started",
    "tests.support.temporal",
    "tests.support.databases",
    "tests.support.browser",
]


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Argon2 at its cheapest: these tests check who gets in, not what a guess costs.

    With the real parameters each hash takes a few hundred milliseconds here, and every test
    creates several users.
    """
    monkeypatch.setattr(auth, "_hasher", PasswordHasher.from_parameters(profiles.CHEAPEST))
    auth._dummy_hash.cache_clear()
    yield
    auth._dummy_hash.cache_clear()
