"""Every fault test is `serial`: `make test` runs them after the parallel phase, on their own.

Their waits are sized for a machine not saturated by the rest of the suite (a visibility
timeout, a lease, a 120,000-row batch on the surviving workers). Each test process makes its
own stacks (a private Redis, PostgreSQL database, proxy and ports; `fault_stacks`, shared only
by that process's modules that ask for the same settings), so the serial phase runs them a
module per process on a few processes at once (`SERIAL_WORKERS`): while one waits for a lease,
a restart or a retry, another's workers use the CPU.

The order is pytest-xdist's own (`loadfile`: modules with more tests first). Ordering the
longest modules first was measured and was slower (536 s against 420-448 s on 4 processes):
the phase is bound by CPU (718 CPU-s in 448 s on 2 cores), and the longest modules are also
the busiest, so starting them together only made them share the cores.
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
