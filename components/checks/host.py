"""Host checks: the tools a stack needs, at versions local-mesh runs with,
and a Docker daemon and driver large enough for the nodes and the mesh.

`find_problems` is pure (facts in, messages out); `gather_facts` asks the
host's tools through the one process door (components/checks/process.py).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from components.checks.process import ProcessError, run_process
from components.model.footprint import NODE_OVERHEAD, node_needs, total, upgrade_surge
from components.model.network import is_docker_desktop
from components.model.plan import Plan
from components.model.settings import MIN_CPUS, MIN_MEMORY_MB, PROJECT, Settings, dotted, istio_kubernetes_support

Version = tuple[int, int, int]

# The oldest and the fetched version of each tool, shared with tools/fetch-tools.sh.
TOOL_VERSIONS_FILE = Path(__file__).parent.parent / "tool-versions.env"
INSTALL_HINTS = {
    "docker": "https://docs.docker.com/engine/install/",
    "minikube": "https://minikube.sigs.k8s.io/docs/start/",
    "kubectl": "https://kubernetes.io/docs/tasks/tools/",
    "pulumi": "https://www.pulumi.com/docs/install/",
}
# Where `make up` gets a newer tool (tools/fetch-tools.sh).
UPGRADE_HINTS = {
    "pulumi": "run it with `make up`, which fetches the pinned pulumi into .tools/bin",
}
# minikube warns when a node leaves the host less than this.
SYSTEM_OVERHEAD_MB = 1024
# On Docker Desktop (components/model/network.py, is_docker_desktop) `docker
# info`'s MemTotal and NCPU are its VM's, set in Docker Desktop's settings, not
# the computer's (minikube's RSRC_DOCKER_MEMORY advice, pkg/minikube/reason/reason.go, v1.38.1).
DOCKER_DESKTOP_RESOURCES = "Docker Desktop's Settings > Resources"
_VERSION = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?")


@dataclass(frozen=True)
class HostFacts:
    tool_versions: dict[str, str | None]  # None: not on PATH or did not answer
    docker_daemon_error: str | None  # None: the daemon answered (or is not needed)
    memory_mb: int | None  # what the driver can give a node
    cpus: int | None
    docker_desktop: bool = False  # the daemon is Docker Desktop's: memory_mb and cpus are its VM's


def parse_version(text: str) -> Version | None:
    match = _VERSION.search(text)
    if not match:
        return None
    major, minor, patch = match.groups()
    return int(major), int(minor), int(patch or 0)


def read_tool_versions(text: str) -> dict[str, str]:
    """tool-versions.env: KEY=VALUE lines and # comments."""
    lines = (line.strip() for line in text.splitlines())
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def minimum_versions(versions: dict[str, str]) -> dict[str, Version]:
    """Each tool's oldest version local-mesh runs with (README, Prerequisites), from its <TOOL>_MINIMUM."""
    suffix = "_MINIMUM"
    return {
        key.removesuffix(suffix).lower(): version
        for key, value in versions.items()
        if key.endswith(suffix) and (version := parse_version(value)) is not None
    }


MINIMUM_TOOL_VERSIONS = minimum_versions(read_tool_versions(TOOL_VERSIONS_FILE.read_text()))


def tools_needed(settings: Settings) -> list[str]:
    if not settings.on_minikube:
        return ["pulumi", "kubectl"]
    return ["pulumi", "minikube", "kubectl", *(["docker"] if settings.driver == "docker" else [])]


