"""Helm values and custom-resource specs, as plain data. Pure.

Every key here is checked against the upstream charts and CRDs by
tests/test_upstream.py, because Helm silently ignores a misspelled key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from components.network import AddressRange

METALLB_REPOSITORY = "https://metallb.github.io/metallb"
METALLB_NAMESPACE = "metallb-system"
ISTIO_REPOSITORY = "https://istio-release.storage.googleapis.com/charts"
ISTIO_NAMESPACE = "istio-system"
ADDRESS_POOL_NAME = "local-mesh"
# The Gateway API release Istio 1.30/1.31 builds against; ambient needs its CRDs.
GATEWAY_API_VERSION = "v1.5.1"
GATEWAY_API_CRDS_URL = (
    f"https://github.com/kubernetes-sigs/gateway-api/releases/download/{GATEWAY_API_VERSION}/standard-install.yaml"
)

Values = dict[str, Any]


def _resources(cpu: str, memory: str, cpu_limit: str, memory_limit: str) -> Values:
    return {"requests": {"cpu": cpu, "memory": memory}, "limits": {"cpu": cpu_limit, "memory": memory_limit}}


# `resources: lean`: explicit small requests (what a quiet local mesh uses) and
# limits with headroom for bursts, so the whole mesh requests under 500m CPU
# and 1 GiB (components/footprint.py adds it up; a test holds the budget).
LEAN = {
    "istiod": _resources("50m", "160Mi", "1000m", "1Gi"),
    "gateway": _resources("20m", "64Mi", "1000m", "512Mi"),
    "proxy": _resources("10m", "40Mi", "500m", "256Mi"),
    "metallb": _resources("10m", "32Mi", "100m", "128Mi"),
    "cni": _resources("10m", "40Mi", "200m", "128Mi"),
    "ztunnel": _resources("20m", "64Mi", "1000m", "512Mi"),
    "httpbin": _resources("10m", "32Mi", "200m", "128Mi"),
}


def metallb_values(resources: str) -> Values:
    values: Values = {
        "speaker": {
            # MetalLB >= 0.14 skips nodes labelled
            # node.kubernetes.io/exclude-from-external-load-balancers, which
            # kubeadm puts on minikube's only (control-plane) node: without this
            # an IP is assigned but nobody answers ARP for it.
            "ignoreExcludeLB": True,
            # L2 only: no BGP speaker backend.
            "frr": {"enabled": False},
        },
        # 0.16 enables the frr-k8s BGP backend by default; L2 does not need it.
        "frrk8s": {"enabled": False},
    }
    if resources == "lean":
        values["controller"] = {"resources": LEAN["metallb"]}
        values["speaker"]["resources"] = LEAN["metallb"]
    return values


def address_pool_spec(pool: AddressRange) -> Values:
    return {"addresses": [str(pool)]}


def l2_advertisement_spec() -> Values:
    return {"ipAddressPools": [ADDRESS_POOL_NAME]}


def address_pool_manifest(pool: AddressRange) -> Values:
    """The IPAddressPool as kubectl would send it (used to probe the webhook)."""
    return {
        "apiVersion": "metallb.io/v1beta1",
        "kind": "IPAddressPool",
        "metadata": {"name": ADDRESS_POOL_NAME, "namespace": METALLB_NAMESPACE},
        "spec": address_pool_spec(pool),
    }


@dataclass(frozen=True)
class IstioRelease:
    """One Helm release of an Istio chart."""

    release: str
    chart: str
    values: Values


def istio_base_release() -> IstioRelease:
    # Istio's Helm guide installs base with defaultRevision=default so that the
    # default validating webhook points at the (unrevisioned) istiod.
    return IstioRelease("istio-base", "base", {"defaultRevision": "default"})


def istiod_release(istio_profile: str, resources: str) -> IstioRelease:
    # `demo` and `ambient` select the chart's own profile files: demo turns on
    # access logs to stdout and 100% trace sampling, as istioctl's demo does.
    values: Values = {"profile": istio_profile} if istio_profile in ("demo", "ambient") else {}
    if resources == "lean":
        # With autoscaling off istiod runs one replica. The chart's values.yaml
        # lists these keys at the top level while its profiles (profile-demo.yaml)
        # set them under `pilot`; the templates were not rendered here, so the
        # same settings go in both places and ours win whichever the chart reads.
        lean_istiod = {"autoscaleEnabled": False, "resources": LEAN["istiod"]}
        values.update(lean_istiod)
        values["pilot"] = dict(lean_istiod)
        values["global"] = {"proxy": {"resources": LEAN["proxy"]}}
    return IstioRelease("istiod", "istiod", values)


def ambient_releases(resources: str) -> list[IstioRelease]:
    """Ambient's node agents, after istiod: istio-cni, then ztunnel."""
    # platform: minikube sets cni.cniNetnsDir=/var/run/docker/netns, where the
    # docker driver keeps pod network namespaces (istio #46163).
    cni: Values = {"profile": "ambient", "platform": "minikube"}
    ztunnel: Values = {}
    if resources == "lean":
        cni["resources"] = LEAN["cni"]
        ztunnel["resources"] = LEAN["ztunnel"]
    return [IstioRelease("istio-cni", "cni", cni), IstioRelease("ztunnel", "ztunnel", ztunnel)]


