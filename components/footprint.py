"""What the mesh asks of the node: the CPU and memory requests of every
workload local-mesh installs, added up. Pure.

A request the program sets comes from components/values.py; where it sets
none, the chart's own default applies, listed in CHART_REQUESTS (checked
against the charts in shared/upstream by tests/test_upstream.py).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from components import values
from components.settings import MIN_CPUS, MIN_MEMORY_MB, Settings

# The lean mesh's promise: `cpus: 2`, `memory: 4g` is enough.
LEAN_BUDGET_CPU_MILLIS = 500
LEAN_BUDGET_MEMORY_MIB = 1024


@dataclass(frozen=True)
class Requests:
    cpu_millis: int
    memory_mib: int

    def __add__(self, other: Requests) -> Requests:
        return Requests(self.cpu_millis + other.cpu_millis, self.memory_mib + other.memory_mib)

    def __str__(self) -> str:
        return f"{self.cpu_millis}m CPU, {self.memory_mib}Mi"


NONE = Requests(0, 0)
# The charts' defaults where the program sets nothing, by (what, Istio profile);
# the profile-specific line wins. MetalLB's chart requests nothing by default.
CHART_REQUESTS: dict[tuple[str, str | None], Requests] = {
    ("istiod", None): Requests(500, 2048),
    ("istiod", "demo"): Requests(10, 100),
    ("proxy", None): Requests(100, 128),
    ("proxy", "demo"): Requests(10, 40),
    ("gateway", None): Requests(100, 128),
    ("cni", None): Requests(100, 100),
    ("ztunnel", None): Requests(200, 512),
    ("metallb", None): NONE,
    ("httpbin", None): NONE,
}
# A rough allowance for what a minikube node runs besides the mesh: the
# control plane's own requests (apiserver 250m, controller-manager 200m,
# scheduler 100m, etcd 100m, coredns 100m) and the memory that the
# kubelet, container runtime and control plane use in practice. An estimate,
# used only to tell a user that a node is too small before minikube starts it.
NODE_OVERHEAD = Requests(750, 1536)

_CPU = re.compile(r"^(\d+)(m?)$")
_MEMORY = re.compile(r"^(\d+)(Mi|Gi)$")


def parse_cpu(text: str) -> int:
    match = _CPU.match(text)
    if not match:
        raise ValueError(f"unreadable CPU quantity {text!r}")
    return int(match.group(1)) * (1 if match.group(2) else 1000)


def parse_memory(text: str) -> int:
    match = _MEMORY.match(text)
    if not match:
        raise ValueError(f"unreadable memory quantity {text!r}")
    return int(match.group(1)) * (1024 if match.group(2) == "Gi" else 1)


def _requests(block: dict[str, Any] | None, what: str, istio_profile: str) -> Requests:
    if block and "requests" in block:
        return Requests(parse_cpu(block["requests"]["cpu"]), parse_memory(block["requests"]["memory"]))
    return CHART_REQUESTS.get((what, istio_profile), CHART_REQUESTS[(what, None)])


def workloads(settings: Settings) -> dict[str, Requests]:
    """Each pod local-mesh installs (one replica each on the single node), with its requests."""
    profile, resources = settings.istio_profile, settings.resources
    istiod = values.istiod_release(profile, resources).values
    metallb = values.metallb_values(resources)
    found = {
        "istiod": _requests(istiod.get("pilot", {}).get("resources"), "istiod", profile),
        "metallb-controller": _requests(metallb.get("controller", {}).get("resources"), "metallb", profile),
        "metallb-speaker": _requests(metallb["speaker"].get("resources"), "metallb", profile),
    }
    for plan in values.gateway_releases(profile, resources):
        found[plan.release] = _requests(plan.values.get("resources"), "gateway", profile)
    if profile == "ambient":
        for plan in values.ambient_releases(resources):
            found[plan.release] = _requests(plan.values.get("resources"), plan.release.removeprefix("istio-"), profile)
    if settings.sample:
        found["httpbin"] = _requests(values.httpbin_resources(resources), "httpbin", profile)
        if profile != "ambient":  # ambient has no sidecars
            proxy = istiod.get("global", {}).get("proxy", {}).get("resources")
            found["httpbin sidecar"] = _requests(proxy, "proxy", profile)
    return found


def total(settings: Settings) -> Requests:
    return sum(workloads(settings).values(), NONE)


def node_needs(settings: Settings) -> tuple[int, int]:
    """The smallest `cpus` and `memory` (MB) that hold this mesh, by the estimate above."""
    need = total(settings) + NODE_OVERHEAD
    return max(MIN_CPUS, math.ceil(need.cpu_millis / 1000)), max(MIN_MEMORY_MB, need.memory_mib)
