"""Pre-flight checks, run before any resource is registered, so that even
`pulumi preview` fails fast with one line per problem and its fix.

`find_problems` is pure (facts in, messages out); `gather_facts` asks the
host's tools. Likewise `index_problems` is pure (a chart repository's
index.yaml and the versions wanted in, messages out) and
`published_chart_problems` reads each repository's index once. `run_preflight`
joins them for __main__.py.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, replace
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import pulumi
import yaml

from components.discovery import BUNDLE_VERSION_ANNOTATION
from components.model.footprint import NODE_OVERHEAD, cluster_requests, node_needs, total, upgrade_surge
from components.model.network import HostNetworks, describe_network_pool, network_holding
from components.model.parts.istio import GATEWAY_API_CRDS_URL, GATEWAY_API_VERSION, ISTIO_NAMESPACE
from components.model.parts.metallb import METALLB_NAMESPACE
from components.model.parts.sample import SAMPLE_NAMESPACE
from components.model.plan import Plan, release_plan
from components.model.release import NO_REQUESTS, Requests
from components.model.settings import (
    MIN_CPUS,
    MIN_MEMORY_MB,
    OBSERVABILITY_LEVELS,
    PROJECT,
    NodeConfigError,
    Settings,
    address_pool_on_node,
    dotted,
    istio_kubernetes_support,
    shell_word,
)
from components.shell import INTERPRETER, parse_host_networks, script

Version = tuple[int, int, int]

# The oldest and the fetched version of each tool, shared with tools/fetch-tools.sh.
TOOL_VERSIONS_FILE = Path(__file__).parent / "tool-versions.env"
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
_VERSION = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?")
_CHART_VERSION = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?$")
INDEX_TIMEOUT_SECONDS = 10
SUGGESTED_VERSIONS = 3
# Tests only (tests/harness.py): the base URL of a loopback server that serves
# each chart repository's index at /<host><path>/index.yaml, and every other
# download pre-flight checks at /<host><path>. The program never sets it;
# unset, the real repositories are read.
TEST_CHART_MIRROR = "LOCAL_MESH_TEST_CHART_MIRROR"


class PreflightError(pulumi.RunError):
    """One line per problem, each with its fix; a RunError, so the CLI shows
    these lines alone, without a traceback (see settings.ConfigError)."""


@dataclass(frozen=True)
class HostFacts:
    tool_versions: dict[str, str | None]  # None: not on PATH or did not answer
    docker_daemon_error: str | None  # None: the daemon answered (or is not needed)
    memory_mb: int | None  # what the driver can give a node
    cpus: int | None


@dataclass(frozen=True)
class ChartSource:
    """One chart the stack installs: the config key holding its version, and where Helm fetches it."""

    key: str
    repository: str
    chart: str
    version: str


@dataclass(frozen=True)
class NodeFacts:
    name: str
    internal_ip: str | None
    allocatable: Requests


@dataclass(frozen=True)
class ClusterFacts:
    """What an existing cluster's API server says, through the stack's context."""

    error: str | None  # kubectl's own words when the context is missing or the server does not answer
    server_version: str | None  # serverVersion.gitVersion, e.g. v1.33.1 or v1.31.4+k3s1
    nodes: tuple[NodeFacts, ...]
    # What the pods already running there request, outside local-mesh's own
    # namespaces; None when the API would not list them (RBAC, for one).
    running: Requests | None = None


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
    nodes = settings.nodes
    if facts.memory_mb is not None:
        room = facts.memory_mb - SYSTEM_OVERHEAD_MB
        asked_mb = nodes * settings.memory_mb
        if nodes == 1:
            asked, memory = f"{PROJECT}:memory asks for {asked_mb} MB", f"{PROJECT}:memory {asked_mb} MB"
        else:
            asked = f"{PROJECT}:nodes {nodes} x {PROJECT}:memory {settings.memory_mb} MB ask for {asked_mb} MB"
            memory = f"{PROJECT}:nodes {nodes} x {PROJECT}:memory {settings.memory_mb} MB = {asked_mb} MB"
        if asked_mb > facts.memory_mb:
            if room // nodes >= MIN_MEMORY_MB:
                fix = f"set {'it' if nodes == 1 else 'memory'} between {MIN_MEMORY_MB} and {room // nodes} MB"
            elif room >= MIN_MEMORY_MB:
                fix = f"minikube needs {MIN_MEMORY_MB} MB a node: set nodes to at most {room // MIN_MEMORY_MB}"
            else:
                fix = (
                    f"minikube needs {MIN_MEMORY_MB} MB and the host {SYSTEM_OVERHEAD_MB} MB, "
                    f"so give {settings.driver} more"
                )
            errors.append(f"{asked} but the {settings.driver} driver has {facts.memory_mb} MB: {fix}")
        elif asked_mb > room:
            warnings.append(
                f"{memory} leaves less than {SYSTEM_OVERHEAD_MB} MB of the host's "
                f"{facts.memory_mb} MB for the system (minikube warns about this too): "
                f"consider {room // nodes} MB{' a node' if nodes > 1 else ''} or less"
            )
    if facts.cpus is not None and settings.cpus <= facts.cpus < nodes * settings.cpus:
        # The nodes still start, but Kubernetes then schedules more than the host has.
        warnings.append(
            f"{PROJECT}:nodes {nodes} x {PROJECT}:cpus {settings.cpus} = {nodes * settings.cpus} CPUs, but the "
            f"{settings.driver} driver has {facts.cpus}: the nodes share them, so Kubernetes counts "
            f"{nodes * settings.cpus} CPUs that are not there; consider fewer nodes"
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


def _run(command: list[str]) -> subprocess.CompletedProcess[str] | None:
    """The tool's answer, or None if it is not on PATH or does not answer in time."""
    if shutil.which(command[0]) is None:
        return None
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None


