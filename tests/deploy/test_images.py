"""Dockerfile.api and Dockerfile.worker, read as files: base, user, layers and commands."""

from __future__ import annotations

import fnmatch
import json
import os
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
IMAGES = ("Dockerfile.api", "Dockerfile.worker")
CODE = ("core", "api", "worker")


def instructions(name: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    found: list[tuple[str, str]] = []
    pending = ""
    for raw in (ROOT / name).read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        keyword, _, rest = line.partition(" ")
        found.append((keyword.upper(), rest.strip()))
    return found


def exec_form(name: str, keyword: str) -> list[str]:
    (args,) = [rest for kw, rest in instructions(name) if kw == keyword]
    command: list[str] = json.loads(args)  # exec form: no shell in between to eat signals
    return command


@pytest.mark.parametrize("name", IMAGES)
def test_the_image_is_slim_and_runs_as_a_user(name: str) -> None:
    steps = instructions(name)
    keywords = [kw for kw, _ in steps]

    assert steps[0] == ("FROM", "python:3.11-slim")
    users = [rest for kw, rest in steps if kw == "USER"]
    assert users
    assert users[-1] not in ("root", "0")
    assert keywords.index("USER") < keywords.index("CMD")
    assert "ENTRYPOINT" not in keywords


def first(steps: list[tuple[str, str]], predicate: Callable[[str, str], bool]) -> int:
    return next(i for i, (keyword, rest) in enumerate(steps) if predicate(keyword, rest))


@pytest.mark.parametrize("name", IMAGES)
def test_dependencies_are_a_layer_of_their_own_before_the_code(name: str) -> None:
    steps = instructions(name)

    manifest = first(steps, lambda kw, rest: (kw, rest) == ("COPY", "pyproject.toml ./"))
    dependencies = first(steps, lambda kw, rest: kw == "RUN" and "pip install -r" in rest)
    code = first(steps, lambda kw, rest: kw == "COPY" and rest.split()[0] in CODE)
    package = first(steps, lambda kw, rest: kw == "RUN" and "pip install --no-deps" in rest)

    assert manifest < dependencies < code < package
    # nothing between the manifest and the dependency install brings in more files
    assert all(kw != "COPY" for kw, _ in steps[manifest + 1:dependencies])
    # the code layer installs the package alone: no resolver, no download
    assert "--no-build-isolation" in steps[package][1]


@pytest.mark.parametrize("name", IMAGES)
def test_what_the_image_copies_is_in_the_build_context(name: str) -> None:
    ignored = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")]
    sources = [rest.split()[0] for kw, rest in instructions(name) if kw == "COPY"]

    assert set(sources) >= {"pyproject.toml", "README.md", *CODE}
    for source in sources:
        assert (ROOT / source).exists(), source
        assert not any(fnmatch.fnmatch(source, pattern) for pattern in ignored), source
    for private in (".venv", ".git", "data", ".env", "tests"):
        assert private in ignored


def test_the_api_image_runs_the_api_command_of_make_run(launcher: ModuleType) -> None:
    assert tuple(exec_form("Dockerfile.api", "CMD")) == launcher.api_command("0.0.0.0", 8000)


@pytest.mark.parametrize(("queues", "concurrency", "worker"), [
    ("training", "1", "worker-training"),
    ("inference", "", "worker-inference"),
])
def test_the_worker_image_runs_the_worker_commands_of_make_run(
    launcher: ModuleType, tmp_path: Path, queues: str, concurrency: str, worker: str,
) -> None:
    # Run the image's CMD through a real shell, with a `celery` that prints what it was given.
    fake = tmp_path / "celery"
    fake.write_text('#!/bin/sh\nprintf "%s\\n" celery "$@"\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}", "QUEUES": queues,
           "CONCURRENCY": concurrency}

    result = subprocess.run(exec_form("Dockerfile.worker", "CMD"), env=env, capture_output=True,
                            text=True, timeout=30, check=True)

    assert tuple(result.stdout.splitlines()) == launcher.WORKER_COMMANDS[worker]
