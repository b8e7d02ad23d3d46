"""tools/fetch-tools.sh against a release server on loopback that
lays out files as the real publishers do (minikube and pulumi on GitHub
releases, kubectl on dl.k8s.io), with checksum files beside them."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import platform
import shutil
import socket
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from components.checks.host import MINIMUM_TOOL_VERSIONS, TOOL_VERSIONS_FILE, read_tool_versions
from harness.config import REPO
from harness.servers import closed_loopback_url, serve_directory
from harness.world import FAKE_BIN

FETCH_TOOLS = REPO / "tools" / "fetch-tools.sh"
# What the script fetches (components/tool-versions.env, which it reads too).
PINNED = read_tool_versions(TOOL_VERSIONS_FILE.read_text())
MINIKUBE, KUBECTL, PULUMI = (PINNED[f"{tool}_PINNED"] for tool in ("MINIKUBE", "KUBECTL", "PULUMI"))

ARCH = {"x86_64": ("amd64", "x64"), "aarch64": ("arm64", "arm64")}.get(platform.machine(), ("amd64", "x64"))
UTILITIES = (
    "bash",
    "curl",
    "sha256sum",
    "cut",
    "awk",
    "tar",
    "gzip",
    "install",
    "mktemp",
    "rm",
    "mkdir",
    "uname",
    "tail",
    "cat",
    "env",
    "sort",
    "head",
    "sed",
)
# The stand-ins answer their version calls with these (tests/fakes/bin).
VERSION_SWITCHES = {
    "minikube": "FAKE_MINIKUBE_VERSION",
    "kubectl": "FAKE_KUBECTL_VERSION",
    "pulumi": "FAKE_PULUMI_VERSION",
}


@pytest.fixture
def release_server(tmp_path: Path) -> Iterator[tuple[str, Path, list[str]]]:
    with serve_directory(tmp_path / "releases") as served:
        yield served


def publish(path: Path, content: bytes, checksum: bytes | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    digest = hashlib.sha256(checksum if checksum is not None else content).hexdigest()
    Path(f"{path}.sha256").write_text(f"{digest}\n")


def publish_all(root: Path, kubectl_checksum_of: bytes | None = None) -> None:
    arch, pulumi_arch = ARCH
    publish(root / f"minikube/v{MINIKUBE}/minikube-linux-{arch}", f"#!/bin/sh\necho v{MINIKUBE}\n".encode())
    kubectl = b"#!/bin/sh\necho kubectl\n"
    publish(root / f"kubectl/v{KUBECTL}/bin/linux/{arch}/kubectl", kubectl, kubectl_checksum_of)
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        for name in ("pulumi", "pulumi-language-python"):
            data = b"#!/bin/sh\necho pulumi\n"
            info = tarfile.TarInfo(f"pulumi/{name}")
            info.size, info.mode = len(data), 0o755
            tar.addfile(info, io.BytesIO(data))
    # The release assets' names (GitHub releases of pulumi/pulumi; shared/upstream README).
    name = f"pulumi-v{PULUMI}-linux-{pulumi_arch}.tar.gz"
    (root / f"pulumi/v{PULUMI}").mkdir(parents=True)
    (root / f"pulumi/v{PULUMI}" / name).write_bytes(archive.getvalue())
    digest = hashlib.sha256(archive.getvalue()).hexdigest()
    other = "0" * 64
    (root / f"pulumi/v{PULUMI}/pulumi-{PULUMI}-checksums.txt").write_text(
        f"{other}  pulumi-v{PULUMI}-darwin-x64.tar.gz\n{digest}  {name}\n"
    )


def fetch(
    tmp_path: Path,
    base_url: str,
    *on_path: str,
    timeout: float = 60,
    limits: dict[str, str] | None = None,
    versions: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the script with a PATH holding only basic utilities and the stand-ins
    named in `on_path`, each answering its version call with `versions[tool]`
    (default: the version the script fetches); `limits` sets its download limits."""
    bin_dir = tmp_path / "path"
    bin_dir.mkdir(exist_ok=True)
    for utility in UTILITIES:
        found = shutil.which(utility)
        assert found, f"{utility} is needed by fetch-tools.sh"
        (bin_dir / utility).unlink(missing_ok=True)
        (bin_dir / utility).symlink_to(found)
    if on_path:
        (bin_dir / "python3").symlink_to(sys.executable)  # the stand-ins' interpreter
    for tool in on_path:
        (bin_dir / tool).symlink_to(FAKE_BIN / tool)
    environment = {
        "PATH": str(bin_dir),
        "HOME": str(tmp_path),
        "FAKE_CLI_STATE": str(tmp_path),
        "MINIKUBE_BASE_URL": f"{base_url}/minikube",
        "KUBECTL_BASE_URL": f"{base_url}/kubectl",
        "PULUMI_BASE_URL": f"{base_url}/pulumi",
        **{VERSION_SWITCHES[tool]: f"v{PINNED[f'{tool.upper()}_PINNED']}" for tool in VERSION_SWITCHES},
        **{VERSION_SWITCHES[tool]: version for tool, version in (versions or {}).items()},
        **(limits or {}),
    }
    # The stand-in pulumi prints its version with the v itself.
    environment["FAKE_PULUMI_VERSION"] = environment["FAKE_PULUMI_VERSION"].removeprefix("v")
    return subprocess.run(
        ["bash", str(FETCH_TOOLS), str(tmp_path / "tools")],
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def older_than_minimum(tool: str) -> str:
    major, minor, patch = MINIMUM_TOOL_VERSIONS[tool]
    return f"{major}.{minor - 1}.{patch}"


@contextlib.contextmanager
def silent_server() -> Iterator[str]:
    """A server on loopback that accepts every connection and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    held: list[socket.socket] = []

    def accept() -> None:
        with contextlib.suppress(OSError):
            while True:
                held.append(listener.accept()[0])

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()
        for connection in held:
            connection.close()


def test_missing_tools_are_fetched_verified_and_installed_locally(
    tmp_path: Path, release_server: tuple[str, Path, list[str]]
) -> None:
    base_url, root, _ = release_server
    publish_all(root)
    result = fetch(tmp_path, base_url)
    assert result.returncode == 0, result.stderr
    tools = tmp_path / "tools"
    assert sorted(path.name for path in tools.iterdir()) == ["kubectl", "minikube", "pulumi", "pulumi-language-python"]
    assert all(os.access(path, os.X_OK) for path in tools.iterdir())
    assert subprocess.run([str(tools / "minikube")], capture_output=True, text=True).stdout == f"v{MINIKUBE}\n"


def test_a_checksum_mismatch_installs_nothing(tmp_path: Path, release_server: tuple[str, Path, list[str]]) -> None:
    base_url, root, _ = release_server
    publish_all(root, kubectl_checksum_of=b"something else")
    result = fetch(tmp_path, base_url)
    assert result.returncode == 1
    assert f"local-mesh: kubectl v{KUBECTL} failed its SHA-256 check (expected " in result.stderr
    assert not (tmp_path / "tools" / "kubectl").exists()


def test_no_network_lists_every_tool_it_could_not_fetch_at_once(tmp_path: Path) -> None:
    closed = closed_loopback_url()
    result = fetch(tmp_path, closed)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert [line.split(closed)[1].split("/")[1] for line in lines] == ["minikube", "kubectl", "pulumi"]
    for line in lines:
        assert line.startswith(f"local-mesh: cannot download {closed}/")
        assert line.endswith("check the network, or install the tool yourself (see README)")
    assert not (tmp_path / "tools" / "minikube").exists()


def test_a_server_that_never_answers_fails_within_the_time_limit(tmp_path: Path) -> None:
    with silent_server() as silent:
        started = time.monotonic()
        result = fetch(
            tmp_path,
            silent,
            "kubectl",
            "pulumi",
            timeout=20,
            limits={"DOWNLOAD_MAX_SECONDS": "2", "DOWNLOAD_STALL_SECONDS": "1"},
        )
        elapsed = time.monotonic() - started
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"local-mesh: cannot download {silent}/minikube/v{MINIKUBE}/minikube-linux-")
    assert elapsed < 10


def test_tools_already_on_path_are_not_fetched(tmp_path: Path, release_server: tuple[str, Path, list[str]]) -> None:
    base_url, root, requests = release_server
    publish_all(root)
    result = fetch(tmp_path, base_url, "minikube", "kubectl", "pulumi")
    assert result.returncode == 0, result.stderr
    assert requests == []
    assert not (tmp_path / "tools" / "minikube").exists()


def test_a_pulumi_older_than_local_mesh_needs_is_replaced_by_the_pinned_one(
    tmp_path: Path, release_server: tuple[str, Path, list[str]]
) -> None:
    base_url, root, requests = release_server
    publish_all(root)
    minimum = ".".join(str(part) for part in MINIMUM_TOOL_VERSIONS["pulumi"])
    old = older_than_minimum("pulumi")
    result = fetch(tmp_path, base_url, "minikube", "kubectl", "pulumi", versions={"pulumi": old})
    assert result.returncode == 0, result.stderr
    assert f"local-mesh: pulumi v{old} on PATH is older than {minimum}" in result.stderr
    assert sorted(path.name for path in (tmp_path / "tools").iterdir()) == ["pulumi", "pulumi-language-python"]
    assert all(request.startswith("/pulumi/") for request in requests)


def test_a_pulumi_at_the_minimum_is_kept(tmp_path: Path, release_server: tuple[str, Path, list[str]]) -> None:
    base_url, root, requests = release_server
    publish_all(root)
    minimum = ".".join(str(part) for part in MINIMUM_TOOL_VERSIONS["pulumi"])
    result = fetch(tmp_path, base_url, "minikube", "kubectl", "pulumi", versions={"pulumi": minimum})
    assert result.returncode == 0, result.stderr
    assert requests == []


@pytest.mark.parametrize("tool", ["minikube", "kubectl"])
def test_an_old_minikube_or_kubectl_is_replaced_by_the_pinned_one(
    tmp_path: Path, release_server: tuple[str, Path, list[str]], tool: str
) -> None:
    base_url, root, requests = release_server
    publish_all(root)
    minimum = ".".join(str(part) for part in MINIMUM_TOOL_VERSIONS[tool])
    old = older_than_minimum(tool)
    result = fetch(tmp_path, base_url, "minikube", "kubectl", "pulumi", versions={tool: f"v{old}"})
    assert result.returncode == 0, result.stderr
    assert f"local-mesh: {tool} v{old} on PATH is older than {minimum}: fetching" in result.stderr
    assert sorted(path.name for path in (tmp_path / "tools").iterdir()) == [tool]
    assert requests and all(request.startswith(f"/{tool}/") for request in requests)


def test_an_old_tool_that_cannot_be_fetched_is_listed_with_the_missing_ones(tmp_path: Path) -> None:
    closed = closed_loopback_url()
    result = fetch(tmp_path, closed, "minikube", "kubectl", versions={"kubectl": f"v{older_than_minimum('kubectl')}"})
    assert result.returncode == 1
    failed = [line for line in result.stderr.splitlines() if line.startswith("local-mesh: cannot download")]
    assert [line.split(closed)[1].split("/")[1] for line in failed] == ["kubectl", "pulumi"]
