"""Python's cyclic garbage collector paused around a bulk build of short-lived plain objects (ADR 0053).

CPython frees an object as soon as nothing refers to it (reference counting); the cyclic collector only finds
groups of objects that refer to each other. It runs after every 700 new container objects and, every so often, walks
every object of the process (a Django process holds about 180,000). A bulk write that builds tens of thousands of
rows, commands and model instances triggers hundreds of young collections and one or two walks of the whole heap:
at 10,000 devices, an emergency call spent 0.1-0.3 CPU-s of its ~1 s of Python in the collector, finding nothing to
free. :func:`collection_paused` holds automatic collection for the duration of such a block; objects without cycles
are freed as before, cyclic garbage (if any) waits for the next collection after the block.

Process-wide (the collector has one switch): nested and concurrent blocks keep it off until the last one ends, and it
is never switched on by a block that found it off."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0  # blocks open in the process
_resume = False  # whether the first block found automatic collection on


@contextmanager
def collection_paused() -> Iterator[None]:
    """Automatic cyclic garbage collection off for the block (back to how it was when the outermost block ends)."""
    global _depth, _resume
    with _lock:
        if _depth == 0:
            _resume = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _resume:
                gc.enable()
