"""`make run`: the whole service on one machine, as separate processes, stopped by one Ctrl-C.

    python scripts/run.py                    # API + one worker per queue (what `make run` does)
    python scripts/run.py api                # only the API, in the foreground
    python scripts/run.py worker-inference   # only one worker, in the foreground

Before anything starts it checks that the port is free and, with REDIS_URL set, that Redis
answers; if the registry has no champion it trains one from the bundled sample catalog. The
processes run under honcho's process manager: each in its own process group, its output shown
line by line, prefixed with its name. Ctrl-C (or SIGTERM, SIGHUP) stops every one, waiting for
each, then killing what is left. A process that exits on its own is named with its exit code,
the others are stopped and the launcher exits 1; nothing is restarted.

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
import shlex
import shutil
import signal
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, NoReturn

from honcho import manager as honcho_manager
from honcho.manager import Manager
from honcho.printer import Message, Printer

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
    """Prefixed lines from every process, each name in a colour of its own on a terminal."""

    WIDTH = 17
    COLORS = {"run": "1", "train": "35", "api": "36", "worker-training": "33",
              "worker-inference": "32"}

    def __init__(self, stream: IO[str] = sys.stdout) -> None:
        self.stream = stream
        self.tty = stream.isatty() and os.environ.get("NO_COLOR") is None
        self.lock = threading.Lock()

    def line(self, name: str, text: str) -> None:
        label = f"{name:<{self.WIDTH}}|"
        if self.tty:
            label = f"\x1b[{self.COLORS.get(name, '0')}m{label}\x1b[0m"
        with self.lock:
            self.stream.write(f"{label} {text.rstrip()}\n")
            self.stream.flush()

    def say(self, text: str) -> None:
        for part in text.splitlines() or [""]:
            self.line("run", part)

    def block(self, text: str) -> None:
        """Lines without a prefix, so that a command in them can be copied as it is."""
        with self.lock:
            self.stream.write(text + "\n")
            self.stream.flush()


# -- processes ---------------------------------------------------------------------------------
#
# honcho's Manager runs the processes: each in a session of its own (the terminal's Ctrl-C
# reaches only this launcher, and a signal to a group also reaches a worker's pool), its output
# passed on line by line; when one exits, or on SIGINT or SIGTERM, it sends SIGTERM to every
# other group and SIGKILL to what is left KILL_WAIT seconds later. This launcher reads what it
# needs from the lines on their way to the console (Watch) and adds its own rule: a process that
# exits on its own is named with its exit code, the rest are stopped, and nothing is restarted.

SYSTEM = "system"  # the name honcho gives its own lines
STARTED = re.compile(r"^(?P<name>\S+) started \(pid=(?P<pid>\d+)\)$")
STOPPED = re.compile(r"^(?P<name>\S+) stopped \(rc=(?P<code>-?\d+)\)$")
SIGNALLED = re.compile(r"^(?P<signal>SIG[A-Z]+) received$")


def shell_command(argv: Sequence[str]) -> str:
    """honcho runs a command through the shell; `exec` makes the command itself the process
    honcho watches and signals, with the pid that the banner shows."""
    return "exec " + shlex.join(resolve(argv))


class Watch(Printer):
    """honcho's printer for this launcher: every line goes to the console under its process's
    name, and on the way it notes each process's pid, its ready line and last lines, and the
    first thing that ended the run: a signal, a process's own exit, or the launcher's `fail`."""

    def __init__(self, console: Console,
                 ready_lines: dict[str, re.Pattern[str]] | None = None) -> None:
        super().__init__(output=console.stream)
        self.console = console
        self.ready_lines = ready_lines or {}
        self.ready = {name: threading.Event() for name in self.ready_lines}
        self.pids: dict[str, int] = {}
        self.tails: dict[str, deque[str]] = defaultdict(lambda: deque(maxlen=30))
        self.stopping = threading.Event()
        self.serving = False  # the banner is out: an exit from now on is told as the README says
        self.stopped: set[str] = set()
        self.first_exit: tuple[str, int] | None = None
        self.signal_name = ""
        self.failure = ""
        self.lock = threading.Lock()

    def write(self, message: Message) -> None:
        data = message.data
        text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
        for line in text.splitlines():
            if message.name == SYSTEM:
                self.console.line("run", line)
                self._note(line)
            else:
                self.console.line(message.name, line)
                self.tails[message.name].append(line)
                ready = self.ready_lines.get(message.name)
                if ready is not None and ready.search(line):
                    self.ready[message.name].set()

    def _note(self, line: str) -> None:
        if found := STARTED.match(line):
            self.pids[found["name"]] = int(found["pid"])
        elif found := STOPPED.match(line):
            self.stopped.add(found["name"])
            self.exited(found["name"], int(found["code"]))
        elif found := SIGNALLED.match(line):
            self.signalled(found["signal"])

    def _first(self) -> bool:
        """True for the first reason to stop, which is the one the run ends with."""
        with self.lock:
            first = not self.stopping.is_set()
            self.stopping.set()
        return first

    def exited(self, name: str, code: int) -> None:
        if self._first():
            self.first_exit = (name, code)
            if self.serving:
                self.console.say(f"{name} (pid {self.pids.get(name, '?')}) exited with code "
                                 f"{code}; stopping the others")

    def signalled(self, signal_name: str) -> None:
        if self._first():
            self.signal_name = signal_name
            self.console.say(f"{signal_name}: stopping")

    def fail(self, reason: str) -> None:
        if self._first():
            self.failure = reason


def exited_unreaped(pid: int) -> bool:
    """The process has exited but honcho has not collected it yet (Linux; False elsewhere)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def release_orphans(watch: Watch) -> None:
    """Kill what is left of the group of a process that has exited.

    honcho reports an exit once the process's output closes; a worker's pool processes keep
    it open after the worker itself dies. Killing them lets the exit be seen at once.
    """
    for name, pid in list(watch.pids.items()):
        if name not in watch.stopped and exited_unreaped(pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)


