"""The README keeps up with the code: every setting, every endpoint, the two commands."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from core.config import Settings

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def _section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start:end if end != -1 else None]


def test_the_two_commands_are_make_run_and_make_test() -> None:
    block = re.search(r"## Two commands\n.*?```bash\n(.*?)```", README, re.S)

    assert block is not None
    commands = [line.split("#")[0].strip() for line in block.group(1).splitlines()]
    assert commands == ["make run", "make test"]


@pytest.mark.parametrize("field", sorted(Settings.model_fields))
def test_every_setting_is_in_the_configuration_table(field: str) -> None:
    rows = [line for line in _section("Configuration").splitlines() if line.startswith("| `")]

    assert any(row.startswith(f"| `{field.upper()}` |") for row in rows), field


def test_every_endpoint_is_documented_with_an_example() -> None:
    from api.main import create_app

    endpoints = _section("Endpoints")
    commands = endpoints.replace("\\\n", " ")
    paths = create_app().openapi()["paths"]
    assert len(paths) >= 10
    curls = [line for line in commands.splitlines() if line.startswith("curl ")]
    for path, operations in paths.items():
        example = re.compile(re.sub(r"\\\{[^}]+\\\}", "[^ ']+", re.escape(path)) + "['? ]")
        for method in (m.upper() for m in operations):
            assert f"`{method} {path}`" in endpoints, f"{method} {path}"
            verb = f"-X {method} "
            assert any(example.search(line + " ") and (verb in line if method != "GET"
                                                       else "-X " not in line)
                       for line in curls), f"no curl example for {method} {path}"


def test_the_diagram_shows_the_request_path_and_the_job_path() -> None:
    diagram = re.search(r"```mermaid\n(.*?)```", README, re.S)

    assert diagram is not None
    assert "request path" in diagram.group(1)
    assert "job path" in diagram.group(1)


def test_the_benchmarks_section_points_to_the_figures() -> None:
    assert "(BENCHMARKS.md)" in _section("Benchmarks")
