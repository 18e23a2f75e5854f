"""Every fault test is `serial`: `make test` runs them after the parallel phase, on their own.

Their waits are sized for a machine not saturated by the rest of the suite (a visibility
timeout, a lease, a 120,000-row batch on the surviving workers). Each test process makes its
own stacks (a private Redis, PostgreSQL database, proxy and ports; `fault_stacks`, shared only
by that process's modules that ask for the same settings), so the serial phase runs them a
module per process on a few processes at once: most of their time is waiting for a lease, a
restart or a retry, not CPU.

With a module per process, the phase lasts as long as its most loaded process. So the longest
modules go first (`pytest_collection_modifyitems` below, from measured durations), and the
short ones fill in behind them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]

# Seconds per module in the serial phase (`pytest -m serial -n 4 --dist loadfile --durations`,
# 2 cores, 2026-12-01), longest first. Modules not listed run after these, in file order.
MEASURED_SECONDS = {
    "tests/faults/test_worker_loss.py": 300,
    "tests/faults/test_database_outage.py": 263,
    "tests/deploy/test_launcher.py": 197,
    "tests/faults/test_training_faults.py": 154,
    "tests/faults/test_hosts.py": 149,
    "tests/faults/test_host_loss.py": 112,
    "tests/faults/test_redis_restart.py": 82,
    "tests/faults/test_lost_messages.py": 69,
    "tests/faults/test_hostile_inputs.py": 45,
}


def _longest_first(item: pytest.Item) -> int:
    try:
        module = item.path.relative_to(REPO).as_posix()
    except ValueError:
        return 0
    return -MEASURED_SECONDS.get(module, 0)


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.serial)
    # A stable sort: a module's tests keep their order, and unlisted modules theirs.
    items.sort(key=_longest_first)
