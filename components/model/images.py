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

from ipaddress import IPv4Address, IPv4Network

# The upstream registries the stack's images come from (each part lists its
# own: docker.io/istio, quay.io/metallb, quay.io/kiali, quay.io/prometheus and
# quay.io/prometheus-operator (the prometheus chart's defaults, which local-mesh
# keeps; Istio's own values-prometheus.yaml takes docker.io/prom and ghcr.io),
# docker.io/grafana, docker.io/jaegertracing, docker.io/mccutchen;
# shared/upstream). tests/test_render_images.py holds every rendered image to
# one of these. No ghcr.io: no image local-mesh runs comes from there, so a
# cache of it would serve nothing.
UPSTREAM_REGISTRIES = ("docker.io", "quay.io")
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


# --- The host registries' containers (components/scripts/host-registries.sh) ---

# CNCF Distribution's image on Docker Hub, as kind's local-registry guide runs it
# (kubernetes-sigs/kind site/static/examples/kind-with-registry.sh).
REGISTRY_IMAGE = "registry:2"
# Distribution keeps what it stores under /var/lib/registry, the image's VOLUME
# (distribution/distribution Dockerfile and cmd/registry/config-example.yml
# `storage.filesystem.rootdirectory`, v2.8.3): a named volume there outlives the container.
REGISTRY_STORAGE = "/var/lib/registry"
# Every container and volume local-mesh makes on the host carries this label
# (its value: what the container is): the scripts reuse, and `make clean-cache`
# removes, only what carries it.
REGISTRY_LABEL = "local-mesh.host-registry"
# Where a cache fetches what it does not have yet. Docker Hub's registry API is
# registry-1.docker.io (distribution docs/content/recipes/mirror.md, "Configure the cache").
UPSTREAM_URLS = {
    "docker.io": "https://registry-1.docker.io",
    "quay.io": "https://quay.io",
}
# The host port of the user's own registry, on 127.0.0.1 only: 5001, as in kind's
# guide (kind-with-registry.sh `reg_port='5001'`), not Distribution's 5000,
# which macOS's AirPlay Receiver takes (unverified).
LOCAL_REGISTRY_HOST_PORT = 5001


def host_registries() -> dict[str, str]:
    """Every host registry by container name: a cache's upstream URL (Distribution's
    `proxy.remoteurl`, set by REGISTRY_PROXY_REMOTEURL: distribution
    docs/configuration.md, "Override specific configuration options", v2.8.3), or
    "" for the user's own registry, which is a plain registry that takes pushes (a
    proxy refuses them: registry/proxy/proxymanifeststore.go Put, ErrUnsupported)."""
    caches = {cache_name(registry): UPSTREAM_URLS[registry] for registry in UPSTREAM_REGISTRIES}
    return {**caches, LOCAL_REGISTRY_NAME: ""}


# Each host registry has a fixed address on the cluster's docker network
# (`docker network connect --ip`), counted down from the top of the subnet below
# .254 (which, with the broadcast address, no pool may hold:
# components/model/network.py): .253, .252, .251 of minikube's /24. Without
# --ip, Docker gives a container the lowest free address (moby v28.5.2
# libnetwork/ipams/defaultipam/allocator.go getAddress, bitmap SetAny from the
# bottom), the one a later cluster's node is started at (network.py,
# shared_node_address) or, after a Docker restart, the node's own; a node's
# container has a static address (minikube v1.38.1 pkg/drivers/kic/oci/oci.go
# CreateContainerNode, `--ip`) and Docker refuses to start it on a taken one
# ("Address already in use": moby libnetwork/ipamapi/contract.go
# ErrIPAlreadyAllocated). --ip needs a network made with a subnet (moby
# api/types/network/ipam.go: "user specified IP address is supported only
# when connecting to networks with user configured subnets"), which minikube
# gives every network it makes (oci/network_create.go tryCreateDockerNetwork,
# --subnet and --gateway, v1.38.1).
REGISTRY_ADDRESS_TOP = 2  # the first registry's distance below the broadcast address


def registry_offsets() -> dict[str, int]:
    """Every host registry's distance below its network's broadcast address."""
    return {name: REGISTRY_ADDRESS_TOP + index for index, name in enumerate(host_registries())}


def registry_addresses(subnet: IPv4Network) -> dict[str, IPv4Address]:
    """Every host registry's fixed address on the docker network of `subnet`."""
    return {name: subnet.broadcast_address - offset for name, offset in registry_offsets().items()}


def docker_hub_mirror() -> str:
    """The node's Docker daemon's `registry-mirrors` entry. The daemon uses
    mirrors for Docker Hub alone (moby registry/config.go loadMirrors: only the
    official index gets them, v28.5.2), so the other registries' images are
    named by their cache's host instead."""
    return f"http://{cache_host('docker.io')}"


def insecure_registries() -> list[str]:
    """The hosts the node's Docker daemon may pull from over plain HTTP: every host registry."""
    return [f"{name}:{REGISTRY_PORT}" for name in host_registries()]


def local_registry_push_host() -> str:
    """Where the user pushes from the host: `docker push <this>/<image>`."""
    return f"localhost:{LOCAL_REGISTRY_HOST_PORT}"


def local_registry_hosting() -> str:
    """The `localRegistryHosting.v1` entry of the `local-registry-hosting`
    ConfigMap in kube-public (kubernetes/enhancements
    keps/sig-cluster-lifecycle/generic/1755-communicating-a-local-registry,
    LocalRegistryHostingV1; every field is optional): where tools outside the
    cluster push (`host`) and how the container runtime names it in a pod spec
    (`hostFromContainerRuntime`). `hostFromClusterNetwork` is left out: whether
    a pod resolves a host container's name is unverified, and the KEP says
    tools in the cluster then assume no registry."""
    return f'host: "{local_registry_push_host()}"\nhostFromContainerRuntime: "{local_registry_host()}"\n'