def _answer(command: list[str]) -> str | None:
    result = _run(command)
    return result.stdout.strip() if result is not None and result.returncode == 0 else None


def _docker_client_version() -> str | None:
    # `docker version` prints the client's fields and then exits 1 when the
    # daemon does not answer (docker/cli cli/command/system/version.go:212-229,
    # TestVersionWithoutServer): the client version is stdout, whatever the exit code.
    result = _run(["docker", "version", "--format={{.Client.Version}}"])
    return (result.stdout.strip() or None) if result is not None else None


def _kubectl_version() -> str | None:
    answer = _answer(["kubectl", "version", "--client", "--output=json"])
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
        "pulumi": lambda: _answer(["pulumi", "version"]),
        "minikube": lambda: _answer(["minikube", "version", "--short"]),
        "kubectl": _kubectl_version,
        "docker": _docker_client_version,
    }
    needed = tools_needed(settings)
    versions = {tool: ask() if tool in needed else None for tool, ask in answers.items()}
    daemon_error = None
    memory_mb: int | None = None
    cpus: int | None = None
    if "docker" in needed and versions["docker"] is not None:
        # Without a daemon this prints "0 0" and exits 1 with the connection
        # error on stderr (docker/cli cli/command/system/info.go:85-113).
        result = _run(["docker", "info", "--format={{.MemTotal}} {{.NCPU}}"])
        if result is None:
            daemon_error = "no answer within 30 s"
        elif result.returncode != 0:
            daemon_error = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "no answer"
        else:
            memory_bytes, cpu_count = result.stdout.split()
            memory_mb, cpus = int(memory_bytes) // 1024**2, int(cpu_count)
    elif settings.on_minikube and settings.driver != "docker":
        memory_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 1024**2
        cpus = os.cpu_count()
    return HostFacts(versions, daemon_error, memory_mb, cpus)


# Kubernetes quantity suffixes (k8s.io/apimachinery pkg/api/resource/quantity.go:
# binarySI Ki..Ei, decimalSI m, k, M..E, or none).
_QUANTITY = re.compile(r"^(\d+(?:\.\d+)?)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")
_QUANTITY_FACTORS: dict[str | None, float] = {
    None: 1,
    "m": 0.001,
    **{suffix: 1000**power for power, suffix in enumerate("kMGTPE", start=1)},
    **{f"{suffix}i": 1024**power for power, suffix in enumerate("KMGTPE", start=1)},
}


def parse_quantity(text: str) -> float:
    """A Kubernetes quantity (`7910m`, `8`, `16318444Ki`, `15Gi`) as a plain number."""
    match = _QUANTITY.match(str(text).strip())
    if not match:
        raise ValueError(f"unreadable quantity {text!r}")
    return float(match.group(1)) * _QUANTITY_FACTORS[match.group(2)]


