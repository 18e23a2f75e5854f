"""The launcher, scripts/run.py, loaded as a module (scripts/ is not a package)."""

from __future__ import annotations

from types import ModuleType

import pytest

from tests.fixtures.scripts import load_script


@pytest.fixture(scope="session")
def launcher() -> ModuleType:
    return load_script("run.py", "categorizer_launcher")
