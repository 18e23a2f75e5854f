"""`make run`: the whole service on one machine, as separate processes, stopped by one Ctrl-C.

    python scripts/run.py                    # API + one worker per queue (what `make run` does)
    python scripts/run.py api                # only the API, in the foreground
    python scripts/run.py worker-inference   # only one worker, in the foreground

Before anything starts it checks that the port is free and, with REDIS_URL set, that Redis
answers; if the registry has no champion it trains one from the bundled sample catalog. Each
child runs in its own process group and its output is shown line by line, prefixed with its
name. Ctrl-C (or SIGTERM, SIGHUP) stops every child, waiting for each, then killing what is left.

The commands below are the only definition of how the service is run: docker-compose.yml and
the Dockerfiles run the same ones (tests/deploy checks that they do).
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, NoReturn

ROOT = Path(__file__).resolve().parents[1]

API_APP = ("uvicorn", "api.main:app")
# One worker per queue. Training jobs are CPU- and memory-heavy: one at a time per host.
WORKER_COMMANDS: dict[str, tuple[str, ...]] = {
    "worker-training": ("celery", "-A", "worker", "worker", "-Q", "training",
                        "-n", "training@%h", "--concurrency", "1", "--loglevel", "INFO"),
    "worker-inference": ("celery", "-A", "worker", "worker", "-Q", "inference",
                         "-n", "inference@%h", "--loglevel", "INFO"),
}
# What each process logs once it serves. The API's line proves that it, and not some other
# program that took the port after our check, is the one answering /ready.
READY_LINES = {
    "api": re.compile(r"Uvicorn running on "),
    "worker-training": re.compile(r"\btraining@\S+ ready\."),
    "worker-inference": re.compile(r"\binference@\S+ ready\."),
}

EXAMPLE_NAMES = ["Taladro percutor 1/2 650W", "tubo pvc hidraulico 1/2", "foco led 9w luz calida"]
STOP_GRACE_SECONDS = 15.0


def api_command(host: str, port: int) -> tuple[str, ...]:
    return (*API_APP, "--host", host, "--port", str(port))


def service_commands(host: str, port: int) -> dict[str, tuple[str, ...]]:
    """Every long-running process of the service, by the name docker-compose.yml gives it."""
    return {"api": api_command(host, port), **WORKER_COMMANDS}


def train_command(catalog: Path, jobs: int) -> tuple[str, ...]:
    return ("categorizer", "train", "--data", str(catalog), "--jobs", str(jobs))


def resolve(argv: Sequence[str]) -> list[str]:
    """Run console scripts from this interpreter's venv, not whatever is first on PATH."""
    program = argv[0]
    found = shutil.which(program, path=str(Path(sys.executable).parent)) or shutil.which(program)
    if found is None:
        raise LaunchError(f"`{program}` is not installed in {Path(sys.executable).parent}; "
                          "run `make install` (make run does it for you)")
    return [found, *argv[1:]]


class LaunchError(Exception):
    """Something that stops the service from starting, said in one line."""


# -- checks before anything starts -------------------------------------------------------------

def url_host(host: str) -> str:
    """A host to put in a URL that reaches a server bound to `host` from this machine."""
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def free_port_after(host: str, port: int, tries: int = 50) -> int | None:
    for candidate in range(port + 1, min(port + 1 + tries, 65536)):
        if port_problem(host, candidate, suggest=False) is None:
            return candidate
    return None


def port_holder(port: int) -> str:
    """Who listens on the port, when the OS tells us (best effort, needs psutil)."""
    try:
        import psutil
    except ImportError:
        return ""
    with contextlib.suppress(Exception):
        for conn in psutil.net_connections(kind="tcp"):
            if conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN:
                if conn.pid is None:
                    return ""
                command = " ".join(psutil.Process(conn.pid).cmdline())[:80]
                return f" by pid {conn.pid} ({command})"
    return ""


