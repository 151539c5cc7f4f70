"""Repeated failed sign-ins lock the username (and a busy client address) for a while: 429."""

from __future__ import annotations

import httpx
import pytest

from service.settings import Settings
from service.throttle import LoginThrottle, MemoryFailureStore
from tests.api.conftest import PASSWORD
from tests.security.conftest import LightApp


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _throttle(clock: Clock, **limits: int) -> LoginThrottle:
    settings = Settings.model_validate({"environment": "test", **limits})
    return LoginThrottle.from_settings(settings, clock=clock)


async def _sign_in(http: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await http.post("/api/auth/token", data={"username": username, "password": password})


class TestPolicy:
    def test_the_nth_failure_in_the_window_locks_the_username(self) -> None:
        """N failures within the window lock for the lockout; N-1 do not."""
        clock = Clock()
        throttle = _throttle(clock)  # 5 failures / 300 s → 300 s
        for _ in range(4):
            throttle.failed(username="fin", client="10.0.0.1")
        assert throttle.retry_after(username="fin", client="10.0.0.1") == 0
        throttle.failed(username="fin", client="10.0.0.1")
        assert throttle.retry_after(username="fin", client="10.0.0.2") == 300
        clock.now += 299.5
        assert throttle.retry_after(username="fin", client="10.0.0.2") == 1  # rounded up
        clock.now += 0.5
        assert throttle.retry_after(username="fin", client="10.0.0.2") == 0

    def test_failures_older_than_the_window_do_not_count(self) -> None:
        """A slow trickle of mistakes never locks anyone."""
        clock = Clock()
        throttle = _throttle(clock, login_window_seconds=60)
        for _ in range(20):
            throttle.failed(username="fin", client="10.0.0.1")
            clock.now += 15  # four per minute: always one short
        assert throttle.retry_after(username="fin", client="10.0.0.1") == 0

    def test_success_clears_the_username_but_not_the_client(self) -> None:
        """Signing in resets the account's count; the address's count stays."""
        clock = Clock()
        throttle = _throttle(clock, login_max_failures=3, login_max_failures_per_client=4)
        for _ in range(2):
            throttle.failed(username="fin", client="10.0.0.1")
        throttle.succeeded(username="fin")
        for _ in range(2):
            throttle.failed(username="fin", client="10.0.0.1")
        assert throttle.retry_after(username="fin", client="10.0.0.9") == 0
        assert throttle.retry_after(username="other", client="10.0.0.1") > 0

    def test_one_client_spraying_usernames_is_locked(self) -> None:
        """Few guesses at many accounts from one address lock that address, for any username."""
        clock = Clock()
        throttle = _throttle(clock, login_max_failures_per_client=10)
        for number in range(10):
            throttle.failed(username=f"user{number}", client="10.0.0.1")
        assert throttle.retry_after(username="someone-else", client="10.0.0.1") == 300
        assert throttle.retry_after(username="someone-else", client="10.0.0.2") == 0

    def test_the_memory_store_stays_bounded(self) -> None:
        """Random usernames cannot grow the store past its bound."""
        store = MemoryFailureStore(max_keys=100)
        for number in range(1000):
            store.record_failure(
                f"user:{number}", now=float(number), limit=5, window=10, lockout=60
            )
        assert len(store) <= 100
        store.record_failure("user:x", now=2000, limit=1, window=10, lockout=60)
        assert store.locked_for("user:x", now=2000) == 60


class TestSignInEndpoint:
    async def test_locked_username_gets_429_problem_with_retry_after(
        self, light_app: LightApp
    ) -> None:
        """After 5 wrong passwords the 6th try, even the right password, is a 429 problem."""
        async with light_app() as (_, http):
            for _ in range(5):
                assert (await _sign_in(http, "fin", "wrong-password")).status_code == 401
            locked = await _sign_in(http, "fin", PASSWORD)
            assert locked.status_code == 429
            assert locked.headers["content-type"].startswith("application/problem+json")
            assert locked.headers["retry-after"] == "300"
            problem = locked.json()
            assert problem["status"] == 429
            assert problem["title"] == "Too many failed sign-ins"
            assert "300 seconds" in problem["detail"]
            # Others sign in as before.
            assert (await _sign_in(http, "admin", PASSWORD)).status_code == 200

    async def test_unknown_username_is_locked_like_a_real_one(self, light_app: LightApp) -> None:
        """The lockout does not tell which usernames exist."""
        async with light_app(login_max_failures=2) as (_, http):
            for username in ("fin", "nobody"):
                for _ in range(2):
                    await _sign_in(http, username, "wrong-password")
                assert (await _sign_in(http, username, "wrong-password")).status_code == 429

    async def test_success_resets_the_count(self, light_app: LightApp) -> None:
        """Mistakes before a successful sign-in are forgotten."""
        async with light_app(login_max_failures=3) as (_, http):
            for _ in range(2):
                await _sign_in(http, "fin", "wrong-password")
            assert (await _sign_in(http, "fin", PASSWORD)).status_code == 200
            for _ in range(2):
                assert (await _sign_in(http, "fin", "wrong-password")).status_code == 401
            assert (await _sign_in(http, "fin", PASSWORD)).status_code == 200

    async def test_lockout_ends(self, light_app: LightApp) -> None:
        """Once the lockout has passed, the right password works again."""
        clock = Clock()
        async with light_app(login_max_failures=2, login_lockout_seconds=60) as (app, http):
            app.state.login_throttle = LoginThrottle.from_settings(app.state.settings, clock=clock)
            for _ in range(2):
                await _sign_in(http, "fin", "wrong-password")
            assert (await _sign_in(http, "fin", PASSWORD)).headers["retry-after"] == "60"
            clock.now += 60
            assert (await _sign_in(http, "fin", PASSWORD)).status_code == 200

    async def test_per_client_limit(self, light_app: LightApp) -> None:
        """Guessing across many accounts from one address locks the address."""
        async with light_app(login_max_failures_per_client=6) as (_, http):
            for number in range(6):
                assert (await _sign_in(http, f"user{number}", "guess")).status_code == 401
            assert (await _sign_in(http, "fin", PASSWORD)).status_code == 429

    async def test_throttled_attempts_are_logged_without_the_password(
        self, light_app: LightApp, caplog: pytest.LogCaptureFixture
    ) -> None:
        """The lockout is logged with the username; the guessed password appears nowhere."""
        async with light_app(login_max_failures=1) as (_, http):
            await _sign_in(http, "fin", "guess-one")
            await _sign_in(http, "fin", "guess-two")
        events = [r.msg for r in caplog.records if isinstance(r.msg, dict)]
        throttled = [e for e in events if e.get("event") == "sign_in_throttled"]
        assert throttled
        assert throttled[0]["username"] == "fin"
        assert "guess-" not in caplog.text
