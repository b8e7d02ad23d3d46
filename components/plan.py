"""The release plan: every Helm release the stack installs, in order, with its
chart, repository, version, namespace, values, what it waits for and what
the pods it runs request. Pure.

The MetalLB and Istio components install from the plan, components/footprint.py
sums it, and tests/test_render.py renders every release with the real charts
in shared/upstream: the values must change what the chart renders, and the
requests listed here must be what the rendered pods ask for.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from components.settings import Settings

Values = dict[str, Any]

METALLB_REPOSITORY = "https://metallb.github.io/metallb"
METALLB_NAMESPACE = "metallb-system"
# From Istio 1.31 on, Istio publishes its charts only here (a classic Helm
# repository holding every older version too) and at oci://ghcr.io/istio/release/charts;
# istio-release.storage.googleapis.com gets no 1.31 chart (Istio 1.31 upgrade
# notes; shared/upstream/README.md, "Where the real artifacts are published").
ISTIO_REPOSITORY = "https://blob.istio.io/istio-release/charts"
ISTIO_NAMESPACE = "istio-system"
# The Gateway API release Istio 1.31 is built against (its go.mod:
# sigs.k8s.io/gateway-api v1.6.0); Istio 1.31 ignores TCPRoute CRDs older than v1.6.0.
GATEWAY_API_VERSION = "v1.6.0"
GATEWAY_API_CRDS_URL = (
    f"https://github.com/kubernetes-sigs/gateway-api/releases/download/{GATEWAY_API_VERSION}/standard-install.yaml"
)
INGRESS_RELEASE = "istio-ingressgateway"
EGRESS_RELEASE = "istio-egressgateway"

# What a release can wait for besides another release of the plan.
GATEWAY_API_CRDS = "gateway-api-crds"
LOAD_BALANCER = "load-balancer"  # MetalLB's address pool and L2 advertisement


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
    version_key: str  # the config key the version comes from
    namespace: str
    values: Values
    after: tuple[str, ...] = ()  # other releases of the plan, GATEWAY_API_CRDS or LOAD_BALANCER
    pods: tuple[Pod, ...] = ()
    # Values set although they equal the chart's default, with the reason.
    pinned: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Plan:
    releases: tuple[ChartRelease, ...]
    ambient: bool  # sidecar-less: workloads join by namespace label, istio-cni and ztunnel run
    sidecar: Requests | None  # what istiod's injector gives each sidecar (None: no sidecars)
    # The release after which a workload joins the mesh as it starts: istiod
    # (its webhook injects the sidecar), or in ambient the node agents' last.
    mesh_ready: str

    def release(self, name: str) -> ChartRelease:
        (found,) = [release for release in self.releases if release.name == name]
        return found

    def in_namespace(self, namespace: str) -> list[ChartRelease]:
        return [release for release in self.releases if release.namespace == namespace]


def _resources(cpu: str, memory: str, cpu_limit: str, memory_limit: str) -> Values:
    return {"requests": {"cpu": cpu, "memory": memory}, "limits": {"cpu": cpu_limit, "memory": memory_limit}}


# `resources: lean`: explicit small requests (what a quiet local mesh uses) and
# limits with headroom for bursts, so the whole mesh requests under 500m CPU
# and 1 GiB (components/footprint.py adds it up; a test holds the budget).
LEAN = {
    "istiod": _resources("50m", "160Mi", "1000m", "1Gi"),
    "gateway": _resources("20m", "64Mi", "1000m", "512Mi"),
    "sidecar": _resources("10m", "40Mi", "500m", "256Mi"),
    "metallb": _resources("10m", "32Mi", "100m", "128Mi"),
    "cni": _resources("10m", "40Mi", "200m", "128Mi"),
    "ztunnel": _resources("20m", "64Mi", "1000m", "512Mi"),
}

# What the charts request where the plan sets nothing (`resources: istio`):
# istiod's values.yaml (`resources`, `global.proxy.resources`) and its demo
# profile (files/profile-demo.yaml: `pilot.resources`, `global.proxy.resources`),
# the gateway, istio-cni and ztunnel charts' `resources`. MetalLB's chart
# requests nothing. tests/test_render.py holds each against the rendered pods.
ISTIOD_DEFAULT = {"demo": Requests(10, 100), "minimal": Requests(500, 2048), "ambient": Requests(500, 2048)}
SIDECAR_DEFAULT = {"demo": Requests(10, 40), "minimal": Requests(100, 128), "ambient": Requests(100, 128)}
GATEWAY_DEFAULT = Requests(100, 128)
CNI_DEFAULT = Requests(100, 100)
ZTUNNEL_DEFAULT = Requests(200, 512)


def _requests(lean: bool, what: str, chart_default: Requests) -> Requests:
    return requests_of(LEAN[what]) if lean else chart_default


def _metallb(settings: Settings, lean: bool) -> ChartRelease:
    speaker: Values = {
        # MetalLB >= 0.14 skips nodes labelled
        # node.kubernetes.io/exclude-from-external-load-balancers, which kubeadm
        # puts on minikube's control-plane node: without this an IP is assigned
        # but nobody answers ARP for it (chart values.yaml: speaker.ignoreExcludeLB).
        "ignoreExcludeLB": True,
    }
    values: Values = {
        "speaker": speaker,
        # MetalLB 0.16's chart enables the frr-k8s BGP backend by default; L2 needs none.
        "frrk8s": {"enabled": False},
    }
    if lean:
        values["controller"] = {"resources": LEAN["metallb"]}
        speaker["resources"] = LEAN["metallb"]
    each = _requests(lean, "metallb", NO_REQUESTS)
    return ChartRelease(
        name="metallb",
        chart="metallb",
        repository=METALLB_REPOSITORY,
        version=settings.metallb_version,
        version_key="metallbVersion",
        namespace=METALLB_NAMESPACE,
        values=values,
        pods=(
            Pod("metallb-controller", "Deployment", each, surges=True),
            Pod("metallb-speaker", "DaemonSet", each, surges=False),
        ),
    )


def _istio(
    name: str, chart: str, settings: Settings, values: Values, after: tuple[str, ...], **extra: Any
) -> ChartRelease:
    return ChartRelease(
        name=name,
        chart=chart,
        repository=ISTIO_REPOSITORY,
        version=settings.istio_version,
        version_key="istioVersion",
        namespace=ISTIO_NAMESPACE,
        values=values,
        after=after,
        **extra,
    )


def _istiod(settings: Settings, lean: bool, ambient: bool) -> ChartRelease:
    profile = settings.istio_profile
    # `demo` and `ambient` select the chart's own profile files
    # (files/profile-demo.yaml: access logs to stdout, 100% trace sampling;
    # files/profile-ambient.yaml: PILOT_ENABLE_AMBIENT).
    values: Values = {"profile": profile} if profile in ("demo", "ambient") else {}
    pinned: dict[str, str] = {}
    if lean:
        # Under `pilot` only: the chart merges its profile over its defaults,
        # then copies `pilot.*` over the top level (templates/zzz_profile.yaml,
        # templates/zzy_descope_legacy.yaml), so a top-level copy is overwritten.
        values["pilot"] = {"autoscaleEnabled": False, "resources": LEAN["istiod"]}
        values["global"] = {"proxy": {"resources": LEAN["sidecar"]}}
        agrees = "demo's chart profile (files/profile-demo.yaml) happens to agree"
        pinned["pilot.autoscaleEnabled"] = f"lean runs one istiod in every profile; {agrees}"
        for request in ("cpu", "memory"):
            pinned[f"global.proxy.resources.requests.{request}"] = (
                f"lean sidecars request the same in every profile; {agrees}"
            )
    return _istio(
        "istiod",
        "istiod",
        settings,
        values,
        ("istio-base", GATEWAY_API_CRDS) if ambient else ("istio-base",),
        pods=(Pod("istiod", "Deployment", _requests(lean, "istiod", ISTIOD_DEFAULT[profile]), surges=True),),
        pinned=pinned,
    )


def _gateway(name: str, service_type: str, settings: Settings, lean: bool, after: tuple[str, ...]) -> ChartRelease:
    """The gateway chart names its Deployment, Service and `istio=` label after
    the release (minus `istio-`); Istio's samples select `istio: ingressgateway`."""
    values: Values = {"service": {"type": service_type}}
    if lean:
        values.update({"autoscaling": {"enabled": False}, "replicaCount": 1, "resources": LEAN["gateway"]})
    return _istio(
        name,
        "gateway",
        settings,
        values,
        after,
        pods=(Pod(name, "Deployment", _requests(lean, "gateway", GATEWAY_DEFAULT), surges=True),),
        pinned=(
            {"service.type": "a LoadBalancer Service with a real IP is the point of local-mesh"}
            if service_type == "LoadBalancer"
            else {}
        ),
    )


