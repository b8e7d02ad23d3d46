from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--run-e2e",
        action="store_true",
        help="create a real minikube cluster with the Pulumi Automation API (minutes; needs Docker, minikube, pulumi)",
    )
