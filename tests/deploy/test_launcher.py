"""`make run` (scripts/run.py): its checks, its commands, and one real start, use and stop."""

from __future__ import annotations

import io
import json
import os
import shlex
import signal
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import httpx
import psutil
import pytest

from tests.deploy.running import Launch, isolated_env, port_is_free, run_once
from tests.fixtures.processes import free_port

# -- the checks before anything starts ---------------------------------------------------------


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def test_a_free_port_has_no_problem(launcher: ModuleType) -> None:
    assert launcher.port_problem("127.0.0.1", free_port()) is None


def test_a_busy_port_is_named_with_a_free_one_to_use(launcher: ModuleType, busy_port: int) -> None:
    problem = launcher.port_problem("127.0.0.1", busy_port)

    assert problem is not None
    assert f"port {busy_port} on 127.0.0.1 is already in use" in problem
    suggested = int(problem.rsplit("PORT=", 1)[1].split()[0])
    assert suggested != busy_port
    assert port_is_free(suggested)


def test_a_busy_port_stops_make_run_with_one_line_and_no_traceback(
    busy_port: int, tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    result = run_once(isolated_env(PORT=busy_port, DATA_DIR=data_dir))

    assert result.returncode == 1
    assert "Traceback" not in result.stderr + result.stdout
    assert result.stderr.startswith(f"make run: port {busy_port} on 127.0.0.1 is already in use")
    assert result.stderr.count("\n") == 1
    assert "PORT=" in result.stderr
    assert not data_dir.exists()  # it refused before creating or training anything


def test_an_unreachable_redis_is_one_clear_line(tmp_path: Path) -> None:
    nobody = f"redis://127.0.0.1:{free_port()}/0"
    result = run_once(isolated_env(REDIS_URL=nobody, PORT=free_port(), DATA_DIR=tmp_path))

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"Redis at {nobody} is unreachable" in result.stderr
    assert "unset REDIS_URL to use the embedded broker" in result.stderr


def test_a_bad_setting_is_one_clear_line(tmp_path: Path) -> None:
    result = run_once(isolated_env(PORT="eighty", DATA_DIR=tmp_path))

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("make run: bad configuration: PORT:")


def test_passwords_stay_out_of_the_logs(launcher: ModuleType) -> None:
    url = "postgresql+psycopg://store:s3cret@db:5432/jobs"

    assert launcher.redacted(url) == "postgresql+psycopg://store:***@db:5432/jobs"
    assert launcher.redacted("redis://:s3cret@redis:6379/0") == "redis://:***@redis:6379/0"
    assert launcher.redacted("redis://redis:6379/0") == "redis://redis:6379/0"


# -- the commands ------------------------------------------------------------------------------


def test_every_routed_queue_has_a_worker(launcher: ModuleType) -> None:
    from worker.celery_app import TASK_ROUTES
    from worker.names import INFERENCE_QUEUE

    commands = launcher.service_commands("127.0.0.1", 8000)
    consumed = set()
    for name, argv in commands.items():
        if name.startswith("worker-"):
            consumed.update(argv[argv.index("-Q") + 1].split(","))
    routed = {route["queue"] for route in TASK_ROUTES.values()} | {INFERENCE_QUEUE}

    assert routed <= consumed
    assert set(commands) == {"api", "worker-training", "worker-inference"}


def test_the_api_command_serves_the_app_on_the_given_address(launcher: ModuleType) -> None:
    assert launcher.api_command("0.0.0.0", 8123) == (
        "uvicorn", "api.main:app", "--host", "0.0.0.0", "--port", "8123")


def test_training_runs_one_job_at_a_time_per_host(launcher: ModuleType) -> None:
    argv = launcher.WORKER_COMMANDS["worker-training"]

    assert argv[argv.index("--concurrency") + 1] == "1"


def test_console_scripts_come_from_the_running_virtualenv(launcher: ModuleType) -> None:
    resolved = launcher.resolve(["celery", "--version"])

    assert Path(resolved[0]).parent == Path(sys.executable).parent
    assert resolved[1:] == ["--version"]


# -- stopping ----------------------------------------------------------------------------------

STUBBORN = """
import signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
print(child.pid, flush=True)
time.sleep(300)
"""
QUITS = "import sys, time; time.sleep(1); print('bye', flush=True); sys.exit(3)"


def _python(code: str) -> str:
    return f"exec {shlex.quote(sys.executable)} -c {shlex.quote(code)}"


def test_a_process_that_exits_is_named_and_the_rest_are_stopped_even_if_stubborn(
    launcher: ModuleType,
) -> None:
    output = io.StringIO()
    watch = launcher.Watch(launcher.Console(output))
    watch.serving = True  # as after the banner: the exit is told the README's way
    env = isolated_env()

    started = time.monotonic()
    launcher.run_processes({"stubborn": _python(STUBBORN), "quits": _python(QUITS)},
                           {"stubborn": env, "quits": env}, watch, grace=1.0)

    assert time.monotonic() - started < 20
    assert watch.first_exit == ("quits", 3)
    assert not watch.signal_name
    assert set(watch.pids) == {"stubborn", "quits"}
    out = output.getvalue()
    assert f"quits (pid {watch.pids['quits']}) exited with code 3; stopping the others" in out
    assert "quits            | bye" in out  # each line shown under its process's name
    grandchild = int(watch.tails["stubborn"][0])
    assert _gone([watch.pids["stubborn"], grandchild]) == []


def test_a_signal_stops_every_process_and_is_not_taken_for_an_exit(launcher: ModuleType) -> None:
    output = io.StringIO()
    watch = launcher.Watch(launcher.Console(output))
    sleeper = _python("import time; print('up', flush=True); time.sleep(300)")
    handler = signal.getsignal(signal.SIGHUP)

    def hang_up(manager: object) -> None:
        deadline = time.monotonic() + 30
        while len(watch.tails) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGHUP)

    launcher.run_processes({"one": sleeper, "two": sleeper}, {"one": isolated_env(),
                           "two": isolated_env()}, watch, while_running=hang_up, grace=5.0)

    assert watch.signal_name == "SIGHUP"
    assert watch.first_exit is None
    assert _gone(list(watch.pids.values())) == []
    assert signal.getsignal(signal.SIGHUP) is handler  # the test process's handler is back
    out = output.getvalue()
    assert "SIGHUP: stopping" in out
    assert "exited with code" not in out


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _gone(pids: list[int], timeout: float = 5.0) -> list[int]:
    """The pids still alive once `timeout` has passed (a killed process takes a moment to die)."""
    deadline = time.monotonic() + timeout
    while (alive := [pid for pid in pids if _alive(pid)]) and time.monotonic() < deadline:
        time.sleep(0.05)
    return alive


