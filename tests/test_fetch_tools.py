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
# What each publisher builds (tools/fetch-tools.sh cites where each name comes from):
# (os, arch) of minikube and kubectl, and pulumi's arch.
PLATFORMS = (
    ("linux", "amd64", "x64"),
    ("linux", "arm64", "arm64"),
    ("darwin", "amd64", "x64"),
    ("darwin", "arm64", "arm64"),
)
UTILITIES = (
    "bash",
    "curl",
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
    """Every platform's build of each tool, each saying which platform it is for."""
    checksums = []
    for os_name, arch, pulumi_arch in PLATFORMS:
        publish(
            root / f"minikube/v{MINIKUBE}/minikube-{os_name}-{arch}",
            f"#!/bin/sh\necho v{MINIKUBE} {os_name}-{arch}\n".encode(),
        )
        kubectl = f"#!/bin/sh\necho kubectl {os_name}-{arch}\n".encode()
        publish(root / f"kubectl/v{KUBECTL}/bin/{os_name}/{arch}/kubectl", kubectl, kubectl_checksum_of)
        archive = io.BytesIO()
        with tarfile.open(fileobj=archive, mode="w:gz") as tar:
            for name in ("pulumi", "pulumi-language-python"):
                data = f"#!/bin/sh\necho pulumi {os_name}-{pulumi_arch}\n".encode()
                info = tarfile.TarInfo(f"pulumi/{name}")
                info.size, info.mode = len(data), 0o755
                tar.addfile(info, io.BytesIO(data))
        # The release assets' names (GitHub releases of pulumi/pulumi; shared/upstream README).
        name = f"pulumi-v{PULUMI}-{os_name}-{pulumi_arch}.tar.gz"
        (root / f"pulumi/v{PULUMI}").mkdir(parents=True, exist_ok=True)
        (root / f"pulumi/v{PULUMI}" / name).write_bytes(archive.getvalue())
        checksums.append(f"{hashlib.sha256(archive.getvalue()).hexdigest()}  {name}\n")
    (root / f"pulumi/v{PULUMI}/pulumi-{PULUMI}-checksums.txt").write_text("".join(checksums))


def fetch(
    tmp_path: Path,
    base_url: str,
    *on_path: str,
    timeout: float = 60,
    limits: dict[str, str] | None = None,
    versions: dict[str, str] | None = None,
    host: tuple[str, str] | None = None,
    hashers: tuple[str, ...] = ("sha256sum",),
) -> subprocess.CompletedProcess[str]:
    """Run the script with a PATH holding only basic utilities, the checksum
    tools in `hashers` and the stand-ins named in `on_path`, each answering its
    version call with `versions[tool]` (default: the version the script
    fetches); `limits` sets its download limits; `host` is what the stand-in
    `uname` answers to -s and -m (default: this machine's own uname)."""
    bin_dir = tmp_path / "path"
    bin_dir.mkdir(exist_ok=True)
    for utility in (*UTILITIES, *hashers):
        found = shutil.which(utility)
        assert found, f"{utility} is needed by fetch-tools.sh"
        (bin_dir / utility).unlink(missing_ok=True)
        (bin_dir / utility).symlink_to(found)
    stand_ins = [*on_path, *(["uname"] if host else [])]
    if stand_ins:
        (bin_dir / "python3").symlink_to(sys.executable)  # the stand-ins' interpreter
    for tool in stand_ins:
        (bin_dir / tool).unlink(missing_ok=True)
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
        **({"FAKE_UNAME_SYSTEM": host[0], "FAKE_UNAME_MACHINE": host[1]} if host else {}),
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
    arch, _ = ARCH
    assert subprocess.run([str(tools / "minikube")], capture_output=True, text=True).stdout == (
        f"v{MINIKUBE} linux-{arch}\n"
    )


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


def installed_answers(tools: Path) -> dict[str, str]:
    """What each fetched tool prints: the platform its build was published for."""
    return {
        path.name: subprocess.run([str(path)], capture_output=True, text=True, check=True).stdout.strip()
        for path in sorted(tools.iterdir())
    }


# (uname -s, uname -m) of each host the script fetches for, and the build it must pick.
HOSTS = {
    ("Linux", "x86_64"): ("linux", "amd64", "x64"),
    ("Linux", "aarch64"): ("linux", "arm64", "arm64"),
    ("Darwin", "x86_64"): ("darwin", "amd64", "x64"),
    ("Darwin", "arm64"): ("darwin", "arm64", "arm64"),
}


@pytest.mark.parametrize("hashers", [("sha256sum",), ("shasum",)], ids=["sha256sum", "shasum-only"])
@pytest.mark.parametrize("host", list(HOSTS), ids=["-".join(host) for host in HOSTS])
def test_each_host_gets_its_own_builds_checked_with_the_checksum_tool_it_has(
    tmp_path: Path, release_server: tuple[str, Path, list[str]], host: tuple[str, str], hashers: tuple[str, ...]
) -> None:
    base_url, root, requests = release_server
    publish_all(root)
    os_name, arch, pulumi_arch = HOSTS[host]
    result = fetch(tmp_path, base_url, host=host, hashers=hashers)
    assert result.returncode == 0, result.stderr
    assert requests == [
        f"/minikube/v{MINIKUBE}/minikube-{os_name}-{arch}",
        f"/minikube/v{MINIKUBE}/minikube-{os_name}-{arch}.sha256",
        f"/kubectl/v{KUBECTL}/bin/{os_name}/{arch}/kubectl",
        f"/kubectl/v{KUBECTL}/bin/{os_name}/{arch}/kubectl.sha256",
        f"/pulumi/v{PULUMI}/pulumi-v{PULUMI}-{os_name}-{pulumi_arch}.tar.gz",
        f"/pulumi/v{PULUMI}/pulumi-{PULUMI}-checksums.txt",
    ]
    assert installed_answers(tmp_path / "tools") == {
        "kubectl": f"kubectl {os_name}-{arch}",
        "minikube": f"v{MINIKUBE} {os_name}-{arch}",
        "pulumi": f"pulumi {os_name}-{pulumi_arch}",
        "pulumi-language-python": f"pulumi {os_name}-{pulumi_arch}",
    }


def test_on_a_mac_without_sha256sum_a_checksum_mismatch_still_installs_nothing(
    tmp_path: Path, release_server: tuple[str, Path, list[str]]
) -> None:
    base_url, root, _ = release_server
    publish_all(root, kubectl_checksum_of=b"something else")
    result = fetch(tmp_path, base_url, host=("Darwin", "arm64"), hashers=("shasum",))
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()[-1:]
    expected = hashlib.sha256(b"something else").hexdigest()
    actual = hashlib.sha256(b"#!/bin/sh\necho kubectl darwin-arm64\n").hexdigest()
    assert line == (
        f"local-mesh: kubectl v{KUBECTL} failed its SHA-256 check (expected {expected}, got {actual}): not installed"
    )
    assert sorted(path.name for path in (tmp_path / "tools").iterdir()) == [
        "minikube",
        "pulumi",
        "pulumi-language-python",
    ]


@pytest.mark.parametrize("system", ["MINGW64_NT-10.0-22631", "FreeBSD"])
def test_a_system_without_builds_is_refused_one_line_a_tool_before_any_download(
    tmp_path: Path, release_server: tuple[str, Path, list[str]], system: str
) -> None:
    base_url, root, requests = release_server
    publish_all(root)
    result = fetch(tmp_path, base_url, "minikube", host=(system, "x86_64"))
    assert result.returncode == 1
    minimum = {tool: ".".join(str(part) for part in MINIMUM_TOOL_VERSIONS[tool]) for tool in ("kubectl", "pulumi")}
    assert result.stderr.splitlines() == [
        f"local-mesh: no prebuilt {tool} for {system} (local-mesh fetches Linux and macOS builds): "
        f"install {tool} {minimum[tool]} or newer yourself (see docs/prerequisites.md)"
        for tool in ("kubectl", "pulumi")
    ]
    assert requests == []


def test_without_a_checksum_tool_nothing_is_downloaded(
    tmp_path: Path, release_server: tuple[str, Path, list[str]]
) -> None:
    base_url, root, requests = release_server
    publish_all(root)
    result = fetch(tmp_path, base_url, "minikube", "pulumi", host=("Darwin", "arm64"), hashers=())
    assert result.returncode == 1
    minimum = ".".join(str(part) for part in MINIMUM_TOOL_VERSIONS["kubectl"])
    assert result.stderr.splitlines() == [
        "local-mesh: neither sha256sum nor shasum is on PATH to check kubectl: install one (coreutils or perl), "
        f"or install kubectl {minimum} or newer yourself"
    ]
    assert requests == []
