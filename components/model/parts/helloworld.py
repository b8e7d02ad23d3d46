"""Istio's helloworld sample split across clusters, with a curl client in each:
the proof that a multicluster mesh carries traffic between its clusters (Istio's
multicluster "Verify the installation": helloworld v1 in cluster1, v2 in
cluster2, the helloworld Service and a client in both).

Each cluster gets the helloworld Service (so its name resolves there, which the
docs require of every cluster that calls it), one version's Deployment, a curl
client and a route on the ingress at HELLOWORLD_PATH. Pure: the objects as the
API server takes them.
"""

from __future__ import annotations

from typing import Any

from components.model.images import pulled_from
from components.model.parts.sample import sample_namespace_labels
from components.model.release import IMAGE_PULL_POLICY, Requests, requests_of, resources

Object = dict[str, Any]

# Its own namespace, not the httpbin sample's: it is there whether or not
# `sample` is, and is nobody else's to delete. Istio's docs use `sample`.
HELLOWORLD_NAMESPACE = "helloworld"
# istio/istio samples/helloworld/helloworld.yaml (tag 1.31.0-rc.0, the
# release-1.31 head): port 5000, labels app/version, images pinned at 1.0
# with IfNotPresent; each image answers with its own version (src/Dockerfile:
# ENV SERVICE_VERSION from the build argument). That tag names them on
# registry.istio.io/release (istio/istio#59364); up to 1.29 (tag 1.29.6) the
# sample named them on docker.io/istio, where Istio keeps publishing its
# images, while registry.istio.io/release, a proxy of gcr.io/istio-release,
# retires in late 2026 (istio/istio.io content/en/blog/2026, "An update on
# our move to AWS" and its follow-up). So Docker Hub's, which the image caches
# serve. Unverified: that both names give the same digest.
HELLOWORLD_PORT = 5000
HELLOWORLD_VERSIONS = ("v1", "v2")
HELLOWORLD_IMAGES = {version: f"docker.io/istio/examples-helloworld-{version}:1.0" for version in HELLOWORLD_VERSIONS}
# samples/helloworld/helloworld-gateway.yaml routes exactly this path, which
# src/app.py serves: 'Hello version: %s, instance: %s\n' % (SERVICE_VERSION, HOSTNAME).
HELLOWORLD_PATH = "/hello"
# samples/curl/curl.yaml (same tag): the client the docs exec curl in.
CURL_IMAGE = "docker.io/curlimages/curl:8.16.0"
CURL_PORT = 80
# helloworld.yaml requests 100m CPU and nothing else. `resources: lean` bounds
# memory too and lets a request's CPU-bound loop (src/app.py: a million square
# roots per request) burst to half a core. Unverified: local-mesh's choice of
# sizes, not measured on a laptop.
LEAN_HELLOWORLD = resources("10m", "64Mi", "500m", "128Mi")
SAMPLE_HELLOWORLD = {"requests": {"cpu": "100m"}}
# curl.yaml requests nothing; the client sleeps until someone execs curl in it.
LEAN_CURL = resources("5m", "8Mi", "100m", "32Mi")


def helloworld_version(index: int) -> str:
    """The version cluster `index` (0-based, the stack's order) serves: v1 in the
    first, v2 in the second, as Istio's docs split them; a third cluster serves
    v1 again (odd-numbered clusters v1, even-numbered v2), so every cluster's
    answers can come from a version only another cluster serves."""
    return HELLOWORLD_VERSIONS[index % len(HELLOWORLD_VERSIONS)]


def served_versions(count: int) -> set[str]:
    """The versions a mesh of `count` clusters serves together."""
    return {helloworld_version(index) for index in range(count)}


def helloworld_images(count: int, caches: bool, sidecar_proxy: str | None) -> tuple[str, ...]:
    """What the helloworld and curl pods of a mesh of `count` clusters run,
    through the image caches with `caches`, and the proxy istiod's injector
    gives them (None in ambient)."""
    images = [HELLOWORLD_IMAGES[version] for version in sorted(served_versions(count))] + [CURL_IMAGE]
    return tuple(pulled_from(image, caches) for image in images) + ((sidecar_proxy,) if sidecar_proxy else ())


