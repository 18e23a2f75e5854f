"""Plumbing shared by the service benchmarks: real processes, scratch stores, memory and load.

Nothing is faked: the API is a `uvicorn` process and the workers `celery -A worker worker`
processes, over the real Redis (127.0.0.1:6379) and a scratch PostgreSQL database that is
dropped afterwards, like the integration tests (tests/fixtures/services.py) start them.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import sqlalchemy as sa

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the processes helper the tests use too

from tests.fixtures.processes import ManagedProcess, free_port, wait_until  # noqa: E402

BENCH_DIR = Path(__file__).resolve().parent
# The code the service processes run: this checkout, or (to measure a "before") another tree of
# core/, api/ and worker/ named by BENCH_CODE_ROOT, e.g. from `git archive COMMIT core api worker`.
CODE_ROOT = Path(os.environ.get("BENCH_CODE_ROOT", REPO)).resolve()
BIN = Path(sys.executable).parent
DEFAULT_CATALOG = "../shared/data/hardware_catalog_es.csv"  # relative to the repository
PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
REDIS_DB = 15  # the integration tests use 7..14
ADMIN_KEY = "benchmark-admin-key"


def catalog_path(argument: str | None) -> Path:
    """The real catalog: an argument, else ../shared/data/... relative to the repository."""
    path = Path(argument) if argument else REPO / DEFAULT_CATALOG
    path = path.resolve()
    if not path.exists():
        raise SystemExit(f"catalog not found: {path}")
    return path


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- the machine -------------------------------------------------------------------------------

def machine() -> dict[str, Any]:
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {"cores": os.cpu_count(), "cpu": model,
            "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
            "python": sys.version.split()[0]}


def loadavg() -> float:
    return os.getloadavg()[0]


def busy_cores(seconds: float = 3.0) -> float:
    """How many cores were busy, on average, over the next `seconds` (from /proc/stat)."""
    def sample() -> tuple[int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = fields[3] + fields[4]
        return sum(fields) - idle, sum(fields)

    busy0, total0 = sample()
    time.sleep(seconds)
    busy1, total1 = sample()
    return (os.cpu_count() or 1) * (busy1 - busy0) / max(1, total1 - total0)


def wait_for_quiet(*, threshold: float = 0.7, timeout: float = 600) -> dict[str, Any]:
    """Wait until the machine is quiet; return the load figures to print beside a result.

    Quiet means the 1-minute load average is under `threshold`, or, since that average still
    remembers our own previous run for a minute or two, that less than a third of a core was
    busy over the last 3 s (nothing else is running right now).
    """
    started = time.monotonic()
    announced = False
    while True:
        load = loadavg()
        busy = busy_cores()
        if load < threshold or busy < 0.33:
            return {"load1_before": round(load, 2), "busy_cores_before": round(busy, 2),
                    "quiet": True, "waited_s": round(time.monotonic() - started)}
        if time.monotonic() - started > timeout:
            log(f"machine still busy after {timeout:.0f}s (load {load:.2f}, "
                f"{busy:.2f} cores busy): measuring anyway")
            return {"load1_before": round(load, 2), "busy_cores_before": round(busy, 2),
                    "quiet": False, "waited_s": round(time.monotonic() - started)}
        if not announced:
            log(f"waiting for a quiet machine (load {load:.2f}, {busy:.2f} cores busy)")
            announced = True
        time.sleep(5)


class CpuAudit:
    """CPU the system spent during a measurement: ours by group, the database's, and the rest.

    `groups` names our process trees (`{"api": [...], "workers": [...]}`); PostgreSQL and Redis
    server processes are found by name. `foreign_cores` is what every other process used, on
    average over the measurement: other people's work on a shared machine.
    """

    SERVICES = {"postgres": "postgres", "redis": "redis-server"}

    def __init__(self, groups: Callable[[], dict[str, list[psutil.Process]]]) -> None:
        self.groups = groups

    @staticmethod
    def _system_busy() -> float:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")

    def _sample(self) -> dict[str, dict[int, float]]:
        found: dict[str, list[psutil.Process]] = {"bench": [psutil.Process()], **self.groups()}
        for process in psutil.process_iter(["name"]):
            for group, name in self.SERVICES.items():
                if (process.info["name"] or "").startswith(name):
                    found.setdefault(group, []).append(process)
        sample: dict[str, dict[int, float]] = {}
        for group, processes in found.items():
            for process in processes:
                with contextlib.suppress(psutil.Error):
                    times = process.cpu_times()
                    cpu = times.user + times.system
                    if group == "bench":  # and what it ran and waited for (wrk, curl, pools)
                        cpu += times.children_user + times.children_system
                    sample.setdefault(group, {})[process.pid] = cpu
        return sample

    def __enter__(self) -> CpuAudit:
        self._start = self._sample()
        self._busy0 = self._system_busy()
        self._t0 = time.monotonic()
        return self

    def __exit__(self, *_: object) -> None:
        end = self._sample()
        busy = self._system_busy() - self._busy0
        wall = max(1e-9, time.monotonic() - self._t0)
        used = {group: sum(cpu - self._start.get(group, {}).get(pid, 0.0)
                           for pid, cpu in pids.items())
                for group, pids in end.items()}
        self.result = {
            "load1_after": round(loadavg(), 2),
            "foreign_cores": round(max(0.0, busy - sum(used.values())) / wall, 2),
            "cpu_s": {group: round(cpu, 1) for group, cpu in used.items() if group != "bench"},
        }


# -- processes ---------------------------------------------------------------------------------

# A service process of a benchmark, run with its log's folder as working directory (MLflow puts
# artifacts under the working directory).
Proc = ManagedProcess


class RssSampler:
    """Peak resident memory of process trees, sampled every 0.2 s in a thread.

    Each process is reported on its own: a Celery worker as its main process and its pool
    children (`worker-2/main`, `worker-2/child-1`, ...).
    """

    def __init__(self, procs: list[Proc], interval: float = 0.2) -> None:
        self.procs = procs
        self.interval = interval
        self.peaks: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def sample(self) -> None:
        for proc in self.procs:
            tree = proc.tree()
            children = sorted(p.pid for p in tree[1:])
            for process in tree:
                with contextlib.suppress(psutil.Error):
                    rss = process.memory_info().rss
                    label = (f"{proc.name}/main" if process.pid == proc.pid
                             else f"{proc.name}/child-{children.index(process.pid) + 1}")
                    if len(tree) == 1:
                        label = proc.name
                    self.peaks[label] = max(self.peaks.get(label, 0), rss)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    def peaks_mb(self) -> dict[str, float]:
        return {k: round(v / 2**20, 1) for k, v in sorted(self.peaks.items())}


@dataclass
class Stack:
    """Env and processes for one benchmark run over a scratch database and Redis db."""

    tmp: Path
    env: dict[str, str]
    api_url: str = ""
    procs: list[Proc] = field(default_factory=list)

    def api(self, app: str = "api.main:app", *, name: str = "api",
            access_log: bool = True, code_root: Path | None = None) -> Proc:
        """One uvicorn process, as scripts/run.py starts it, started and answering.

        uvicorn's defaults pick uvloop and httptools (uvicorn[standard]) and log every request;
        `access_log=False` measures without that log line. `code_root`: another tree of the
        code than CODE_ROOT's, to compare two versions in one run.
        """
        port = free_port()
        args = [str(BIN / "uvicorn"), app, "--host", "127.0.0.1", "--port", str(port),
                "--app-dir",
                str(BENCH_DIR if app.startswith("bench_app") else code_root or CODE_ROOT)]
        if not access_log:
            args.append("--no-access-log")
        proc = Proc(name, args, self.env, self.tmp / f"{name}.log", cwd=self.tmp).start()
        self.procs.append(proc)
        self.api_url = f"http://127.0.0.1:{port}"
        wait_until(lambda: httpx.get(f"{self.api_url}/health", timeout=2).status_code == 200
                   or not proc.alive(), timeout=120, what="the API to answer /health")
        if not proc.alive():
            raise RuntimeError(f"{name} died:\n{proc.log_text()[-3000:]}")
        return proc

    def worker(self, name: str, *, queues: str, concurrency: int) -> Proc:
        args = [str(BIN / "celery"), "-A", "worker", "worker", "-Q", queues,
                "-n", f"{name}@%h", "-c", str(concurrency), "--without-mingle",
                "--without-gossip", "--loglevel=WARNING"]
        proc = Proc(name, args, self.env, self.tmp / f"{name}.log", cwd=self.tmp).start()
        self.procs.append(proc)
        # At WARNING the worker prints no banner: ready is when its pool children exist.
        wait_until(lambda: len(proc.tree()) >= concurrency + 1 or not proc.alive(),
                   timeout=60, what=f"worker {name} to start")
        time.sleep(1.0)
        if not proc.alive():
            raise RuntimeError(f"worker {name} died:\n{proc.log_text()[-3000:]}")
        return proc

    def stop(self, proc: Proc) -> None:
        proc.stop()
        if proc in self.procs:
            self.procs.remove(proc)

    def stop_all(self) -> None:
        for proc in reversed(list(self.procs)):
            self.stop(proc)

    def all_processes(self) -> list[psutil.Process]:
        return [p for proc in self.procs for p in proc.tree()]

    def client(self, *, admin: bool = False, timeout: float = 60) -> httpx.Client:
        headers = {"X-API-Key": ADMIN_KEY} if admin else {}
        return httpx.Client(base_url=self.api_url, headers=headers, timeout=timeout)

    def wait_for_job(self, job_id: str, *, timeout: float, interval: float = 0.25) -> dict:
        seen: dict[str, Any] = {}

        def ended() -> bool:
            seen.update(httpx.get(f"{self.api_url}/v1/jobs/{job_id}", timeout=30,
                                  headers={"X-API-Key": ADMIN_KEY}).json())
            return seen.get("state") in ("succeeded", "failed", "cancelled")

        wait_until(ended, timeout=timeout, what=f"job {job_id}", interval=interval)
        if seen["state"] != "succeeded":
            raise RuntimeError(f"job {job_id} ended {seen['state']}: {seen.get('error')}")
        return seen

    def cli(self, *args: str) -> str:
        """Run the `categorizer` CLI against this stack's stores."""
        done = subprocess.run([str(BIN / "categorizer"), *args], env=self.env, cwd=self.tmp,
                              capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"categorizer {' '.join(args)} failed:\n{done.stderr[-3000:]}")
        return done.stdout

    def champion_version(self) -> int | None:
        versions = json.loads(self.cli("models", "--json"))
        return next((v["version"] for v in versions if "champion" in v["aliases"]), None)

    def ensure_champion(self, catalog: Path) -> int:
        """The champion, trained on the catalog by `categorizer train` if there is none yet."""
        version = self.champion_version()
        if version is None:
            log(f"training a champion on {catalog.name} (categorizer train)")
            self.cli("train", "--data", str(catalog))
            version = self.champion_version()
        assert version is not None
        return version


