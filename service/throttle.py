"""Sign-in throttling: too many failed sign-ins lock a username, or a client address, for a while.

`LoginThrottle` holds the policy (how many failures in which window lock for how long, per
username and per client address); a `FailureStore` only counts. The store here lives in the
process: with several API replicas behind a load balancer each would allow its own N failures,
so such a deployment needs a shared store (a database table or Redis) behind the same interface.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from service.settings import Settings


class FailureStore(Protocol):
    """Counts failures per key inside a sliding window and remembers lockouts."""

    def locked_for(self, key: str, *, now: float) -> float:
        """Seconds `key` stays locked from `now`; 0 when it is not locked."""
        ...

    def record_failure(
        self, key: str, *, now: float, limit: int, window: float, lockout: float
    ) -> None:
        """Count a failure at `now`; the `limit`-th within `window` locks `key` for `lockout`."""
        ...

    def clear(self, key: str) -> None:
        """Forget `key`'s failures and lockout."""
        ...


@dataclass
class _Entry:
    failures: deque[float] = field(default_factory=deque)
    locked_until: float = 0.0


class MemoryFailureStore:
    """A `FailureStore` in this process's memory, safe for the threads of one process.

    Bounded: an attacker spraying random usernames must not grow it without limit. Past
    `max_keys` the entries with nothing left to remember go first, then the least recently
    touched ones (dict order is kept as recency order).
    """

    def __init__(self, *, max_keys: int = 100_000) -> None:
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()
        self._max_keys = max_keys

    def locked_for(self, key: str, *, now: float) -> float:
        with self._lock:
            entry = self._entries.get(key)
            return max(0.0, entry.locked_until - now) if entry else 0.0

    def record_failure(
        self, key: str, *, now: float, limit: int, window: float, lockout: float
    ) -> None:
        with self._lock:
            # pop and re-insert: the entry moves to the end, the most recently touched.
            entry = self._entries.pop(key, None) or _Entry()
            self._entries[key] = entry
            _forget_before(entry.failures, now - window)
            entry.failures.append(now)
            if len(entry.failures) >= limit:
                entry.locked_until = now + lockout
                entry.failures.clear()
            if len(self._entries) > self._max_keys:
                self._evict(now=now, window=window)

    def clear(self, key: str) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def __len__(self) -> int:
        return len(self._entries)

    def _evict(self, *, now: float, window: float) -> None:
        for key, entry in list(self._entries.items()):
            _forget_before(entry.failures, now - window)
            if not entry.failures and entry.locked_until <= now:
                del self._entries[key]
        while len(self._entries) > self._max_keys:
            del self._entries[next(iter(self._entries))]


def _forget_before(failures: deque[float], cutoff: float) -> None:
    while failures and failures[0] <= cutoff:
        failures.popleft()


@dataclass(frozen=True)
class LoginThrottle:
    """The sign-in policy of `Settings.login_*` over a `FailureStore`."""

    store: FailureStore
    max_failures: int
    max_failures_per_client: int
    window_seconds: float
    lockout_seconds: float
    # Monotonic: a wall clock set back by NTP must not lengthen or lift a lockout.
    clock: Callable[[], float] = time.monotonic

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        store: FailureStore | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> LoginThrottle:
        return cls(
            store=store if store is not None else MemoryFailureStore(),
            max_failures=settings.login_max_failures,
            max_failures_per_client=settings.login_max_failures_per_client,
            window_seconds=settings.login_window_seconds,
            lockout_seconds=settings.login_lockout_seconds,
            clock=clock,
        )

    def retry_after(self, *, username: str, client: str) -> int:
        """Whole seconds until `username` from `client` may try again; 0: it may now."""
        now = self.clock()
        wait = max(
            self.store.locked_for(_user_key(username), now=now),
            self.store.locked_for(_client_key(client), now=now),
        )
        return math.ceil(wait)

    def failed(self, *, username: str, client: str) -> None:
        """Count a failed sign-in against the username and against the client address."""
        now = self.clock()
        for key, limit in (
            (_user_key(username), self.max_failures),
            (_client_key(client), self.max_failures_per_client),
        ):
            self.store.record_failure(
                key,
                now=now,
                limit=limit,
                window=self.window_seconds,
                lockout=self.lockout_seconds,
            )

    def succeeded(self, *, username: str) -> None:
        """Clear the username's failures.

        Not the client's: one account an attacker owns must not wipe the count of their
        guesses at everyone else's.
        """
        self.store.clear(_user_key(username))


def _user_key(username: str) -> str:
    return f"user:{username}"


def _client_key(client: str) -> str:
    return f"client:{client}"
