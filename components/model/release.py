"""What every part is made of: a Helm release (chart, values, what it waits
for), the pods it runs and what they request. Pure."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

Values = dict[str, Any]

# Every container the stack runs uses the image already on the node: a restart
# without the network finds it there (Kubernetes' own default is Always for an
# untagged or `:latest` image: k8s.io/kubernetes pkg/apis/core/v1/defaults.go,
# SetDefaults_Container). Istio's addon values ask for the same (values-kiali.yaml).
IMAGE_PULL_POLICY = "IfNotPresent"

# What a release can wait for besides another release of the plan.
GATEWAY_API_CRDS = "gateway-api-crds"
LOAD_BALANCER = "load-balancer"  # MetalLB's address pool and L2 advertisement
GRAFANA_DASHBOARDS = "grafana-dashboards"  # the ConfigMaps of Istio's dashboards Grafana mounts
TRUST_ROOT = "trust-root"  # the cacerts Secret istiod's CA starts from (several clusters, one root)


@dataclass(frozen=True)
class Requests:
    """CPU and memory requests, as the scheduler adds them up."""

    cpu_millis: int
    memory_mib: int

    def __add__(self, other: Requests) -> Requests:
        return Requests(self.cpu_millis + other.cpu_millis, self.memory_mib + other.memory_mib)

    def __str__(self) -> str:
        return f"{self.cpu_millis}m CPU, {self.memory_mib}Mi"


NO_REQUESTS = Requests(0, 0)
_CPU_QUANTITY = re.compile(r"^(\d+)(m?)$")
_MEMORY_QUANTITY = re.compile(r"^(\d+)(Mi|Gi)$")


def parse_cpu_quantity(text: str) -> int:
    """A Kubernetes CPU quantity (`500m`, `2`) in millicores."""
    match = _CPU_QUANTITY.match(str(text))
    if not match:
        raise ValueError(f"unreadable CPU quantity {text!r}")
    return int(match.group(1)) * (1 if match.group(2) else 1000)


def parse_memory_quantity(text: str) -> int:
    """A Kubernetes memory quantity in the binary units the charts use (`128Mi`, `1Gi`), in MiB.
    Not minikube's `--memory` syntax: that is settings.parse_memory_mb."""
    match = _MEMORY_QUANTITY.match(str(text))
    if not match:
        raise ValueError(f"unreadable memory quantity {text!r}")
    return int(match.group(1)) * (1024 if match.group(2) == "Gi" else 1)


def requests_of(resources: Mapping[str, Any] | None) -> Requests:
    """The requests of a Kubernetes ResourceRequirements block (none: zero)."""
    requests = (resources or {}).get("requests") or {}
    return Requests(
        parse_cpu_quantity(requests["cpu"]) if "cpu" in requests else 0,
        parse_memory_quantity(requests["memory"]) if "memory" in requests else 0,
    )


@dataclass(frozen=True)
class Pod:
    """One pod a release runs on the single node: the Deployment or DaemonSet
    the chart renders, and what its containers request in total."""

    workload: str
    kind: str  # Deployment or DaemonSet
    requests: Requests
    # A rolling update starts the new pod before the old one stops (maxSurge > 0):
    # Kubernetes' default for a Deployment, and ztunnel's chart asks it of its DaemonSet.
    surges: bool


@dataclass(frozen=True)
class ChartRelease:
    name: str  # the Helm release name, also the Pulumi resource name
    chart: str
    repository: str
    version: str
    version_key: str  # the config key the version comes from (or, for a pinned addon, asks for it)
    namespace: str
    values: Values
    after: tuple[str, ...] = ()  # other releases of the plan, GATEWAY_API_CRDS, LOAD_BALANCER or GRAFANA_DASHBOARDS
    pods: tuple[Pod, ...] = ()
    # Values set although they equal the chart's default, with the reason.
    pinned: Mapping[str, str] = field(default_factory=dict)
    # A dashboard (`observability`), installed by its own component, not the mesh's.
    addon: bool = False
    # Every image its pods run, as the node names them (the gateways': the proxy
    # istiod's injector gives them); tests/test_render_images.py holds it to the chart.
    images: tuple[str, ...] = ()


def resources(cpu: str, memory: str, cpu_limit: str, memory_limit: str) -> Values:
    """A ResourceRequirements block: `resources: lean` gives each pod explicit
    small requests (what a quiet local mesh uses) and limits with headroom for
    bursts, so the whole mesh requests under 500m CPU and 1 GiB
    (components/model/footprint.py adds it up; a test holds the budget)."""
    return {"requests": {"cpu": cpu, "memory": memory}, "limits": {"cpu": cpu_limit, "memory": memory_limit}}


def lean_or_chart(lean: bool, lean_resources: Values, chart_default: Requests) -> Requests:
    """A pod's requests: its lean resources', or what its chart requests where the plan sets nothing."""
    return requests_of(lean_resources) if lean else chart_default


@dataclass(frozen=True)
class Dashboard:
    """A dashboard the ingress routes: the stack output that names its URL, its
    Service in istio-system and port, and the path it answers under."""

    output: str
    service: str
    port: int
    path: str
