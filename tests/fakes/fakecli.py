"""State and behaviour shared by the stand-in `minikube`, `kubectl` and `docker`.

The stand-ins imitate minikube v1.38.1 and kubectl v1.35 on the docker driver,
as far as local-mesh's scripts use them: the same output formats on the same
streams and the same exit codes. What each one imitates is listed in
docs/testing.md ("What the stand-in CLIs imitate"); nothing here reaches a real cluster, Docker or network.

State lives in $FAKE_CLI_STATE (a JSON file per machine) and in $KUBECONFIG and
$MINIKUBE_HOME, like the real tools' files, so a test can stop, start and
delete profiles by hand between runs of the real scripts.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
from pathlib import Path
from typing import IO, Any

import yaml

MINIKUBE_VERSION = "v1.38.1"
API_SERVER_PORT = 8443

# minikube's exit codes (pkg/minikube/reason/exitcodes.go).
EX_PROGRAM_ERROR = 10
EX_PROGRAM_USAGE = 14
EX_INSUFFICIENT_MEMORY = 23
EX_INSUFFICIENT_CORES = 29
EX_GUEST_ERROR = 80
EX_GUEST_NOT_RUNNING = 83
# reason.GuestProvision (pkg/minikube/reason/reason.go:388, exitcodes.go ExGuestError).
EX_GUEST_ERROR = 80
EX_GUEST_NOT_FOUND = 85


def fail(message: str, code: int) -> None:
    print(message, file=sys.stderr)
    sys.exit(code)


def docker_resources() -> tuple[int, int]:
    """What the stand-in Docker daemon offers: memory in bytes and CPUs
    (`docker info` MemTotal and NCPU), as a test sets them."""
    memory = int(os.environ.get("FAKE_DOCKER_MEMORY_BYTES", str(16 * 1024**3)))
    cpus = int(os.environ.get("FAKE_DOCKER_CPUS", "8"))
    return memory, cpus


def published_bindings(state: dict[str, Any]) -> dict[str, str]:
    """HOST_IP:HOST_PORT -> the container that Docker published it for: every
    node container's ports, the first node's named after its profile."""
    return {
        binding: name
        for name, profile in state["profiles"].items()
        for binding in profile.get("published", {}).values()
    }


def state_path() -> Path:
    root = os.environ.get("FAKE_CLI_STATE")
    if not root:
        print("fake CLI: FAKE_CLI_STATE is not set (refusing to guess a state folder)", file=sys.stderr)
        sys.exit(2)
    return Path(root) / "state.json"


_state_lock: IO[str] | None = None


def load_state() -> dict[str, Any]:
    """The machine's state. The first load takes the machine's lock for the
    rest of this process: Pulumi runs invokes and Commands side by side, and a
    stand-in must not read what another is half-way through writing."""
    global _state_lock
    path = state_path()
    if _state_lock is None:
        _state_lock = open(path.with_name("state.lock"), "w")  # noqa: SIM115 (held until the process exits)
        fcntl.flock(_state_lock, fcntl.LOCK_EX)
    if path.exists():
        return json.loads(path.read_text())
    return {"profiles": {}, "networks": [], "calls": []}


def save_state(state: dict[str, Any]) -> None:
    state_path().write_text(json.dumps(state, indent=2, sort_keys=True))


def record_call(state: dict[str, Any], argv: list[str]) -> None:
    state["calls"].append([Path(argv[0]).name, *argv[1:]])


def minikube_dir() -> Path:
    """minikube's own folder (kubernetes/minikube pkg/minikube/localpath/localpath.go:44-54,
    MiniPath, v1.38.1): $MINIKUBE_HOME if it ends in .minikube, else
    $MINIKUBE_HOME/.minikube, else ~/.minikube."""
    home = os.environ.get("MINIKUBE_HOME", "")
    if not home:
        return Path.home() / ".minikube"
    return Path(home) if Path(home).name == ".minikube" else Path(home) / ".minikube"


def profile_dir(profile: str) -> Path:
    """A profile's own folder (localpath.go:63-65, Profile): its config.json, its
    client certificate, and whatever else is put there."""
    return minikube_dir() / "profiles" / profile


def kubeconfig_path() -> Path:
    explicit = os.environ.get("KUBECONFIG")
    if explicit:
        return Path(explicit.split(os.pathsep)[0])
    return Path.home() / ".kube" / "config"


def load_kubeconfig(path: Path) -> dict[str, Any]:
    if path.exists() and path.read_text().strip():
        return yaml.safe_load(path.read_text())
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [],
        "contexts": [],
        "users": [],
        "current-context": "",
        "preferences": {},
    }


def save_kubeconfig(path: Path, config: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False))


def without(entries: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [entry for entry in entries or [] if entry.get("name") != name]
