"""Istio's httpbin sample behind the ingress gateway (`sample: true`): proof that the mesh works."""

from __future__ import annotations

from typing import Any

from components.model.images import pulled_from
from components.model.release import Requests, requests_of, resources

# Istio's httpbin sample (samples/httpbin), behind the ingress gateway.
SAMPLE_NAMESPACE = "sample"
HTTPBIN_IMAGE = "docker.io/mccutchen/go-httpbin:v2.15.0"
HTTPBIN_PORT = 8000
HTTPBIN_TARGET_PORT = 8080
HTTPBIN_LABELS = {"app": "httpbin", "version": "v1"}
# Routed paths, as Istio's httpbin-gateway.yaml routes them; anything else is a
# 404 from Envoy, which `verify` checks too.
SAMPLE_ROUTED_PREFIXES = ("/status", "/delay")
# Istio's sample requests nothing; `resources: lean` gives httpbin small explicit requests.
LEAN_HTTPBIN = resources("10m", "32Mi", "200m", "128Mi")


def httpbin_image(caches: bool) -> str:
    """httpbin's image as the node pulls it (`caches`: through the host's cache)."""
    return pulled_from(HTTPBIN_IMAGE, caches)


def sample_images(caches: bool, sidecar_proxy: str | None) -> tuple[str, ...]:
    """What the sample's pod runs: httpbin, and the proxy istiod's injector
    gives it (None in ambient: no sidecar)."""
    return (httpbin_image(caches),) + ((sidecar_proxy,) if sidecar_proxy else ())


def httpbin_resources(lean: bool) -> dict[str, Any] | None:
    return LEAN_HTTPBIN if lean else None


def sample_pods(lean: bool, sidecar: Requests | None) -> dict[str, Requests]:
    """httpbin, and the sidecar istiod's injector gives it (none in ambient)."""
    pods = {"httpbin": requests_of(httpbin_resources(lean))}
    if sidecar is not None:
        pods["httpbin sidecar"] = sidecar
    return pods


def sample_namespace_labels(ambient: bool) -> dict[str, str]:
    if ambient:
        return {"istio.io/dataplane-mode": "ambient"}
    return {"istio-injection": "enabled"}
