"""The order `make test` hands modules to its processes (tests/scheduling.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

from tests.scheduling import MODULE_SECONDS, LongestFirst, pytest_collection_modifyitems

ROOT = Path(__file__).resolve().parents[1]


@dataclass(eq=False)  # hashable by identity, as the scheduler keys its nodes
class Process:
    """What the scheduler sees of an xdist worker process: the tests it was sent."""

    name: str
    sent: list[int] = field(default_factory=list)
    shutting_down: bool = False

    @property
    def gateway(self) -> SimpleNamespace:
        return SimpleNamespace(id=self.name)

    def send_runtest_some(self, indexes: list[int]) -> None:
        self.sent.extend(indexes)

    def shutdown(self) -> None:
        self.shutting_down = True


COLLECTION = ["tests/a.py::t1", "tests/a.py::t2", "tests/a.py::t3",
              "tests/b.py::t1", "tests/b.py::t2", "tests/c.py::t1", "tests/d.py::t1"]


class Config:
    """The options the scheduler reads: two processes (`-n 2`), the queue in collection order."""

    option = SimpleNamespace(loadscopereorder=False)

    def getvalue(self, name: str) -> list[str]:
        assert name == "tx"
        return ["2*popen"]


def _scheduler() -> tuple[LongestFirst, Process, Process]:
    scheduler = LongestFirst(Config())
    first, second = Process("gw0"), Process("gw1")
    for process in (first, second):
        scheduler.add_node(process)
        scheduler.add_node_collection(process, COLLECTION)
    scheduler.schedule()
    return scheduler, first, second


def sent(process: Process) -> list[str]:
    return [COLLECTION[index] for index in process.sent]


def test_a_process_gets_its_next_module_only_once_it_runs_out() -> None:
    scheduler, first, second = _scheduler()
    # Each starts one module; with two tests left, b's process is not given c yet (xdist's
    # own loadfile gives a process its next module while it still has two tests to run).
    assert sent(first) == COLLECTION[:3]
    assert sent(second) == COLLECTION[3:5]

    scheduler.mark_test_complete(second, 3)  # b::t1 done: b::t2 is held back, nothing to run
    assert sent(second) == COLLECTION[3:6]
    scheduler.mark_test_complete(first, 0)
    assert sent(first) == COLLECTION[:3], "two tests left: it has work"
    scheduler.mark_test_complete(first, 1)
    assert sent(first) == [*COLLECTION[:3], "tests/d.py::t1"]


@dataclass
class Item:
    nodeid: str


def test_the_longest_modules_go_first_each_in_its_own_order() -> None:
    slowest = max(MODULE_SECONDS, key=MODULE_SECONDS.__getitem__)
    items = [Item(nodeid) for nodeid in
             ["tests/x.py::a", "tests/x.py::b", f"{slowest}::one", f"{slowest}::two",
              "tests/y.py::a"]]
    pytest_collection_modifyitems(items)  # type: ignore[arg-type]
    assert [item.nodeid for item in items] == [
        f"{slowest}::one", f"{slowest}::two", "tests/x.py::a", "tests/x.py::b", "tests/y.py::a"]


def test_every_module_named_for_the_schedule_exists() -> None:
    missing = [path for path in MODULE_SECONDS if not (ROOT / path).is_file()]
    assert missing == []
