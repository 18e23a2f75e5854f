"""Pausing Python's cyclic garbage collector around bursts of short-lived allocations.

Its own module, free of numpy and scikit-learn: batch intake uses it in processes that never
load a model.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Hold off Python's cyclic garbage collector for a short burst of allocations.

    A batch allocates a few objects per name (term lists, tuples, predictions), all freed by
    reference counting, yet enough of them to set off collections that walk every object in a
    process that has imported scikit-learn, MLflow and the rest: a quarter of a worker's time
    went there. Nothing in a batch makes reference cycles; any made elsewhere meanwhile are
    collected once the collector is back on.
    """
    if not gc.isenabled():  # paused by someone else (another batch in another thread)
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
