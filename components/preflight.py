"""Pre-flight checks, run before any resource is registered, so that even
`pulumi preview` fails fast with one line per problem and its fix.

`find_problems` is pure (facts in, messages out); `gather_facts` asks the
host's tools; `run_preflight` joins them for __main__.py.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass

import pulumi

from components.footprint import NODE_OVERHEAD, node_needs, total, upgrade_surge
from components.plan import release_plan
from components.settings import MIN_CPUS, MIN_MEMORY_MB, PROJECT, Settings, parse_kubernetes_version

Version = tuple[int, int, int]

# The oldest tool versions local-mesh is built and documented for (README, Prerequisites).
MINIMUM_TOOL_VERSIONS: dict[str, Version] = {
    "docker": (24, 0, 0),
    "minikube": (1, 38, 1),
    "kubectl": (1, 34, 0),
}
INSTALL_HINTS = {
    "docker": "https://docs.docker.com/engine/install/",
    "minikube": "https://minikube.sigs.k8s.io/docs/start/",
    "kubectl": "https://kubernetes.io/docs/tasks/tools/",
}
# Kubernetes minors each Istio minor supports (istio.io, "Supported Releases").
ISTIO_KUBERNETES_SUPPORT: dict[tuple[int, int], tuple[tuple[int, int], tuple[int, int]]] = {
    (1, 31): ((1, 32), (1, 36)),
}
# The oldest Kubernetes minikube v1.38 starts.
MINIKUBE_OLDEST_KUBERNETES: Version = (1, 28, 0)
# minikube warns when a node leaves the host less than this.
SYSTEM_OVERHEAD_MB = 1024
_VERSION = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?")


class PreflightError(RuntimeError):
    """One line per problem, each with its fix."""


@dataclass(frozen=True)
class HostFacts:
    tool_versions: dict[str, str | None]  # None: not on PATH or did not answer
    docker_daemon_error: str | None  # None: the daemon answered (or is not needed)
    memory_mb: int | None  # what the driver can give a node
    cpus: int | None


def parse_version(text: str) -> Version | None:
    match = _VERSION.search(text)
    if not match:
        return None
    major, minor, patch = match.groups()
    return int(major), int(minor), int(patch or 0)


def _dotted(version: tuple[int, ...]) -> str:
    return ".".join(str(part) for part in version)


def tools_needed(driver: str) -> list[str]:
    return ["minikube", "kubectl", *(["docker"] if driver == "docker" else [])]


def find_problems(settings: Settings, facts: HostFacts) -> tuple[list[str], list[str]]:
    """(errors, warnings) for these settings on this host."""
    errors: list[str] = []
    warnings: list[str] = []

    for tool in tools_needed(settings.driver):
        minimum = MINIMUM_TOOL_VERSIONS[tool]
        found = facts.tool_versions.get(tool)
        version = parse_version(found) if found else None
        if found is None:
            errors.append(f"{tool} is not on PATH: install {tool} {_dotted(minimum)} or newer ({INSTALL_HINTS[tool]})")
        elif version is None or version < minimum:
            errors.append(f"{tool} {found} is too old: local-mesh needs {_dotted(minimum)} or newer")
    if settings.driver == "docker" and facts.docker_daemon_error:
        errors.append(f"the Docker daemon does not answer ({facts.docker_daemon_error}): start Docker and try again")

    if facts.memory_mb is not None:
        room = facts.memory_mb - SYSTEM_OVERHEAD_MB
        if settings.memory_mb > facts.memory_mb:
            fix = (
                f"set it between {MIN_MEMORY_MB} and {room} MB"
                if room >= MIN_MEMORY_MB
                else (
                    f"minikube needs {MIN_MEMORY_MB} MB and the host {SYSTEM_OVERHEAD_MB} MB, "
                    f"so give {settings.driver} more"
                )
            )
            errors.append(
                f"{PROJECT}:memory asks for {settings.memory_mb} MB but the {settings.driver} driver has "
                f"{facts.memory_mb} MB: {fix}"
            )
        elif settings.memory_mb > room:
            warnings.append(
                f"{PROJECT}:memory {settings.memory_mb} MB leaves less than {SYSTEM_OVERHEAD_MB} MB of the host's "
                f"{facts.memory_mb} MB for the system (minikube warns about this too): consider {room} MB or less"
            )
    if facts.cpus is not None and settings.cpus > facts.cpus:
        fix = (
            f"set it between {MIN_CPUS} and {facts.cpus}"
            if facts.cpus >= MIN_CPUS
            else f"minikube needs {MIN_CPUS}, so give {settings.driver} more CPUs"
        )
        errors.append(
            f"{PROJECT}:cpus asks for {settings.cpus} CPUs but the {settings.driver} driver has {facts.cpus}: {fix}"
        )

    plan = release_plan(settings)
    needed_cpus, needed_memory_mb = node_needs(settings, plan)
    mesh = f"istioProfile {settings.istio_profile} with resources {settings.resources}"
    if settings.cpus < needed_cpus or settings.memory_mb < needed_memory_mb:
        errors.append(
            f"{PROJECT}:cpus {settings.cpus} / {PROJECT}:memory {settings.memory_mb} MB cannot hold {mesh}: "
            f"it needs at least {needed_cpus} CPUs and {needed_memory_mb} MB (the mesh requests "
            f"{total(settings, plan)}, a rolling upgrade {upgrade_surge(plan)} more, "
            f"Kubernetes itself about {NODE_OVERHEAD})"
        )

    kubernetes = parse_kubernetes_version(settings.kubernetes_version)
    istio = parse_version(settings.istio_version)
    support = ISTIO_KUBERNETES_SUPPORT.get(istio[:2]) if istio else None
    if kubernetes < MINIKUBE_OLDEST_KUBERNETES:
        errors.append(
            f"{PROJECT}:kubernetesVersion {settings.kubernetes_version} is older than minikube accepts: "
            f"use v{_dotted(MINIKUBE_OLDEST_KUBERNETES)} or newer"
        )
    elif support is None:
        warnings.append(
            f"{PROJECT}:istioVersion {settings.istio_version}: local-mesh does not know which Kubernetes versions "
            f"it supports, so {settings.kubernetes_version} is not checked"
        )
    elif not support[0] <= kubernetes[:2] <= support[1]:
        low, high = (_dotted(bound) for bound in support)
        errors.append(
            f"{PROJECT}:kubernetesVersion {settings.kubernetes_version} is not supported by Istio "
            f"{settings.istio_version}: use a v{low}.x to v{high}.x release"
        )
    return errors, warnings


def _answer(command: list[str]) -> str | None:
    if shutil.which(command[0]) is None:
        return None
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def _kubectl_version() -> str | None:
    answer = _answer(["kubectl", "version", "--client", "--output=json"])
    if answer is None:
        return None
    try:
        return str(json.loads(answer)["clientVersion"]["gitVersion"])
    except (ValueError, KeyError, TypeError):
        return None


def gather_facts(driver: str) -> HostFacts:
    """Ask the host's tools. Read-only: nothing is started or changed."""
    versions = {
        "minikube": _answer(["minikube", "version", "--short"]),
        "kubectl": _kubectl_version(),
        "docker": _answer(["docker", "version", "--format={{.Client.Version}}"]) if driver == "docker" else None,
    }
    daemon_error = None
    memory_mb: int | None = None
    cpus: int | None = None
    if driver == "docker" and versions["docker"] is not None:
        try:
            result = subprocess.run(
                ["docker", "info", "--format={{.MemTotal}} {{.NCPU}}"], capture_output=True, text=True, timeout=30
            )
        except subprocess.TimeoutExpired:
            result = subprocess.CompletedProcess([], 1, "", "no answer within 30 s")
        if result.returncode != 0:
            daemon_error = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "no answer"
        else:
            memory_bytes, cpu_count = result.stdout.split()
            memory_mb, cpus = int(memory_bytes) // 1024**2, int(cpu_count)
    elif driver != "docker":
        memory_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 1024**2
        cpus = os.cpu_count()
    return HostFacts(versions, daemon_error, memory_mb, cpus)


def run_preflight(settings: Settings) -> None:
    """Warn, or stop the program with every problem found, before any resource exists."""
    if not settings.preflight:
        pulumi.log.info(f"{PROJECT}: pre-flight checks skipped ({PROJECT}:preflight is false)")
        return
    errors, warnings = find_problems(settings, gather_facts(settings.driver))
    for warning in warnings:
        pulumi.log.warn(warning)
    if errors:
        lines = "\n".join(f"  - {error}" for error in errors)
        raise PreflightError(f"pre-flight checks failed (set {PROJECT}:preflight to false to skip them):\n{lines}")
