from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness.config import stack_config
from harness.program import ProgramRun, run_program
from harness.world import fake_environment


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--run-e2e",
        action="store_true",
        help="create a real minikube cluster with the Pulumi Automation API (minutes; needs Docker, minikube, pulumi)",
    )


SharedRun = Callable[..., ProgramRun]


@pytest.fixture(scope="session")
def shared_run(tmp_path_factory: pytest.TempPathFactory) -> SharedRun:
    """A first `pulumi up` of the dev stack with these config overrides, run
    once per session for every test that only reads it (the same config, as
    the CLI would hand it over, is the same run)."""
    runs: dict[str, ProgramRun] = {}

    def run(**overrides: Any) -> ProgramRun:
        key = json.dumps(stack_config("dev", overrides), sort_keys=True)
        if key not in runs:
            runs[key] = run_program("dev", tmp_path_factory.mktemp("shared"), overrides)
        return runs[key]

    return run


@pytest.fixture(autouse=True)
def own_cache_folder(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads or writes the user's real cache (components/checks/download.py,
    cache_dir): each has an empty one of its own (a program run, its machine's)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture
def machine(tmp_path: Path) -> dict[str, str]:
    """A laptop where minikube, kubectl and docker are the stand-ins."""
    return fake_environment(tmp_path / "machine")
