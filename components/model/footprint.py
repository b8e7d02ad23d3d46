"""What the mesh asks of the node: the CPU and memory requests of every pod
local-mesh installs, added up from the release plan and the sample. Pure."""

from __future__ import annotations

import math

from components.model.parts.helloworld import helloworld_pods
from components.model.parts.jaeger import jaeger_pods
from components.model.parts.sample import sample_pods
from components.model.plan import Plan
from components.model.release import NO_REQUESTS, Requests
from components.model.settings import MIN_CPUS, MIN_MEMORY_MB, Settings

# The lean mesh's promise: `cpus: 2`, `memory: 4g` is enough.
LEAN_BUDGET_CPU_MILLIS = 500
LEAN_BUDGET_MEMORY_MIB = 1024
# ... and with every dashboard (`observability: full`) it still leaves most of
# that node to the user's own workloads.
FULL_STACK_BUDGET = Requests(600, 1536)
# A rough allowance for what a minikube node runs besides the mesh: the
# control plane's own requests (apiserver 250m, controller-manager 200m,
# scheduler 100m, etcd 100m, coredns 100m) and the memory that the
# kubelet, container runtime and control plane use in practice. An estimate,
# used only to tell a user that a node is too small before minikube starts it.
NODE_OVERHEAD = Requests(750, 1536)


def workloads(settings: Settings, plan: Plan) -> dict[str, Requests]:
    """Each pod local-mesh installs (one replica of each), with its requests."""
    found = {pod.workload: pod.requests for release in plan.releases for pod in release.pods}
    if settings.sample:
        found.update(sample_pods(plan.lean, plan.sidecar))
    if settings.multicluster_mesh:
        # Each cluster's share of helloworld (components/helloworld.py).
        found.update(helloworld_pods(plan.lean, plan.sidecar))
    if plan.jaeger:
        found.update(jaeger_pods(plan.lean))
    return found


def _times(requests: Requests, count: int) -> Requests:
    return Requests(requests.cpu_millis * count, requests.memory_mib * count)


def per_node(plan: Plan) -> Requests:
    """What the DaemonSets (MetalLB's speaker; istio-cni and ztunnel in ambient)
    ask of every node: a DaemonSet runs one pod on each node."""
    return sum(
        (pod.requests for release in plan.releases for pod in release.pods if pod.kind == "DaemonSet"),
        NO_REQUESTS,
    )


def cluster_requests(settings: Settings, plan: Plan, nodes: int) -> Requests:
    """The mesh's requests on a cluster of `nodes` nodes: every other pod once,
    the DaemonSets' pods once per node."""
    return sum(workloads(settings, plan).values(), NO_REQUESTS) + _times(per_node(plan), nodes - 1)


def total(settings: Settings, plan: Plan) -> Requests:
    """The mesh's requests on the minikube cluster these settings start."""
    return cluster_requests(settings, plan, settings.nodes)


def upgrade_surge(plan: Plan) -> Requests:
    """Room for a rolling update: a pod that surges starts its replacement
    before it stops, so an upgrade needs the largest such pod once more (one
    release upgrades at a time per chain; Helm waits for each)."""
    surging = [pod.requests for release in plan.releases for pod in release.pods if pod.surges]
    return Requests(
        max((requests.cpu_millis for requests in surging), default=0),
        max((requests.memory_mib for requests in surging), default=0),
    )


def node_needs(settings: Settings, plan: Plan) -> tuple[int, int]:
    """The smallest `cpus` and `memory` (MB) of each of the `nodes` minikube
    nodes (minikube gives every node the same size: the driver config takes
    cc.CPUs and cc.Memory, pkg/minikube/registry/drvs/docker/docker.go:85-86)
    that hold this mesh and its upgrades, by the estimate above: the cluster's
    needs spread over the nodes (the scheduler spreads Deployments), and never
    less than one node's DaemonSet pods, Kubernetes and the largest other pod."""
    nodes = settings.nodes
    spread = total(settings, plan) + upgrade_surge(plan) + _times(NODE_OVERHEAD, nodes)
    largest = max(workloads(settings, plan).values(), key=lambda requests: (requests.memory_mib, requests.cpu_millis))
    one_node = per_node(plan) + NODE_OVERHEAD + largest
    cpu_millis = max(math.ceil(spread.cpu_millis / nodes), one_node.cpu_millis)
    memory_mib = max(math.ceil(spread.memory_mib / nodes), one_node.memory_mib)
    return max(MIN_CPUS, math.ceil(cpu_millis / 1000)), max(MIN_MEMORY_MB, memory_mib)