def port_problem(host: str, port: int, *, suggest: bool = True) -> str | None:
    """Why the API could not listen on host:port, in one line; None when it can."""
    if not 0 < port < 65536:
        return f"PORT={port} is not a TCP port; choose one from 1024 to 65535: PORT=8001 make run"
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    except socket.gaierror as exc:
        return (f"HOST={host} is not an address this machine can listen on ({exc.strerror}); "
                "use HOST=127.0.0.1 (this machine only) or HOST=0.0.0.0 (every interface)")
    with socket.socket(family, kind, proto) as probe:
        # uvicorn sets SO_REUSEADDR too: a previous run's TIME_WAIT sockets do not count as busy.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                if not suggest:
                    return "in use"
                other = free_port_after(host, port) or port + 1
                return (f"port {port} on {host} is already in use{port_holder(port)}; stop that "
                        f"process or choose another port: PORT={other} make run")
            if exc.errno == errno.EACCES:
                return (f"port {port} needs privileges this user does not have; "
                        "choose one above 1023: PORT=8000 make run")
            if exc.errno == errno.EADDRNOTAVAIL:
                return (f"HOST={host} is not an address of this machine; "
                        "use HOST=127.0.0.1 or HOST=0.0.0.0")
            return f"cannot listen on {host}:{port}: {exc.strerror or exc}"
    return None


def redacted(url: str) -> str:
    """A URL with its password replaced, fit for a log line."""
    return re.sub(r"(//[^:/@]*:)[^@/]*@", r"\1***@", url)


def redis_problem(url: str) -> str | None:
    """Why Redis at `url` cannot be used, in one line; None when it answers PING."""
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3)
        client.ping()
        client.close()
    except Exception as exc:  # connection, auth, TLS, bad URL: all say the same thing to a newcomer
        return (f"Redis at {redacted(url)} is unreachable ({exc.__class__.__name__}: {exc}); "
                "start it (e.g. `redis-server`), fix REDIS_URL, or unset REDIS_URL to use the "
                "embedded broker")
    return None


# -- output ------------------------------------------------------------------------------------

class Console:
    """Prefixed lines from every process, plus a one-line live status while training."""

    WIDTH = 17
    COLORS = {"run": "1", "train": "35", "api": "36", "worker-training": "33",
              "worker-inference": "32"}

    def __init__(self, stream: IO[str] = sys.stdout) -> None:
        self.stream = stream
        self.tty = stream.isatty() and os.environ.get("NO_COLOR") is None
        self.lock = threading.Lock()
        self.status = ""

    def line(self, name: str, text: str) -> None:
        label = f"{name:<{self.WIDTH}}|"
        if self.tty:
            label = f"\x1b[{self.COLORS.get(name, '0')}m{label}\x1b[0m"
        with self.lock:
            clear = "\r\x1b[K" if self.tty and self.status else ""
            self.stream.write(f"{clear}{label} {text.rstrip()}\n")
            if self.tty and self.status:
                self.stream.write(self.status)
            self.stream.flush()

    def say(self, text: str) -> None:
        for part in text.splitlines() or [""]:
            self.line("run", part)

    def block(self, text: str) -> None:
        """Lines without a prefix, so that a command in them can be copied as it is."""
        with self.lock:
            self.stream.write(text + "\n")
            self.stream.flush()

    def set_status(self, text: str) -> None:
        """Redraw the live status line (terminals only; logs get periodic lines instead)."""
        if not self.tty:
            return
        with self.lock:
            self.status = text
            self.stream.write(f"\r\x1b[K{text}")
            self.stream.flush()

    def clear_status(self) -> None:
        if self.tty and self.status:
            with self.lock:
                self.status = ""
                self.stream.write("\r\x1b[K")
                self.stream.flush()


# -- processes ---------------------------------------------------------------------------------

@dataclass
class Child:
    """One process we started, in a process group of its own, its output shown with its name."""

    name: str
    argv: list[str]
    console: Console
    env: dict[str, str]
    on_line: Callable[[str], None] | None = None
    ready_line: re.Pattern[str] | None = None
    process: subprocess.Popen[str] | None = None
    reader: threading.Thread | None = None
    ready: threading.Event = field(default_factory=threading.Event)
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=30))

    def start(self) -> Child:
        # A session of its own: the terminal's Ctrl-C reaches only us, and we stop the children
        # in order; killing the group also reaches a worker's pool processes.
        self.process = subprocess.Popen(
            self.argv, cwd=ROOT, env=self.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, errors="replace", bufsize=1,
            start_new_session=True,
        )
        self.reader = threading.Thread(target=self._pump, name=f"read-{self.name}", daemon=True)
        self.reader.start()
        return self

    def _pump(self) -> None:
        assert self.process is not None
        assert self.process.stdout is not None
        for text in self.process.stdout:
            self.console.line(self.name, text)
            self.tail.append(text)
            if self.ready_line is not None and self.ready_line.search(text):
                self.ready.set()
            if self.on_line is not None:
                self.on_line(text)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def exit_code(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def _signal_group(self, signum: int) -> bool:
        """Signal the whole group; False when no process of it is left."""
        try:
            os.killpg(self.pid, signum)
        except ProcessLookupError:
            return False
        except PermissionError:  # the group id was reused by someone else's process
            return False
        return True

    def terminate(self) -> None:
        """Ask the leader to stop; it stops its own pool or workers."""
        if self.exit_code() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)  # type: ignore[union-attr]

    def finished(self) -> bool:
        """The leader has exited and no process of its group is left."""
        return self.exit_code() is not None and not self._signal_group(0)

    def kill(self, timeout: float = 5.0) -> None:
        """SIGKILL whatever is left of the group and wait (a little) for it to be gone."""
        if not self._signal_group(signal.SIGKILL):
            return
        if self.process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=timeout)
        deadline = time.monotonic() + timeout
        while self._signal_group(0) and time.monotonic() < deadline:
            time.sleep(0.05)

    def close(self) -> None:
        if self.reader is not None:
            self.reader.join(timeout=2)
        if self.process is not None and self.process.stdout is not None:
            with contextlib.suppress(OSError):
                self.process.stdout.close()


