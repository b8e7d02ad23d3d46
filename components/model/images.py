"""Where the stack's images come from, and the host's registries the node pulls
through: one pull-through cache per upstream registry, and a registry for the
user's own images. Pure: names and addresses only.

Every host registry is a CNCF Distribution `registry:2` container on this
host, named here, joined to the cluster's docker network, where the node
reaches it by container name on the registry's own port (Distribution listens
on :5000 unless configured otherwise: distribution/distribution
cmd/registry/config-example.yml, `http: addr: :5000`).
"""

from __future__ import annotations

# The upstream registries the stack's images come from (each part lists its
# own: docker.io/istio, quay.io/metallb, quay.io/kiali, quay.io/prometheus and
# quay.io/prometheus-operator (the prometheus chart's defaults, which local-mesh
# keeps; Istio's own values-prometheus.yaml takes docker.io/prom and ghcr.io),
# docker.io/grafana, docker.io/jaegertracing, docker.io/mccutchen;
# shared/upstream). tests/test_render_images.py holds every rendered image to
# one of these.
UPSTREAM_REGISTRIES = ("docker.io", "quay.io", "ghcr.io")
REGISTRY_PORT = 5000
# The user's own registry: `docker push localhost:<port>/<image>` from the host.
LOCAL_REGISTRY_NAME = "local-mesh-registry"


def cache_name(registry: str) -> str:
    """The container (and so the node-side host name) of the cache of `registry`."""
    return "local-mesh-cache-" + registry.replace(".", "-")


def cache_host(registry: str) -> str:
    """How the node names the cache of `registry` in an image reference."""
    return f"{cache_name(registry)}:{REGISTRY_PORT}"


def local_registry_host() -> str:
    """How the node (and a pod spec) names the user's own registry."""
    return f"{LOCAL_REGISTRY_NAME}:{REGISTRY_PORT}"


def registry_of(image: str) -> str:
    """The registry an image reference names: its first path component when
    that holds a `.` or `:` or is `localhost`, else Docker Hub
    (distribution/reference normalize.go, splitDockerDomain)."""
    first, slash, _ = image.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        return first
    return "docker.io"


def pulled_from(image: str, caches: bool) -> str:
    """Where the node pulls `image` (a reference, or a repository or hub
    without a tag, written with its registry and full path) from: with
    `caches`, the cache of its registry, on the same path (a Distribution proxy
    serves the upstream's repositories under their own names); else the
    upstream itself."""
    if not caches:
        return image
    registry = registry_of(image)
    path = image.removeprefix(f"{registry}/")
    return f"{cache_host(registry)}/{path}"
