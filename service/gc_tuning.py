"""The garbage collector of a long-running service process, set once everything is loaded.

Python's cyclic collector runs its youngest generation every 700 net container allocations.
An action allocates thousands (the request, the update's payloads, the workflow task's
sandboxed serialization contexts), so a busy process ran it every few actions, and each full
collection walked every object of the loaded modules and the cached workflows (190 ms each in
`make bench`). Two changes, both standard for servers:

- what is loaded at start-up (modules, the app, the engine) is frozen out of the collector's
  reach: it lives as long as the process and is never garbage;
- the youngest generation is collected every `gc_young_threshold` allocations instead (cycles
  are still collected, a few ms later; refcounting frees everything else at once).
"""

from __future__ import annotations

import gc

import structlog

log = structlog.get_logger(__name__)

# Once per process: `perfbudget run` starts the API and the worker in one process, and tests
# start many apps in one.
_settled: list[bool] = []


def settle_heap(young_threshold: int) -> None:
    """Freeze what is loaded now and collect the young generation every `young_threshold`
    allocations (0 keeps Python's defaults); only the first call in a process does anything."""
    if young_threshold <= 0 or _settled:
        return
    _settled.append(True)
    gc.collect()  # what is garbage already is not frozen with the rest
    gc.freeze()
    _young, middle, old = gc.get_threshold()
    gc.set_threshold(young_threshold, middle, old)
    log.info("gc_settled", frozen_objects=gc.get_freeze_count(), young_threshold=young_threshold)
