"""tools/fetch-tools.sh against a release server on loopback that
lays out files as the real publishers do (minikube and pulumi on GitHub
releases, kubectl on dl.k8s.io), with checksum files beside them."""

from __future__ import annotations

import hashlib
import io
import os
import platform
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from components.preflight import MINIMUM_TOOL_VERSIONS, TOOL_VERSIONS_FILE, read_tool_versions
from tests.harness import FAKE_BIN, REPO, closed_loopback_url, serve_directory

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
)


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
    tmp_path: Path, base_url: str, *on_path: str, pulumi_version: str = PULUMI
) -> subprocess.CompletedProcess[str]:
    """Run the script with a PATH holding only basic utilities (and `on_path`;
    a pulumi there is the stand-in, answering `pulumi version` with `pulumi_version`)."""
    bin_dir = tmp_path / "path"
    bin_dir.mkdir(exist_ok=True)
    for utility in UTILITIES:
        found = shutil.which(utility)
        assert found, f"{utility} is needed by fetch-tools.sh"
        (bin_dir / utility).unlink(missing_ok=True)
        (bin_dir / utility).symlink_to(found)
    for tool in on_path:
        if tool == "pulumi":
            (bin_dir / tool).symlink_to(FAKE_BIN / "pulumi")
            (bin_dir / "python3").symlink_to(sys.executable)  # the stand-in's interpreter
            continue
        (bin_dir / tool).write_text("#!/bin/sh\n")
        (bin_dir / tool).chmod(0o755)
    environment = {
        "PATH": str(bin_dir),
        "HOME": str(tmp_path),
        "MINIKUBE_BASE_URL": f"{base_url}/minikube",
        "KUBECTL_BASE_URL": f"{base_url}/kubectl",
        "PULUMI_BASE_URL": f"{base_url}/pulumi",
        "FAKE_PULUMI_VERSION": pulumi_version,
    }
    return subprocess.run(
        ["bash", str(FETCH_TOOLS), str(tmp_path / "tools")],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


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


def test_no_network_is_one_clear_line(tmp_path: Path) -> None:
    closed = closed_loopback_url()
    result = fetch(tmp_path, closed)
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"local-mesh: cannot download {closed}/minikube/v{MINIKUBE}/minikube-linux-")
    assert line.endswith("check the network, or install the tool yourself (see README)")


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
    major, minor, patch = MINIMUM_TOOL_VERSIONS["pulumi"]
    result = fetch(tmp_path, base_url, "minikube", "kubectl", "pulumi", pulumi_version=f"{major}.{minor - 1}.{patch}")
    assert result.returncode == 0, result.stderr
    assert f"local-mesh: pulumi v{major}.{minor - 1}.{patch} on PATH is older than {major}.{minor}.{patch}" in (
        result.stderr
    )
    assert sorted(path.name for path in (tmp_path / "tools").iterdir()) == ["pulumi", "pulumi-language-python"]
    assert all(request.startswith("/pulumi/") for request in requests)


def test_a_pulumi_at_the_minimum_is_kept(tmp_path: Path, release_server: tuple[str, Path, list[str]]) -> None:
    base_url, root, requests = release_server
    publish_all(root)
    minimum = ".".join(str(part) for part in MINIMUM_TOOL_VERSIONS["pulumi"])
    result = fetch(tmp_path, base_url, "minikube", "kubectl", "pulumi", pulumi_version=minimum)
    assert result.returncode == 0, result.stderr
    assert requests == []