def _redis_flush(db: int) -> None:
    with socket.create_connection((REDIS_HOST, REDIS_PORT), timeout=2) as sock:
        sock.sendall(f"SELECT {db}\r\nFLUSHDB\r\n".encode())
        reply = sock.recv(64)
    if not reply.startswith(b"+OK"):
        raise RuntimeError(f"Redis did not answer FLUSHDB: {reply!r}")


@contextlib.contextmanager
def scratch_stack(*, keep: bool = False) -> Iterator[Stack]:
    """A temp DATA_DIR and MLflow store, a fresh PostgreSQL database and an emptied Redis db."""
    tmp = Path(tempfile.mkdtemp(prefix="categorizer-bench-"))
    name = f"categorizer_bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    _redis_flush(REDIS_DB)
    env = {
        **os.environ,
        "DATA_DIR": str(tmp / "data"),
        "REDIS_URL": f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}",
        "DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}",
        "MLFLOW_TRACKING_URI": f"sqlite:///{tmp / 'mlflow.db'}",
        "ADMIN_API_KEY": ADMIN_KEY,
        "PYTHONPATH": os.pathsep.join([str(CODE_ROOT), str(BENCH_DIR)]),
    }
    stack = Stack(tmp=tmp, env=env)
    try:
        yield stack
    finally:
        stack.stop_all()
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        with contextlib.suppress(OSError):
            _redis_flush(REDIS_DB)
        if keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