def run_processes(commands: dict[str, str], envs: dict[str, dict[str, str]], watch: Watch, *,
                  while_running: Callable[[Any], None] | None = None,
                  grace: float = STOP_GRACE_SECONDS) -> None:
    """Run the commands under one honcho Manager until every one has stopped.

    `while_running(manager)` runs on a thread of its own while they run (the readiness check).
    SIGHUP stops them like SIGINT and SIGTERM; this process's own signal handlers are put back
    afterwards. Whatever has not stopped `grace` seconds after the first reason to stop is killed.
    """
    honcho_manager.KILL_WAIT = grace  # honcho's wait between SIGTERM and SIGKILL
    manager = Manager(printer=watch)
    for name, command in commands.items():
        manager.add_process(name, command, env=envs[name], cwd=str(ROOT))
    done = threading.Event()

    def oversee() -> None:
        if while_running is not None:
            while_running(manager)
        # honcho kills only once some process has stopped; this also covers a signal that no
        # process obeys.
        while not watch.stopping.wait(0.5):
            if done.is_set():
                return
            release_orphans(watch)
        deadline = time.monotonic() + grace + 1
        while not done.wait(0.5):
            release_orphans(watch)
            if time.monotonic() > deadline:
                manager.kill()

    def hang_up(signum: int, frame: Any) -> None:
        watch.signalled("SIGHUP")
        manager.terminate()

    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    signal.signal(signal.SIGHUP, hang_up)
    overseer = threading.Thread(target=oversee, name="oversee", daemon=True)
    overseer.start()
    try:
        manager.loop()  # installs honcho's SIGINT and SIGTERM handlers
    finally:
        done.set()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    overseer.join(timeout=5)


