"""Cluster checks, for `cluster: existing`: the stack's context answers, its
Kubernetes version is one Istio supports, its nodes can hold the mesh beside
what already runs there, and MetalLB's pool has a node address to come from.

`cluster_problems` is pure (facts in, messages out); `gather_cluster_facts`
asks the API server through the one process door (components/checks/process.py).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, replace
from ipaddress import IPv4Address
from typing import Any

from components.checks.host import parse_version
from components.checks.process import Finished, ProcessError, run_process
from components.model.footprint import cluster_requests, upgrade_surge
from components.model.network import HostNetworks, describe_network_pool, network_holding
from components.model.parts.istio import ISTIO_NAMESPACE
from components.model.parts.metallb import METALLB_NAMESPACE
from components.model.plan import Plan, release_plan
from components.model.release import NO_REQUESTS, Requests
from components.model.settings import (
    OBSERVABILITY_LEVELS,
    PROJECT,
    NodeConfigError,
    Settings,
    address_pool_on_node,
    dotted,
    istio_kubernetes_support,
    shell_word,
)
from components.sample import SAMPLE_NAMESPACE
from components.shell import INTERPRETER, parse_host_networks, script


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
        try:
            result = run_process(["kubectl", *words, f"--context={context}", "--output=json", "--request-timeout=10s"])
        except ProcessError as problem:
            return None, str(problem)
        if result.returncode != 0:
            return None, result.complaint
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
    try:
        result: Finished | None = run_process([*INTERPRETER, script("docker-networks.sh")])
    except ProcessError:
        result = None
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