def stop_all(children: Sequence[Child], console: Console,
             grace: float = STOP_GRACE_SECONDS) -> None:
    """SIGTERM each leader, wait up to `grace` for every group to empty, then SIGKILL the rest."""
    alive = [c for c in children if c.process is not None and not c.finished()]
    if alive:
        console.say("stopping " + ", ".join(f"{c.name} (pid {c.pid})" for c in alive) + "...")
    for child in alive:
        child.terminate()
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and not all(c.finished() for c in alive):
        time.sleep(0.1)
    for child in alive:
        if not child.finished():
            console.say(f"{child.name} did not stop within {grace:.0f}s: killing it")
        child.kill()
    for child in children:
        child.close()


class StopRequested:
    """Set by SIGINT, SIGTERM or SIGHUP; the main loop notices and stops the children."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.signal_name = ""

    def install(self) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, self._handle)

    def _handle(self, signum: int, frame: Any) -> None:
        self.signal_name = signal.Signals(signum).name
        self.event.set()

    def wait(self, seconds: float) -> bool:
        return self.event.wait(seconds)

    def __bool__(self) -> bool:
        return self.event.is_set()


def died(children: Sequence[Child]) -> Child | None:
    return next((c for c in children if c.exit_code() is not None), None)


# -- the run -----------------------------------------------------------------------------------

@dataclass
class Plan:
    host: str
    port: int
    env: dict[str, str]
    settings: Any

    @property
    def base_url(self) -> str:
        return f"http://{url_host(self.host)}:{self.port}"


def child_env(data_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["DATA_DIR"] = str(data_dir)  # absolute, so every process finds the same stores
    env["PYTHONUNBUFFERED"] = "1"  # lines appear as they are written
    return env


def prepare(args: argparse.Namespace, console: Console) -> Plan:
    """Read settings and check what would make the start fail; raises LaunchError."""
    from pydantic import ValidationError

    from core.config import Settings

    try:
        settings = Settings()
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])).upper() or 'settings'}: {e['msg']}"
                             for e in exc.errors())
        raise LaunchError(f"bad configuration: {problems}") from None
    host = args.host if args.host is not None else settings.host
    port = args.port if args.port is not None else settings.port
    if args.service in ("all", "api"):
        problem = port_problem(host, port)
        if problem:
            raise LaunchError(problem)
    if settings.redis_url:
        problem = redis_problem(settings.redis_url)
        if problem:
            raise LaunchError(problem)
    settings.ensure_data_dir()
    data_dir = settings.data_dir.resolve()
    return Plan(host=host, port=port, env=child_env(data_dir),
                settings=settings.model_copy(update={"data_dir": data_dir}))


def worker_metrics_ports(plan: Plan) -> dict[str, int]:
    """Each worker's metrics port: WORKER_METRICS_PORT (default 9101) and the next free ones."""
    if not plan.settings.metrics_enabled:
        return {}
    ports: dict[str, int] = {}
    candidate = plan.settings.worker_metrics_port or 9101
    for name in WORKER_COMMANDS:
        while (candidate == plan.port
               or port_problem(plan.settings.worker_metrics_host, candidate, suggest=False)):
            candidate += 1
        ports[name] = candidate
        candidate += 1
    return ports


