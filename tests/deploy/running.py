"""Run scripts/run.py as `make run` does, with its output collected and waited on by deadline."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from core.config import Settings

ROOT = Path(__file__).resolve().parents[2]
RUN_PY = ROOT / "scripts" / "run.py"


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def isolated_env(**values: object) -> dict[str, str]:
    """This environment without any setting of the service, plus `values`."""
    names = {name.upper() for name in Settings.model_fields}
    env = {k: v for k, v in os.environ.items() if k.upper() not in names}
    env.update({k: str(v) for k, v in values.items()})
    return env


class Launch:
    """One `python scripts/run.py` process; its output kept line by line."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [sys.executable, str(RUN_PY), *args], cwd=ROOT, env=env, text=True,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def tail(self, n: int = 40) -> str:
        return "\n".join(self.lines[-n:])

    def wait_for(self, text: str, *, timeout: float) -> None:
        """Poll the output until `text` appears; fail with the output's tail otherwise."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in line for line in self.lines):
                return
            if self.process.poll() is not None:
                self._reader.join(timeout=5)
                raise AssertionError(f"the launcher exited ({self.process.returncode}) before "
                                     f"printing {text!r}:\n{self.tail()}")
            time.sleep(0.2)
        raise AssertionError(f"no {text!r} after {timeout:.0f}s:\n{self.tail()}")

    def stop(self, signum: int = signal.SIGINT, *, timeout: float = 60) -> int:
        self.process.send_signal(signum)
        code = self.process.wait(timeout=timeout)
        self._close()
        return code

    def _close(self) -> None:
        self._reader.join(timeout=5)
        if self.process.stdout is not None:
            self.process.stdout.close()

    def kill(self) -> None:
        """Last-resort cleanup for a failed test: the launcher and every child group."""
        import psutil

        if self.process.poll() is None:
            for child in psutil.Process(self.process.pid).children(recursive=True):
                child.kill()
            self.process.kill()
            self.process.wait(timeout=10)
        self._close()


def run_once(env: dict[str, str], *args: str,
             timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run the launcher to completion (for the cases where it must refuse to start)."""
    return subprocess.run([sys.executable, str(RUN_PY), *args], cwd=ROOT, env=env, text=True,
                          capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