def find_problems(settings: Settings, plan: Plan, facts: HostFacts) -> tuple[list[str], list[str]]:
    """(errors, warnings) for these settings on this host."""
    errors: list[str] = []
    warnings: list[str] = []

    for tool in tools_needed(settings):
        minimum = MINIMUM_TOOL_VERSIONS[tool]
        found = facts.tool_versions.get(tool)
        version = parse_version(found) if found else None
        if found is None:
            errors.append(f"{tool} is not on PATH: install {tool} {dotted(minimum)} or newer ({INSTALL_HINTS[tool]})")
        elif version is None or version < minimum:
            upgrade = f": {UPGRADE_HINTS[tool]}" if tool in UPGRADE_HINTS else ""
            errors.append(f"{tool} {found} is too old: local-mesh needs {dotted(minimum)} or newer{upgrade}")
    if not settings.on_minikube:
        # The cluster's own size and version are checked by cluster_problems.
        return errors, warnings
    if settings.driver == "docker" and facts.docker_daemon_error:
        errors.append(f"the Docker daemon does not answer ({facts.docker_daemon_error}): start Docker and try again")

    # Every node is a container (or VM) of `memory` and `cpus` of its own: with
    # the docker driver `docker run --memory=M --cpus=C` per node
    # (minikube pkg/drivers/kic/oci/oci.go:219,256 at v1.38.1). Memory limits
    # add up on the host; a --cpus limit caps a container's share of the
    # host's CPUs and reserves none (docs.docker.com, "Resource constraints").
    # Several clusters (`clusters`, one node each) share the host alike.
    nodes = settings.nodes * settings.clusters
    counted = f"{PROJECT}:clusters {nodes}" if settings.clusters > 1 else f"{PROJECT}:nodes {nodes}"
    # On Docker Desktop the sizes are its VM's, which the user raises in its settings.
    if facts.docker_desktop:
        holder, hosts = "Docker Desktop's VM (not this computer)", "Docker Desktop's VM's"
        more_memory = f"give the VM more memory in {DOCKER_DESKTOP_RESOURCES}"
        more_cpus = f"give the VM more CPUs in {DOCKER_DESKTOP_RESOURCES}"
        also = f", or give the VM more in {DOCKER_DESKTOP_RESOURCES}"
    else:
        holder, hosts = f"the {settings.driver} driver", "the host's"
        more_memory, more_cpus, also = f"give {settings.driver} more", f"give {settings.driver} more CPUs", ""
    if facts.memory_mb is not None:
        room = facts.memory_mb - SYSTEM_OVERHEAD_MB
        asked_mb = nodes * settings.memory_mb
        if nodes == 1:
            asked, memory = f"{PROJECT}:memory asks for {asked_mb} MB", f"{PROJECT}:memory {asked_mb} MB"
        else:
            asked = f"{counted} x {PROJECT}:memory {settings.memory_mb} MB ask for {asked_mb} MB"
            memory = f"{counted} x {PROJECT}:memory {settings.memory_mb} MB = {asked_mb} MB"
        if asked_mb > facts.memory_mb:
            if room // nodes >= MIN_MEMORY_MB:
                fix = f"set {'it' if nodes == 1 else 'memory'} between {MIN_MEMORY_MB} and {room // nodes} MB{also}"
            elif room >= MIN_MEMORY_MB:
                fewer = "clusters" if settings.clusters > 1 else "nodes"
                fix = f"minikube needs {MIN_MEMORY_MB} MB a node: set {fewer} to at most {room // MIN_MEMORY_MB}{also}"
            else:
                fix = f"minikube needs {MIN_MEMORY_MB} MB and the host {SYSTEM_OVERHEAD_MB} MB, so {more_memory}"
            errors.append(f"{asked} but {holder} has {facts.memory_mb} MB: {fix}")
        elif asked_mb > room:
            warnings.append(
                f"{memory} leaves less than {SYSTEM_OVERHEAD_MB} MB of {hosts} "
                f"{facts.memory_mb} MB for the system (minikube warns about this too): "
                f"consider {room // nodes} MB{' a node' if nodes > 1 else ''} or less{also}"
            )
    if facts.cpus is not None and settings.cpus <= facts.cpus < nodes * settings.cpus:
        # The nodes still start, but Kubernetes then schedules more than the host has.
        warnings.append(
            f"{counted} x {PROJECT}:cpus {settings.cpus} = {nodes * settings.cpus} CPUs, but "
            f"{holder} has {facts.cpus}: the nodes share them, so Kubernetes counts "
            f"{nodes * settings.cpus} CPUs that are not there; consider fewer nodes{also}"
        )
    if facts.cpus is not None and settings.cpus > facts.cpus:
        fix = (
            f"set it between {MIN_CPUS} and {facts.cpus}{also}"
            if facts.cpus >= MIN_CPUS
            else f"minikube needs {MIN_CPUS}, so {more_cpus}"
        )
        errors.append(f"{PROJECT}:cpus asks for {settings.cpus} CPUs but {holder} has {facts.cpus}: {fix}")

    needed_cpus, needed_memory_mb = node_needs(settings, plan)
    mesh = f"istioProfile {settings.istio_profile} with resources {settings.resources}"
    each = ""
    if settings.nodes > 1:
        mesh, each = f"{mesh} on {settings.nodes} nodes", " per node"
    if settings.cpus < needed_cpus or settings.memory_mb < needed_memory_mb:
        errors.append(
            f"{PROJECT}:cpus {settings.cpus} / {PROJECT}:memory {settings.memory_mb} MB cannot hold {mesh}: "
            f"it needs at least {needed_cpus} CPUs and {needed_memory_mb} MB{each} (the mesh requests "
            f"{total(settings, plan)}, a rolling upgrade {upgrade_surge(plan)} more, "
            f"Kubernetes itself about {NODE_OVERHEAD})"
        )

    # parse_settings refused a Kubernetes version outside a known Istio range.
    if istio_kubernetes_support(settings.istio_version) is None:
        warnings.append(
            f"{PROJECT}:istioVersion {settings.istio_version}: local-mesh does not know which Kubernetes versions "
            f"it supports, so {settings.kubernetes_version} is not checked"
        )
    return errors, warnings


