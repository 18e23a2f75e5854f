"""How `make test` hands test modules to its processes: each once a process runs out of work.

Both phases run with pytest-xdist's `loadfile`: a module's tests stay on one process, which
builds the module's stack once. By default xdist queues modules by their number of tests and
gives a process its next module while it still has two tests to run. Here a few modules run for
minutes with one to five tests (the fault tests, the integration stacks): queued by count, a
four-minute module of two tests could start last, or be queued early behind another one on a
process that then finishes minutes after the others.

So the modules in `MODULE_SECONDS` go first, longest first, the others after them in collection
order; and a process is given its next module only once the test it holds back is the last one
it has (xdist keeps one test back until it knows the test that follows, so the process has run
out of work). The table holds the serial phase's modules, with their walls in that phase of one
`make test` on this project's 2-core machine (2026-12-02): a hint for the order, not a limit; a
module missing from it only loses its place in the queue. Measured there, the serial phase took
517-549 s in xdist's order (two runs) and 435-508 s in this one (three); the parallel phase 254
s in xdist's order and 245-269 s in collection order, and 268 s with its four integration
modules (a stack each) put first, where they ran at once and slowed each other: so that phase
has no entries.
"""

from __future__ import annotations

from typing import Any

import pytest
from xdist.scheduler import LoadFileScheduling

MODULE_SECONDS = {
    "tests/faults/test_worker_loss.py": 298,
    "tests/faults/test_host_loss.py": 255,
    "tests/faults/test_database_outage.py": 206,
    "tests/faults/test_training_faults.py": 189,
    "tests/faults/test_hosts.py": 142,
    "tests/faults/test_lost_messages.py": 115,
    "tests/deploy/test_launcher.py": 85,
    "tests/faults/test_redis_restart.py": 83,
    "tests/faults/test_hostile_inputs.py": 55,
}


def module_seconds(nodeid: str) -> int:
    return MODULE_SECONDS.get(nodeid.split("::", 1)[0], 0)


class LongestFirst(LoadFileScheduling):
    """`loadfile`, in collection order, with a module given to a process once it runs out."""

    def _reschedule(self, node: Any) -> None:
        if node.shutting_down:
            return
        if not self.workqueue:
            node.shutdown()
            return
        # One test left means the process holds it back waiting for the next: it has no work.
        if self._pending_of(self.assigned_work[node]) > 1:
            return
        self._assign_work_unit(node)


@pytest.hookimpl(trylast=True)  # after `-m` has deselected
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # A stable sort: each module's tests keep their order and stay together.
    items.sort(key=lambda item: -module_seconds(item.nodeid))


@pytest.hookimpl(optionalhook=True)  # an xdist hook: a run without xdist has no scheduler
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> LongestFirst | None:
    if config.getoption("dist") != "loadfile":
        return None
    config.option.loadscopereorder = False  # the queue follows the collection's order
    return LongestFirst(config, log)