def release_plan(settings: Settings) -> Plan:
    """Every Helm release for these settings, in install order."""
    lean = settings.resources == "lean"
    ambient = settings.istio_profile == "ambient"
    releases = [_metallb(settings, lean)] if settings.metallb else []
    releases.append(_istio("istio-base", "base", settings, {}, ()))
    releases.append(_istiod(settings, lean, ambient))
    mesh_ready = "istiod"
    if ambient:
        # Istio's Helm order for ambient: base, istiod, istio-cni, ztunnel.
        # platform: minikube sets cni.cniNetnsDir=/var/run/docker/netns, where
        # the docker container runtime keeps pod network namespaces
        # (files/profile-platform-minikube.yaml).
        cni: Values = {"profile": "ambient", "platform": "minikube"}
        ztunnel: Values = {}
        if lean:
            cni["resources"] = LEAN["cni"]
            ztunnel["resources"] = LEAN["ztunnel"]
        cni_pod = Pod("istio-cni-node", "DaemonSet", _requests(lean, "cni", CNI_DEFAULT), surges=False)
        # ztunnel's chart: updateStrategy.rollingUpdate maxSurge 1, maxUnavailable 0.
        ztunnel_pod = Pod("ztunnel", "DaemonSet", _requests(lean, "ztunnel", ZTUNNEL_DEFAULT), surges=True)
        releases.append(_istio("istio-cni", "cni", settings, cni, ("istiod",), pods=(cni_pod,)))
        releases.append(_istio("ztunnel", "ztunnel", settings, ztunnel, ("istio-cni",), pods=(ztunnel_pod,)))
        mesh_ready = "ztunnel"
    # Gateway pods use `image: auto`, filled in by istiod's injection webhook.
    # Helm counts a LoadBalancer Service ready once it has an IP: the ingress
    # waits for MetalLB's pool (with loadBalancer none, the cluster's own).
    ingress_after = (mesh_ready, LOAD_BALANCER) if settings.metallb else (mesh_ready,)
    releases.append(_gateway(INGRESS_RELEASE, "LoadBalancer", settings, lean, ingress_after))
    if settings.istio_profile == "demo":
        releases.append(_gateway(EGRESS_RELEASE, "ClusterIP", settings, lean, (mesh_ready,)))
    sidecar = None if ambient else _requests(lean, "sidecar", SIDECAR_DEFAULT[settings.istio_profile])
    return Plan(tuple(releases), ambient, sidecar, mesh_ready)