class StopRequested:
    """Set by SIGINT, SIGTERM or SIGHUP between the runs of processes (the checks, the banner)."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.signal_name = ""

    def install(self) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, self._handle)

    def _handle(self, signum: int, frame: Any) -> None:
        self.signal_name = signal.Signals(signum).name
        self.event.set()

    def __bool__(self) -> bool:
        return self.event.is_set()


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


def train_first_champion(plan: Plan, console: Console) -> bool:
    """Train and register a champion from the sample catalog; False if stopped by a signal."""
    from core.data import SAMPLE_CATALOG

    jobs = max(1, min(4, os.cpu_count() or 1))
    console.say(f"no champion model yet: training one from the bundled sample catalog\n"
                f"  ({SAMPLE_CATALOG.relative_to(ROOT)}; takes a minute or so, once)")
    started = time.monotonic()
    watch = Watch(console)
    run_processes({"train": shell_command(train_command(SAMPLE_CATALOG, jobs))},
                  {"train": plan.env}, watch)
    if watch.signal_name:
        return False
    code = watch.first_exit[1] if watch.first_exit is not None else None
    if code != 0:
        raise LaunchError(f"training the first champion failed (exit code {code}); "
                          "see the train lines above")
    console.say(f"champion trained in {time.monotonic() - started:.0f}s")
    return True


def wait_until_ready(plan: Plan, watch: Watch, timeout: float, *,
                     need_model: bool = True) -> bool:
    """Wait for every ready line and a 200 from /ready; False if the run stops meanwhile.

    Without `need_model` (no champion, and told not to train one) a /ready that lacks only
    the model will do.
    """
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while time.monotonic() < deadline:
        if all(event.is_set() for event in watch.ready.values()):
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
        if watch.stopping.wait(0.5):
            return False
    waiting = [name for name, event in watch.ready.items() if not event.is_set()]
    raise LaunchError(f"not ready after {timeout:.0f}s; "
                      + (f"still starting: {', '.join(waiting)}" if waiting
                         else f"/ready answers: {last}"))


def start_failure(plan: Plan, watch: Watch) -> str:
    """Why a process exited while the service started, in one line."""
    name, code = watch.first_exit or ("a process", None)
    if name == "api" and any("address already in use" in line for line in watch.tails[name]):
        other = free_port_after(plan.host, plan.port) or plan.port + 1
        return (f"port {plan.port} on {plan.host} was taken by another process while the "
                f"service started{port_holder(plan.port)}; choose another port: "
                f"PORT={other} make run")
    return f"{name} exited with code {code} while starting; see its lines above"


def banner(plan: Plan, pids: dict[str, int], champion: int | None,
           metrics_ports: dict[str, int] | None = None) -> str:
    from core.config import PLACEHOLDER_KEYS

    settings = plan.settings
    key = settings.admin_api_key.get_secret_value()
    # The placeholder is shown so a newcomer can try the admin endpoints; a real key never is.
    admin = (f"X-API-Key: {key}  (the development placeholder; set ADMIN_API_KEY for a real one)"
             if key in PLACEHOLDER_KEYS else "X-API-Key: the value of ADMIN_API_KEY")
    broker = (f"Redis at {redacted(settings.redis_url)}" if settings.redis_url
              else f"embedded (filesystem) at {settings.broker_dir}")
    processes = ", ".join(f"{name} pid {pid}" for name, pid in pids.items())
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
        f"  processes  {processes}",
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
        if not train_first_champion(plan, console):
            console.say("stopped before anything else started")
            return 0
        champion = champion_version(plan)
    elif champion is not None:
        console.say(f"champion is v{champion}")
    if stop:
        console.say(f"stopped ({stop.signal_name}) before anything else started")
        return 0

    ports = worker_metrics_ports(plan)
    commands = service_commands(plan.host, plan.port)
    envs = {name: ({**plan.env, "WORKER_METRICS_PORT": str(ports[name])} if name in ports
                   else plan.env) for name in commands}
    for name, argv in commands.items():
        console.say(f"starting {name}: {' '.join(argv)}")
    watch = Watch(console, READY_LINES)

    def serve(manager: Any) -> None:
        try:
            if not wait_until_ready(plan, watch, args.ready_timeout,
                                    need_model=champion is not None):
                return
        except LaunchError as exc:
            watch.fail(str(exc))
            manager.terminate()
            return
        watch.serving = True
        console.block(banner(plan, watch.pids, champion, ports))

    run_processes({name: shell_command(argv) for name, argv in commands.items()}, envs, watch,
                  while_running=serve)
    console.say("every process stopped")
    if watch.failure:
        raise LaunchError(watch.failure)
    if watch.signal_name:
        if not watch.serving:
            console.say(f"stopped ({watch.signal_name}) while starting")
        return 0
    if not watch.serving:
        raise LaunchError(start_failure(plan, watch))
    return 1  # a process exited on its own: said above, and not restarted (README)


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
        print(f"make run: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
