"""Whether this machine can run the real end-to-end test (tests/e2e), which
`make e2e` and `make bench` run where it can."""

from __future__ import annotations

import shutil
import subprocess

TOOLS = ("docker", "minikube", "kubectl", "pulumi")


def missing_prerequisite() -> str | None:
    for tool in TOOLS:
        if shutil.which(tool) is None:
            return f"{tool} is not on PATH"
    daemon = subprocess.run(["docker", "info"], capture_output=True, text=True, check=False)
    if daemon.returncode != 0:
        return "the Docker daemon does not answer `docker info`"
    return None
