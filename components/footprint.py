"""What the mesh asks of the node: the CPU and memory requests of every pod
local-mesh installs, added up from the release plan and the sample. Pure."""

from __future__ import annotations

import math

from components.jaeger import jaeger_pods
from components.plan import NO_REQUESTS, Plan, Requests
from components.sample import sample_pods
from components.settings import MIN_CPUS, MIN_MEMORY_MB, Settings

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
    """Each pod local-mesh installs (one replica each on the single node), with its requests."""
    found = {pod.workload: pod.requests for release in plan.releases for pod in release.pods}
    if settings.sample:
        found.update(sample_pods(settings, plan))
    found.update(jaeger_pods(settings))
    return found


def total(settings: Settings, plan: Plan) -> Requests:
    return sum(workloads(settings, plan).values(), NO_REQUESTS)


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
    """The smallest `cpus` and `memory` (MB) that hold this mesh and its
    upgrades, by the estimate above."""
    need = total(settings, plan) + upgrade_surge(plan) + NODE_OVERHEAD
    return max(MIN_CPUS, math.ceil(need.cpu_millis / 1000)), max(MIN_MEMORY_MB, need.memory_mib)