def read_nodes(node_list: dict[str, Any]) -> tuple[NodeFacts, ...]:
    """`kubectl get nodes -o json`: each node's InternalIP (status.addresses) and
    allocatable CPU and memory (status.allocatable; k8s.io/api core/v1 types.go, NodeStatus)."""
    nodes = []
    for item in node_list.get("items") or []:
        status = item.get("status") or {}
        internal = [a["address"] for a in status.get("addresses") or [] if a.get("type") == "InternalIP"]
        allocatable = status.get("allocatable") or {}
        nodes.append(
            NodeFacts(
                name=item["metadata"]["name"],
                internal_ip=internal[0] if internal else None,
                allocatable=Requests(
                    int(parse_quantity(allocatable.get("cpu", "0")) * 1000),
                    int(parse_quantity(allocatable.get("memory", "0")) // 1024**2),
                ),
            )
        )
    return tuple(nodes)


# local-mesh's own namespaces on an existing cluster (README, "Other clusters"):
# what runs there is the mesh, which the check counts as what it needs.
OWN_NAMESPACES = (ISTIO_NAMESPACE, METALLB_NAMESPACE, SAMPLE_NAMESPACE)


def _container_requests(container: dict[str, Any]) -> tuple[float, float]:
    """A container's requests: CPU in cores, memory in bytes (k8s.io/api core/v1 ResourceRequirements)."""
    requests = (container.get("resources") or {}).get("requests") or {}
    return parse_quantity(requests.get("cpu", "0")), parse_quantity(requests.get("memory", "0"))


def pod_requests(pod: dict[str, Any]) -> Requests:
    """What the scheduler counts for a pod (k8s.io/component-helpers resource/helpers.go,
    PodRequests): its containers added up, or the largest init container if more,
    where sidecars (init containers with restartPolicy Always) run beside both;
    plus spec.overhead. Each resource on its own."""
    spec = pod.get("spec") or {}
    main = [0.0, 0.0]
    for container in spec.get("containers") or []:
        main = [total + part for total, part in zip(main, _container_requests(container), strict=True)]
    sidecars, init = [0.0, 0.0], [0.0, 0.0]
    for container in spec.get("initContainers") or []:
        own = _container_requests(container)
        if container.get("restartPolicy") == "Always":
            main = [total + part for total, part in zip(main, own, strict=True)]
            sidecars = [total + part for total, part in zip(sidecars, own, strict=True)]
            running_now = sidecars
        else:
            running_now = [part + beside for part, beside in zip(own, sidecars, strict=True)]
        init = [max(most, now) for most, now in zip(init, running_now, strict=True)]
    overhead = spec.get("overhead") or {}
    cpu = max(main[0], init[0]) + parse_quantity(overhead.get("cpu", "0"))
    memory = max(main[1], init[1]) + parse_quantity(overhead.get("memory", "0"))
    return Requests(math.ceil(round(cpu * 1000, 6)), math.ceil(memory / 1024**2))


def running_requests(pod_list: dict[str, Any]) -> Requests:
    """`kubectl get pods --all-namespaces -o json`: what the pods the scheduler
    placed on a node and that have not finished request, outside OWN_NAMESPACES."""
    return sum(
        (
            pod_requests(pod)
            for pod in pod_list.get("items") or []
            if (pod.get("metadata") or {}).get("namespace") not in OWN_NAMESPACES
            and (pod.get("spec") or {}).get("nodeName")
            and (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
        ),
        NO_REQUESTS,
    )


def gather_cluster_facts(context: str) -> ClusterFacts:
    """Ask the API server of this one context (never the current one). Read-only."""

    def kubectl(*words: str) -> tuple[dict[str, Any] | None, str | None]:
        # --request-timeout: a global kubectl flag (k8s.io/cli-runtime
        # pkg/genericclioptions/config_flags.go, flagTimeout), so a server that
        # does not answer fails in seconds, not minutes.
        result = _run(["kubectl", *words, f"--context={context}", "--output=json", "--request-timeout=10s"])
        if result is None:
            return None, "kubectl did not answer within 30 s"
        if result.returncode != 0:
            lines = result.stderr.strip().splitlines()
            return None, lines[-1] if lines else f"kubectl exited {result.returncode}"
        return json.loads(result.stdout), None

    # `kubectl version` prints the client's JSON even when the server does not
    # answer, then fails (kubectl pkg/cmd/version/version.go:125-180 at v0.35.0).
    version, error = kubectl("version")
    if error is not None:
        return ClusterFacts(error, None, ())
    node_list, error = kubectl("get", "nodes")
    pod_list, pods_error = kubectl("get", "pods", "--all-namespaces")
    server = (version or {}).get("serverVersion") or {}
    running = running_requests(pod_list) if pod_list is not None and pods_error is None else None
    return ClusterFacts(error, server.get("gitVersion"), read_nodes(node_list or {}), running)


def _fits(need: Requests, free: Requests) -> bool:
    return need.cpu_millis <= free.cpu_millis and need.memory_mib <= free.memory_mib


def _needs_on(settings: Settings, nodes: int) -> Requests:
    """What the mesh these settings install requests on `nodes` nodes, a rolling upgrade included."""
    plan = release_plan(settings)
    return cluster_requests(settings, plan, nodes) + upgrade_surge(plan)


def _lighter_choices(settings: Settings, nodes: int, free: Requests) -> list[str]:
    """The one-key changes that make the mesh fit in `free` (smaller requests, fewer dashboards)."""
    choices = []
    if settings.resources != "lean":
        choices.append(("resources lean", replace(settings, resources="lean")))
    # OBSERVABILITY_LEVELS runs from the most dashboards to none.
    for level in OBSERVABILITY_LEVELS[OBSERVABILITY_LEVELS.index(settings.observability) + 1 :]:
        choices.append((f"observability {level}", replace(settings, observability=level)))
    return [label for label, lighter in choices if _fits(_needs_on(lighter, nodes), free)]


def cluster_problems(
    settings: Settings, plan: Plan, facts: ClusterFacts, host: HostNetworks | None = None
) -> list[str]:
    """An existing cluster: reachable through the stack's context, a Kubernetes
    version Istio supports, nodes whose allocatable CPU and memory hold the mesh,
    and a node address for MetalLB's pool (on `host`'s docker networks)."""
    context = f"{PROJECT}:kubeContext {shell_word(settings.kube_context)}"
    if facts.error is not None:
        return [
            f"{context} cannot be reached ({facts.error}): check the context with "
            f"`kubectl --context {shell_word(settings.kube_context)} get nodes`"
        ]
    problems = []
    version = parse_version(facts.server_version or "")
    support = istio_kubernetes_support(settings.istio_version)
    if version is None:
        problems.append(f"{context}: the API server reports no readable version ({facts.server_version!r})")
    elif support is not None and not support[0] <= version[:2] <= support[1]:
        low, high = (dotted(bound) for bound in support)
        problems.append(
            f"{context} runs Kubernetes {facts.server_version}, but Istio {settings.istio_version} supports "
            f"v{low}.x to v{high}.x: pick another istioVersion or cluster"
        )
    if not facts.nodes:
        return [*problems, f"{context} has no nodes to run the mesh on"]
    count = len(facts.nodes)
    need = cluster_requests(settings, plan, count) + upgrade_surge(plan)
    have = sum((node.allocatable for node in facts.nodes), NO_REQUESTS)
    running = facts.running or NO_REQUESTS
    free = Requests(have.cpu_millis - running.cpu_millis, have.memory_mib - running.memory_mib)
    if not _fits(need, free):
        already = f", of which the pods already running there request {running}" if running != NO_REQUESTS else ""
        lighter = _lighter_choices(settings, count, free)
        fix = f"set {' or '.join(lighter)}, or add nodes" if lighter else "add nodes, or larger ones"
        problems.append(
            f"{context}: its {count} node{'' if count == 1 else 's'} can allocate {have}{already}, but istioProfile "
            f"{settings.istio_profile} with resources {settings.resources} and observability "
            f"{settings.observability} requests {need} (a rolling upgrade included): {fix}"
        )
    if settings.metallb:
        first = facts.nodes[0]
        if first.internal_ip is None:
            problems.append(f"{context}: node {first.name} has no InternalIP to carve MetalLB's address pool from")
        else:
            try:
                cluster_addresses = {IPv4Address(node.internal_ip) for node in facts.nodes if node.internal_ip}
                address_pool_on_node(settings, first.internal_ip, host, cluster_addresses)
            except NodeConfigError as problem:
                problems.append(str(problem))
    return problems


def gather_host_networks() -> HostNetworks:
    """This host's docker networks, read by the script the program runs for MetalLB's pool."""
    result = _run([*INTERPRETER, script("docker-networks.sh")])
    if result is None or result.returncode != 0:
        return HostNetworks((), "docker-networks.sh did not answer")
    return parse_host_networks(result.stdout)


def pool_note(settings: Settings, facts: ClusterFacts, host: HostNetworks) -> str | None:
    """Which addresses MetalLB takes on the docker network that holds the first node, if one does."""
    node_ip = facts.nodes[0].internal_ip if facts.nodes else None
    network = network_holding(node_ip, host) if node_ip else None
    if node_ip is None or network is None:
        return None
    try:
        pool = address_pool_on_node(settings, node_ip, host)
    except NodeConfigError:
        return None  # cluster_problems says why
    return f"{PROJECT}: {describe_network_pool(pool, node_ip, network, settings.address_pool is not None)}"


def chart_sources(plan: Plan) -> list[ChartSource]:
    """The charts this stack installs, each once, with the version its config asks for."""
    return list(dict.fromkeys(ChartSource(r.version_key, r.repository, r.chart, r.version) for r in plan.releases))


def _chart_version_order(text: str) -> tuple[int, int, int, int, str] | None:
    """SemVer order, a pre-release below its release; None for a version that is not SemVer."""
    match = _CHART_VERSION.match(text)
    if not match:
        return None
    major, minor, patch, prerelease = match.groups()
    return int(major), int(minor), int(patch), 0 if prerelease else 1, prerelease or ""


def _newest(versions: Iterable[str], like: str) -> str:
    """The newest releases of `like`'s minor (or the newest overall), for a message."""
    releases = sorted(
        (order, version)
        for version in versions
        if (order := _chart_version_order(version)) is not None and order[3] == 1
    )
    if not releases:
        return "it lists no release"
    major, minor = like.split(".")[:2]
    same_minor = [item for item in releases if item[0][:2] == (int(major), int(minor))]
    scope = f"the newest {major}.{minor}.x releases" if same_minor else "the newest releases"
    newest = [version for _, version in reversed(same_minor or releases)][:SUGGESTED_VERSIONS]
    return f"{scope} there are {', '.join(newest)}"


def _asked(key: str, version: str) -> str:
    """Who asked for a version: a config key holding it (metallbVersion,
    istioVersion), or a version the plan pins for a config key (the addons)."""
    if key.endswith("Version"):
        return f"{PROJECT}:{key} = {version!r}"
    return f"version {version!r}, which local-mesh pins for {PROJECT}:{key},"


def index_problems(index_text: str, url: str, sources: list[ChartSource]) -> list[str]:
    """Each wanted chart version that the repository index at `url` does not list; one line per
    config value. The index is Helm's repository index (helm.sh/helm pkg/repo/index.go, IndexFile):
    `apiVersion: v1` and `entries`, a map of chart name to its versions, each an entry with the
    chart's metadata (`version`) and `urls`."""
    try:
        # Istio's repository lists every version it ever published (shared/upstream
        # README): libyaml's parser, where PyYAML has it, reads that index faster.
        index = yaml.load(index_text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as problem:
        return [f"{url} is not a Helm repository index (not YAML: {str(problem).splitlines()[0]})"]
    if not isinstance(index, dict) or not isinstance(index.get("entries"), dict):
        return [f"{url} is not a Helm repository index (no `entries`)"]
    published = {
        chart: [str(entry["version"]) for entry in entries if isinstance(entry, dict) and "version" in entry]
        for chart, entries in index["entries"].items()
        if isinstance(entries, list)
    }
    problems: list[str] = []
    missing: dict[tuple[str, str], list[str]] = {}
    for source in sources:
        if source.chart not in published:
            problems.append(f"{_asked(source.key, source.version)}: {url} lists no chart named {source.chart!r}")
        elif source.version not in published[source.chart]:
            missing.setdefault((source.key, source.version), []).append(source.chart)
    for (key, version), charts in missing.items():
        # Versions every chart lacking this one has: any of them works for all.
        common = set.intersection(*(set(published[chart]) for chart in charts))
        problems.append(
            f"{_asked(key, version)} is not published for {', '.join(charts)} in {url}: {_newest(common, version)}"
        )
    return problems


def mirror_path(repository: str) -> str:
    """Where a TEST_CHART_MIRROR server keeps a repository: /<host><path>."""
    parts = urllib.parse.urlsplit(repository)
    return f"{parts.netloc}{parts.path}"


def index_url(repository: str) -> str:
    return f"{mirrored(repository).rstrip('/')}/index.yaml"


def mirrored(url: str) -> str:
    """The URL, or under tests its copy on the TEST_CHART_MIRROR server."""
    mirror = os.environ.get(TEST_CHART_MIRROR)
    return f"{mirror.rstrip('/')}/{mirror_path(url)}" if mirror else url


class IndexUnavailableError(Exception):
    """The repository index could not be read; the message says why."""


def read_index(url: str) -> str:
    try:
        # A fresh opener: its ProxyHandler reads http_proxy/https_proxy/no_proxy
        # now (urlopen's opener is built once per process and keeps the first).
        with urllib.request.build_opener().open(url, timeout=INDEX_TIMEOUT_SECONDS) as response:
            return str(response.read().decode("utf-8"))
    except urllib.error.HTTPError as problem:
        raise IndexUnavailableError(f"HTTP {problem.code} {problem.reason}") from None
    except urllib.error.URLError as problem:
        raise IndexUnavailableError(str(problem.reason)) from None
    except TimeoutError:
        raise IndexUnavailableError(f"no answer within {INDEX_TIMEOUT_SECONDS} s") from None
    except UnicodeDecodeError:
        raise IndexUnavailableError("the answer is not UTF-8 text") from None


def published_chart_problems(sources: list[ChartSource]) -> list[str]:
    """Read each repository's index once and check every chart version wanted from it."""
    by_repository: dict[str, list[ChartSource]] = {}
    for source in sources:
        by_repository.setdefault(source.repository, []).append(source)
    problems: list[str] = []
    for repository, wanted in by_repository.items():
        url = index_url(repository)
        try:
            index_text = read_index(url)
        except IndexUnavailableError as problem:
            keys = " and ".join(f"{PROJECT}:{key}" for key in dict.fromkeys(source.key for source in wanted))
            problems.append(
                f"cannot read the chart index {url} ({problem}), so {keys} cannot be checked: "
                "check the network and try again"
            )
            continue
        problems.extend(index_problems(index_text, url, wanted))
    return problems


def holds_gateway_api_crds(text: str, version: str) -> bool:
    """Whether a download is the Gateway API CRDs of this release: YAML
    documents, CustomResourceDefinitions among them, each carrying its bundle
    version (gateway-api config/crd/standard/*.yaml, metadata.annotations)."""
    try:
        documents = list(yaml.load_all(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))
    except yaml.YAMLError:
        return False
    crds = [doc for doc in documents if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition"]
    return bool(crds) and all(
        ((crd.get("metadata") or {}).get("annotations") or {}).get(BUNDLE_VERSION_ANNOTATION) == version for crd in crds
    )


def gateway_api_download_problems(plan: Plan, url: str = GATEWAY_API_CRDS_URL) -> list[str]:
    """The Gateway API CRDs the plan installs (ambient, where the cluster has
    none) are fetched from `url` during up: reachable from here, through the
    proxy the environment names (urllib reads http_proxy/https_proxy/no_proxy),
    within the time limit, and holding the release the plan pins."""
    if not plan.installs_gateway_api_crds:
        return []
    address = mirrored(url)
    why = f"which {PROJECT}:istioProfile ambient installs during up"
    try:
        text = read_index(address)
    except IndexUnavailableError as problem:
        return [
            f"cannot download the Gateway API CRDs {address} ({problem}), {why}: "
            "check the network (and HTTPS_PROXY behind a proxy) and try again"
        ]
    if not holds_gateway_api_crds(text, GATEWAY_API_VERSION):
        return [
            f"{address} does not hold the Gateway API {GATEWAY_API_VERSION} CRDs, {why} "
            "(a proxy's or portal's page instead?): check the network and try again"
        ]
    return []


def run_preflight(settings: Settings, plan: Plan) -> None:
    """Warn, or stop the program with every problem found, before any resource exists."""
    if not settings.preflight:
        pulumi.log.info(f"{PROJECT}: pre-flight checks skipped ({PROJECT}:preflight is false)")
        return
    errors, warnings = find_problems(settings, plan, gather_facts(settings))
    if not settings.on_minikube:
        cluster = gather_cluster_facts(settings.kube_context)
        host = gather_host_networks() if settings.metallb else None
        errors.extend(cluster_problems(settings, plan, cluster, host))
        note = pool_note(settings, cluster, host) if host is not None and cluster.error is None else None
        if note is not None:
            pulumi.log.info(note)
    errors.extend(published_chart_problems(chart_sources(plan)))
    errors.extend(gateway_api_download_problems(plan))
    for warning in warnings:
        pulumi.log.warn(warning)
    if errors:
        lines = "\n".join(f"  - {error}" for error in errors)
        raise PreflightError(f"pre-flight checks failed (set {PROJECT}:preflight to false to skip them):\n{lines}")
