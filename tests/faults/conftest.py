"""Every fault test is `serial`: `make test` runs them after the parallel phase, on their own.

Their waits are sized for a machine not saturated by the rest of the suite (a visibility
timeout, a lease, a 120,000-row batch on the surviving workers). Each test process makes its
own stacks (a private Redis, PostgreSQL database, proxy and ports; `fault_stacks`, shared only
by that process's modules that ask for the same settings), so the serial phase runs them a
module per process on a few processes at once (`SERIAL_WORKERS`): while one waits for a lease,
a restart or a retry, another's workers use the CPU.

The order is tests/scheduling.py's: the longest modules first, and a process takes its next
module only once it has run out. With xdist's own order (modules with more tests first, the next
one handed over while two tests remain) the 4-minute host-loss module and the launcher test
ended up queued on one process, which finished 2-3 minutes after the others: the phase took
549 s on 4 processes of a 2-core machine, 517 s once pool processes started warm
(worker/warmup.py), and 435-508 s in the new order (three runs, 2026-12-02).
An earlier try at longest-first, with xdist's early hand-over kept, had been slower (536 s).
"""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.serial)