def champion_version(plan: Plan) -> int | None:
    import logging

    import mlflow  # noqa: F401  (configures its logger, which we then quieten)

    from core.service import registry_from_settings

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    uri = plan.settings.effective_tracking_uri
    try:
        return registry_from_settings(plan.settings).champion_version()
    except Exception as exc:
        raise LaunchError(f"the model registry at {redacted(uri)} cannot be read "
                          f"({exc.__class__.__name__}: {exc}); check MLFLOW_TRACKING_URI") from None


def train_first_champion(plan: Plan, console: Console, stop: StopRequested) -> bool:
    """Train and register a champion from the sample catalog; False if stopped by a signal."""
    from core.data import SAMPLE_CATALOG

    jobs = max(1, min(4, os.cpu_count() or 1))
    console.say(f"no champion model yet: training one from the bundled sample catalog\n"
                f"  ({SAMPLE_CATALOG.relative_to(ROOT)}; takes a minute or so, once)")
    stage = ["starting"]

    def on_line(text: str) -> None:
        found = re.search(r"\]\s+(.+?)\.\.\.$", text.strip())
        if found:
            stage[0] = found.group(1)

    trainer = Child("train", resolve(train_command(SAMPLE_CATALOG, jobs)), console, plan.env,
                    on_line=on_line).start()
    started = time.monotonic()
    spinner = "|/-\\"
    last_note = started
    tick = 0
    try:
        while trainer.exit_code() is None:
            if stop.wait(0.2):
                console.clear_status()
                stop_all([trainer], console)
                return False
            tick += 1
            elapsed = time.monotonic() - started
            console.set_status(f"  training the first champion {spinner[tick % 4]} "
                               f"{stage[0]} ({elapsed:.0f}s)")
            if not console.tty and time.monotonic() - last_note >= 20:
                console.say(f"training: still {stage[0]} ({elapsed:.0f}s)")
                last_note = time.monotonic()
    finally:
        console.clear_status()
        trainer.close()
    code = trainer.exit_code()
    if code != 0:
        raise LaunchError(f"training the first champion failed (exit code {code}); "
                          "see the train lines above")
    console.say(f"champion trained in {time.monotonic() - started:.0f}s")
    return True


def wait_until_ready(plan: Plan, children: Sequence[Child], stop: StopRequested,
                     timeout: float, *, need_model: bool = True) -> bool:
    """Wait for every ready line and a 200 from /ready; False if stopped by a signal.

    Without `need_model` (no champion, and told not to train one) a /ready that lacks only
    the model will do.
    """
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while time.monotonic() < deadline:
        dead = died(children)
        if dead is not None:
            raise LaunchError(start_failure(plan, dead))
        if all(c.ready.is_set() for c in children):
            try:
                with urllib.request.urlopen(f"{plan.base_url}/ready", timeout=3) as answer:
                    if answer.status == 200:
                        return True
            except urllib.error.HTTPError as exc:
                last = exc.read().decode(errors="replace")
                with contextlib.suppress(ValueError, AttributeError):
                    checks = dict(json.loads(last)["checks"])
                    if not need_model and all(v == "ok" for k, v in checks.items()
                                              if k != "model"):
                        return True
            except OSError as exc:
                last = f"{exc.__class__.__name__}: {exc}"
        if stop.wait(0.5):
            return False
    waiting = [c.name for c in children if not c.ready.is_set()]
    raise LaunchError(f"not ready after {timeout:.0f}s; "
                      + (f"still starting: {', '.join(waiting)}" if waiting
                         else f"/ready answers: {last}"))


def start_failure(plan: Plan, child: Child) -> str:
    """Why a child died while starting, in one line."""
    if child.name == "api" and any("address already in use" in line for line in child.tail):
        other = free_port_after(plan.host, plan.port) or plan.port + 1
        return (f"port {plan.port} on {plan.host} was taken by another process while the "
                f"service started{port_holder(plan.port)}; choose another port: "
                f"PORT={other} make run")
    return (f"{child.name} exited with code {child.exit_code()} while starting; "
            "see its lines above")


