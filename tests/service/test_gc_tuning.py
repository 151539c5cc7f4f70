"""The garbage collector is settled once per process at start-up (`service.gc_tuning`).

Each case runs in a fresh interpreter: freezing the heap is not undone, and the test process
must keep its own collector settings.
"""

from __future__ import annotations

import json
import subprocess
import sys

_PROBE = """
import gc, json, sys
from service.gc_tuning import settle_heap
for threshold in map(int, sys.argv[1:]):
    settle_heap(threshold)
print(json.dumps({"threshold": gc.get_threshold(), "frozen": gc.get_freeze_count()}))
"""


def _after(*thresholds: int) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *map(str, thresholds)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_the_loaded_heap_is_frozen_and_the_young_threshold_raised() -> None:
    after = _after(10_000)
    assert after["threshold"] == [10_000, 10, 10]
    assert isinstance(after["frozen"], int)
    assert after["frozen"] > 10_000  # the modules loaded so far, at least


def test_only_the_first_call_settles() -> None:
    assert _after(10_000, 50)["threshold"] == [10_000, 10, 10]


def test_zero_leaves_the_collector_as_python_sets_it() -> None:
    after = _after(0)
    assert after["threshold"] == [700, 10, 10]
    assert after["frozen"] == 0
