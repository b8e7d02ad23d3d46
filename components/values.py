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

Values = dict[str, Any]


def metallb_values() -> Values:
    return {
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


def istiod_release(istio_profile: str) -> IstioRelease:
    # `demo` selects the chart's own profile-demo.yaml: access logs to stdout,
    # 100% trace sampling, autoscaling off, small requests, as istioctl's demo.
    values: Values = {"profile": "demo"} if istio_profile == "demo" else {}
    return IstioRelease("istiod", "istiod", values)


def gateway_releases(istio_profile: str) -> list[IstioRelease]:
    """The gateway chart names its Service and its `istio=` label after the
    release (minus `istio-`), and Istio's samples select `istio: ingressgateway`."""
    ingress = IstioRelease("istio-ingressgateway", "gateway", {"service": {"type": "LoadBalancer"}})
    if istio_profile != "demo":
        return [ingress]
    egress = IstioRelease("istio-egressgateway", "gateway", {"service": {"type": "ClusterIP"}})
    return [ingress, egress]


# The httpbin sample, as Istio's samples/httpbin ships it, behind the ingress gateway.
SAMPLE_NAMESPACE = "sample"
HTTPBIN_IMAGE = "docker.io/mccutchen/go-httpbin:v2.15.0"
HTTPBIN_PORT = 8000
HTTPBIN_TARGET_PORT = 8080
SAMPLE_GATEWAY_NAME = "httpbin-gateway"
# Routed paths, as Istio's httpbin-gateway.yaml routes them; anything else is a
# 404 from Envoy, which `verify` checks too.
SAMPLE_ROUTED_PREFIXES = ("/status", "/delay")


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