def _stdout_on_success(command: list[str]) -> str | None:
    """The tool's answer when it succeeds; None if it is missing, fails or does not answer in time."""
    try:
        result = run_process(command)
    except ProcessError:
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def _docker_client_version() -> str | None:
    # `docker version` prints the client's fields and then exits 1 when the
    # daemon does not answer (docker/cli cli/command/system/version.go:212-229,
    # TestVersionWithoutServer): the client version is stdout, whatever the exit code.
    try:
        result = run_process(["docker", "version", "--format={{.Client.Version}}"])
    except ProcessError:
        return None
    return result.stdout.strip() or None


def _kubectl_version() -> str | None:
    answer = _stdout_on_success(["kubectl", "version", "--client", "--output=json"])
    if answer is None:
        return None
    try:
        return str(json.loads(answer)["clientVersion"]["gitVersion"])
    except (ValueError, KeyError, TypeError):
        return None


def gather_facts(settings: Settings) -> HostFacts:
    """Ask the host's tools that these settings need. Read-only: nothing is started or changed."""
    answers = {
        # `pulumi version` prints e.g. v3.272.0 (pulumi/pulumi pkg/cmd/pulumi/version/version.go).
        "pulumi": lambda: _stdout_on_success(["pulumi", "version"]),
        "minikube": lambda: _stdout_on_success(["minikube", "version", "--short"]),
        "kubectl": _kubectl_version,
        "docker": _docker_client_version,
    }
    needed = tools_needed(settings)
    versions = {tool: ask() if tool in needed else None for tool, ask in answers.items()}
    daemon_error = None
    memory_mb: int | None = None
    cpus: int | None = None
    docker_desktop = False
    if "docker" in needed and versions["docker"] is not None:
        # Without a daemon this prints "0 0 " and exits 1 with the connection
        # error on stderr (docker/cli cli/command/system/info.go:85-113).
        # OperatingSystem last: it holds spaces ("Debian GNU/Linux 12 (bookworm)").
        try:
            result = run_process(["docker", "info", "--format={{.MemTotal}} {{.NCPU}} {{.OperatingSystem}}"])
        except ProcessError as problem:
            daemon_error = str(problem)
        else:
            if result.returncode != 0:
                daemon_error = result.complaint
            else:
                memory_bytes, cpu_count, *operating_system = result.stdout.split(maxsplit=2)
                memory_mb, cpus = int(memory_bytes) // 1024**2, int(cpu_count)
                docker_desktop = is_docker_desktop(" ".join(operating_system))
    elif settings.on_minikube and settings.driver != "docker":
        memory_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 1024**2
        cpus = os.cpu_count()
    return HostFacts(versions, daemon_error, memory_mb, cpus, docker_desktop)