# -- the real thing ----------------------------------------------------------------------------


def _curl_from_banner(launch: Launch) -> httpx.Response:
    """Send the request that the printed, ready-to-paste curl command describes."""
    line = next(text for text in launch.lines if text.strip().startswith("curl "))
    words = shlex.split(line)
    url = next(word for word in words if word.startswith("http://"))
    body = json.loads(words[words.index("-d") + 1])
    return httpx.post(url, json=body, timeout=10)


@pytest.mark.integration
@pytest.mark.serial  # three launches and a training within its timeout: it needs the CPU
@pytest.mark.timeout(420)
def test_make_run_trains_serves_stops_every_process_and_starts_again(tmp_path: Path) -> None:
    port = free_port()
    # The first champion's calibration at 3 folds instead of 10: the same training, fewer fits.
    env = isolated_env(DATA_DIR=tmp_path / "data", PORT=port, CALIBRATION_FOLDS=3)
    base = f"http://127.0.0.1:{port}"

    first = Launch(env)
    try:
        first.wait_for("press Ctrl-C to stop everything", timeout=300)
        assert "no champion model yet" in first.output
        assert f"docs       {base}/docs" in first.output
        assert "X-API-Key: change-me" in first.output
        answer = httpx.post(f"{base}/v1/categorizer/inference",
                            json={"product_list": ["taladro"]}, timeout=10)
        assert answer.status_code == 200, answer.text
        assert answer.json()["categories"] == ["Herramientas"]
        assert _curl_from_banner(first).status_code == 200
        # every process's metrics answer where the banner says they are
        metrics_line = next(t for t in first.lines if t.strip().startswith("metrics "))
        urls = [w.rstrip(",") for w in metrics_line.split() if w.startswith("http://")]
        assert len(urls) == 3, metrics_line
        scraped = [httpx.get(url, timeout=10) for url in urls]
        assert all(r.status_code == 200 for r in scraped)
        assert "categorizer_http_request_duration_seconds_count" in scraped[0].text
        started = psutil.Process(first.process.pid).children(recursive=True)
        names = " ".join(" ".join(p.cmdline()) for p in started)
        assert "uvicorn api.main:app" in names
        assert "-Q training" in names
        assert "-Q inference" in names

        assert first.stop(signal.SIGINT) == 0
        assert _gone([p.pid for p in started]) == []
        assert port_is_free(port)
        assert "every process stopped" in first.output
    finally:
        first.kill()

    second = Launch(env)
    try:
        second.wait_for("press Ctrl-C to stop everything", timeout=120)
        assert "no champion model yet" not in second.output
        assert "champion is v1" in second.output
        answer = httpx.post(f"{base}/v1/categorizer/inference",
                            json={"product_list": ["tubo pvc 1/2"]}, timeout=10)
        assert answer.json()["categories"] == ["Plomería"]
        started = psutil.Process(second.process.pid).children(recursive=True)

        assert second.stop(signal.SIGTERM) == 0
        assert _gone([p.pid for p in started]) == []
    finally:
        second.kill()

    # A worker that exits stops everything, and the launcher says which one and why (README).
    third = Launch(env)
    try:
        third.wait_for("press Ctrl-C to stop everything", timeout=120)
        started = psutil.Process(third.process.pid).children(recursive=True)
        worker = next(p for p in started if "-Q inference" in " ".join(p.cmdline()))
        worker.kill()

        assert third.process.wait(timeout=60) == 1
        third._reader.join(timeout=10)  # every line it printed
        assert any(line.endswith("stopping the others") and "worker-inference" in line
                   for line in third.lines), third.tail()
        assert _gone([p.pid for p in started]) == []
        assert "every process stopped" in third.output
    finally:
        third.kill()