def gateway_releases(istio_profile: str, resources: str) -> list[IstioRelease]:
    """The gateway chart names its Service and its `istio=` label after the
    release (minus `istio-`), and Istio's samples select `istio: ingressgateway`."""
    lean: Values = (
        {"autoscaling": {"enabled": False}, "replicaCount": 1, "resources": LEAN["gateway"]}
        if resources == "lean"
        else {}
    )
    ingress = IstioRelease("istio-ingressgateway", "gateway", {"service": {"type": "LoadBalancer"}, **lean})
    if istio_profile != "demo":
        return [ingress]
    egress = IstioRelease("istio-egressgateway", "gateway", {"service": {"type": "ClusterIP"}, **lean})
    return [ingress, egress]


def peer_authentication_spec() -> Values:
    """Mesh-wide (in the root namespace): workloads accept only mTLS."""
    return {"mtls": {"mode": "STRICT"}}


def sample_namespace_labels(istio_profile: str) -> dict[str, str]:
    if istio_profile == "ambient":
        return {"istio.io/dataplane-mode": "ambient"}
    return {"istio-injection": "enabled"}


# The httpbin sample, as Istio's samples/httpbin ships it, behind the ingress gateway.
SAMPLE_NAMESPACE = "sample"
HTTPBIN_IMAGE = "docker.io/mccutchen/go-httpbin:v2.15.0"
HTTPBIN_PORT = 8000
HTTPBIN_TARGET_PORT = 8080
SAMPLE_GATEWAY_NAME = "httpbin-gateway"
# Routed paths, as Istio's httpbin-gateway.yaml routes them; anything else is a
# 404 from Envoy, which `verify` checks too.
SAMPLE_ROUTED_PREFIXES = ("/status", "/delay")


def httpbin_resources(resources: str) -> Values | None:
    """Istio's sample sets none; `lean` gives httpbin small explicit ones."""
    return LEAN["httpbin"] if resources == "lean" else None


def sample_gateway_spec() -> Values:
    # The Helm gateway listens on 80 itself (istioctl's gateway maps 80 -> 8080).
    return {
        "selector": {"istio": "ingressgateway"},
        "servers": [{"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": ["*"]}],
    }


def sample_virtual_service_spec() -> Values:
    # Hostless ("*"), so `curl http://<ingressIp>/status/200` needs no Host header.
    return {
        "hosts": ["*"],
        "gateways": [SAMPLE_GATEWAY_NAME],
        "http": [
            {
                "match": [{"uri": {"prefix": prefix}} for prefix in SAMPLE_ROUTED_PREFIXES],
                "route": [
                    {
                        "destination": {
                            "host": f"httpbin.{SAMPLE_NAMESPACE}.svc.cluster.local",
                            "port": {"number": HTTPBIN_PORT},
                        }
                    }
                ],
            }
        ],
    }