def banner(plan: Plan, children: Sequence[Child], champion: int | None,
           metrics_ports: dict[str, int] | None = None) -> str:
    from core.config import PLACEHOLDER_KEYS

    settings = plan.settings
    key = settings.admin_api_key.get_secret_value()
    # The placeholder is shown so a newcomer can try the admin endpoints; a real key never is.
    admin = (f"X-API-Key: {key}  (the development placeholder; set ADMIN_API_KEY for a real one)"
             if key in PLACEHOLDER_KEYS else "X-API-Key: the value of ADMIN_API_KEY")
    broker = (f"Redis at {redacted(settings.redis_url)}" if settings.redis_url
              else f"embedded (filesystem) at {settings.broker_dir}")
    pids = ", ".join(f"{c.name} pid {c.pid}" for c in children)
    body = '{"product_list": ' + ", ".join(f'"{n}"' for n in EXAMPLE_NAMES).join("[]") + "}"
    url = plan.base_url
    listening = f" (listening on {plan.host})" if url_host(plan.host) != plan.host else ""
    return "\n".join([
        "",
        f"the service is up{listening}:",
        f"  API        {url}",
        f"  docs       {url}/docs",
        f"  champion   v{champion}" if champion is not None else
        "  champion   none yet: categorization answers 503 until one is trained "
        "(POST /v1/training-jobs or `categorizer train`)",
        f"  broker     {broker}",
        f"  jobs DB    {redacted(settings.effective_database_url)}",
        f"  MLflow     {redacted(settings.effective_tracking_uri)}",
        f"  admin      {admin}",
        *([f"  metrics    {url}/metrics (api), " + ", ".join(
            f"http://{url_host(settings.worker_metrics_host)}:{port}/metrics ({name})"
            for name, port in metrics_ports.items())] if metrics_ports else
          ["  metrics    off (METRICS_ENABLED=false)"] if not settings.metrics_enabled else []),
        f"  processes  {pids}",
        "",
        "try it:",
        f"  curl -s -X POST {url}/v1/categorizer/inference "
        f"-H 'Content-Type: application/json' -d '{body}'",
        "",
        "press Ctrl-C to stop everything",
    ])


def run_all(plan: Plan, args: argparse.Namespace, console: Console, stop: StopRequested) -> int:
    champion = champion_version(plan)
    if stop:
        console.say(f"stopped ({stop.signal_name}) before anything started")
        return 0
    if champion is None and not args.no_train:
        if not train_first_champion(plan, console, stop):
            console.say(f"stopped ({stop.signal_name}) before anything else started")
            return 0
        champion = champion_version(plan)
    elif champion is not None:
        console.say(f"champion is v{champion}")

    children: list[Child] = []
    ports = worker_metrics_ports(plan)
    try:
        for name, argv in service_commands(plan.host, plan.port).items():
            env = ({**plan.env, "WORKER_METRICS_PORT": str(ports[name])} if name in ports
                   else plan.env)
            child = Child(name, resolve(argv), console, env, ready_line=READY_LINES[name])
            children.append(child.start())
            console.say(f"started {name} (pid {child.pid}): {' '.join(argv)}")
        if not wait_until_ready(plan, children, stop, args.ready_timeout,
                                need_model=champion is not None):
            console.say(f"stopped ({stop.signal_name}) while starting")
            return 0
        console.block(banner(plan, children, champion, ports))
        while not stop.wait(0.5):
            dead = died(children)
            if dead is not None:
                console.say(f"{dead.name} (pid {dead.pid}) exited with code {dead.exit_code()}; "
                            "stopping the others")
                return 1
        console.say(f"{stop.signal_name}: stopping")
        return 0
    finally:
        stop_all(children, console)
        if children:
            console.say("every process stopped")


def run_one(plan: Plan, service: str) -> NoReturn:
    """Replace this process with one service's command, for `make api` or `make worker`."""
    argv = resolve(service_commands(plan.host, plan.port)[service])
    os.execve(argv[0], argv, plan.env)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="make run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("service", nargs="?", default="all",
                        choices=["all", "api", *WORKER_COMMANDS],
                        help="what to run (default: all of it)")
    parser.add_argument("--host", help="address the API listens on (default: HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, help="the API's port (default: PORT or 8000)")
    parser.add_argument("--no-train", action="store_true",
                        help="do not train a champion when there is none")
    parser.add_argument("--ready-timeout", type=float, default=180.0,
                        help="seconds to wait for everything to be ready (default: 180)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    os.chdir(ROOT)  # the .env file, a relative DATA_DIR and the children all start from here
    console = Console()
    stop = StopRequested()
    stop.install()
    try:
        plan = prepare(args, console)
        if args.service != "all":
            return run_one(plan, args.service)
        return run_all(plan, args, console, stop)
    except LaunchError as exc:
        console.clear_status()
        print(f"make run: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
