"""Every fault test is `serial`: `make test` runs them after the parallel phase, on their own.

Their waits are sized for one test's processes on the machine (a visibility timeout, a lease,
a 120,000-row batch on the surviving workers), and the modules share their stacks
(`fault_stacks`), so they run in one process with the CPU to themselves.
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