def helloworld_resources(lean: bool) -> dict[str, Any]:
    return LEAN_HELLOWORLD if lean else SAMPLE_HELLOWORLD


def curl_resources(lean: bool) -> dict[str, Any] | None:
    return LEAN_CURL if lean else None


def helloworld_pods(lean: bool, sidecar: Requests | None) -> dict[str, Requests]:
    """What one cluster's helloworld and curl pods request (their sidecars' too)."""
    pods = {
        "helloworld": requests_of(helloworld_resources(lean)),
        "curl": requests_of(curl_resources(lean)),
    }
    if sidecar is not None:
        pods |= {"helloworld sidecar": sidecar, "curl sidecar": sidecar}
    return pods


def _metadata(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": HELLOWORLD_NAMESPACE}
    if labels:
        metadata["labels"] = labels
    return metadata


def helloworld_namespace(ambient: bool) -> Object:
    """In the mesh as the httpbin sample's namespace is (sidecar injection, or ambient)."""
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": HELLOWORLD_NAMESPACE, "labels": sample_namespace_labels(ambient)},
    }


def helloworld_service() -> Object:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata("helloworld", {"app": "helloworld", "service": "helloworld"}),
        "spec": {"ports": [{"port": HELLOWORLD_PORT, "name": "http"}], "selector": {"app": "helloworld"}},
    }


def helloworld_deployment(version: str, lean: bool, caches: bool) -> Object:
    labels = {"app": "helloworld", "version": version}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(f"helloworld-{version}", labels),
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {
                            "name": "helloworld",
                            "image": pulled_from(HELLOWORLD_IMAGES[version], caches),
                            "imagePullPolicy": IMAGE_PULL_POLICY,
                            "resources": helloworld_resources(lean),
                            "ports": [{"containerPort": HELLOWORLD_PORT}],
                        }
                    ]
                },
            },
        },
    }


def curl_service_account() -> Object:
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _metadata("curl")}


def curl_service() -> Object:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata("curl", {"app": "curl", "service": "curl"}),
        "spec": {"ports": [{"port": CURL_PORT, "name": "http"}], "selector": {"app": "curl"}},
    }


def curl_deployment(lean: bool, caches: bool) -> Object:
    """curl.yaml's client, without its optional `curl-secret` volume (client
    certificates for Istio's TLS tasks, which no one creates here)."""
    container: dict[str, Any] = {
        "name": "curl",
        "image": pulled_from(CURL_IMAGE, caches),
        "command": ["/bin/sleep", "infinity"],
        "imagePullPolicy": IMAGE_PULL_POLICY,
    }
    if (requests := curl_resources(lean)) is not None:
        container["resources"] = requests
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata("curl"),
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "curl"}},
            "template": {
                "metadata": {"labels": {"app": "curl"}},
                "spec": {
                    "terminationGracePeriodSeconds": 0,
                    "serviceAccountName": "curl",
                    "containers": [container],
                },
            },
        },
    }


def helloworld_virtual_service(gateway: str) -> Object:
    """helloworld-gateway.yaml's route (exact /hello to port 5000), hostless and
    bound to `gateway` (namespace/name), the Gateway the sample's routes share."""
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": _metadata("helloworld"),
        "spec": {
            "hosts": ["*"],
            "gateways": [gateway],
            "http": [
                {
                    "match": [{"uri": {"exact": HELLOWORLD_PATH}}],
                    "route": [
                        {
                            "destination": {
                                "host": f"helloworld.{HELLOWORLD_NAMESPACE}.svc.cluster.local",
                                "port": {"number": HELLOWORLD_PORT},
                            }
                        }
                    ],
                }
            ],
        },
    }


def helloworld_objects(index: int, ambient: bool, lean: bool, gateway: str, caches: bool) -> list[Object]:
    """Cluster `index`'s objects, its Namespace first (every other object is in
    it); `caches`: the images through the host's image caches."""
    return [
        helloworld_namespace(ambient),
        helloworld_service(),
        helloworld_deployment(helloworld_version(index), lean, caches),
        curl_service_account(),
        curl_service(),
        curl_deployment(lean, caches),
        helloworld_virtual_service(gateway),
    ]
