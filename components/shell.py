"""The boundary between Python and the shell scripts in components/scripts/:
the environment each script expects (the names opposite its `: "${X:?}"`
header) and how its answer is read. Pure.

Every value reaches a script through an environment variable, never pasted
into its text, so a config value cannot become shell.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from ipaddress import IPv4Address
from pathlib import Path

import pulumi
import yaml

from components.model import images
from components.model.network import LOOPBACK, HostNetworks, is_docker_desktop, read_docker_networks
from components.model.parts.istio import INGRESS_NODE_PORT
from components.model.settings import ClusterSettings

SCRIPTS = Path(__file__).parent / "scripts"
# Commands run their scripts with bash (the scripts use bash features), found on PATH.
INTERPRETER = ["bash", "-c"]

# How long the MetalLB webhook gate retries (metallb-webhook-ready.sh): a first
# install on a cold laptop pulls MetalLB's images before the webhook can serve.
WEBHOOK_WAIT_SECONDS = 300
WEBHOOK_POLL_SECONDS = 2


# A script line `# local-mesh: include NAME` stands for the text of scripts/NAME.
_INCLUDE = "# local-mesh: include "


def script(name: str) -> str:
    """A script's text. It is passed inline so that Pulumi's state holds the exact
    delete script, which then works even if this checkout has moved or changed;
    an included script is written into it for the same reason."""
    lines = (SCRIPTS / name).read_text().splitlines(keepends=True)
    return "".join(script(line.removeprefix(_INCLUDE).strip()) if line.startswith(_INCLUDE) else line for line in lines)


def local_port_environment(settings: ClusterSettings) -> dict[str, str]:
    """The node port the node's container publishes on the host's loopback, and
    which host port (0: a free one), where it publishes one; nothing otherwise,
    so a stack with localPort off keeps its cluster's environment as it was."""
    if not settings.publishes_local_port:
        return {}
    return {
        "LOCAL_NODE_PORT": str(INGRESS_NODE_PORT),
        "LOCAL_HOST_IP": LOOPBACK,
        "LOCAL_HOST_PORT": str(settings.local_port),
    }


def cluster_environment(settings: ClusterSettings) -> dict[str, str]:
    """cluster-create.sh and cluster-delete.sh."""
    return {
        "MINIKUBE_PROFILE": settings.profile,
        "MINIKUBE_DRIVER": settings.driver,
        "MINIKUBE_CPUS": str(settings.cpus),
        "MINIKUBE_MEMORY": f"{settings.memory_mb}mb",
        "MINIKUBE_KUBERNETES_VERSION": settings.kubernetes_version,
        "MINIKUBE_NODES": str(settings.nodes),
        **local_port_environment(settings),
        **cache_environment(settings),
    }


def cache_environment(settings: ClusterSettings) -> dict[str, str]:
    """cluster-create.sh's Docker daemon flags for the image caches, and the host
    registries cluster-delete.sh takes off the profile's network; nothing without
    the caches, so a stack without them keeps its cluster's inputs as they were."""
    if not settings.caches_images:
        return {}
    return {
        "MINIKUBE_REGISTRY_MIRROR": images.docker_hub_mirror(),
        "MINIKUBE_INSECURE_REGISTRY": ",".join(images.insecure_registries()),
        "LOCAL_MESH_REGISTRY_NAMES": " ".join(images.host_registries()),
        "LOCAL_MESH_REGISTRY_LABEL": images.REGISTRY_LABEL,
    }


def host_registries_environment(network: str) -> dict[str, str]:
    """host-registries.sh: the host registries, and the cluster's docker network they join."""
    registries = images.host_registries()
    return {
        "LOCAL_MESH_CACHES": " ".join(f"{name}={url}" for name, url in registries.items() if url),
        "LOCAL_MESH_LOCAL_REGISTRY": images.LOCAL_REGISTRY_NAME,
        "LOCAL_MESH_REGISTRY_HOST_PORT": str(images.LOCAL_REGISTRY_HOST_PORT),
        "LOCAL_MESH_REGISTRY_IMAGE": images.REGISTRY_IMAGE,
        "LOCAL_MESH_REGISTRY_STORAGE": images.REGISTRY_STORAGE,
        "LOCAL_MESH_REGISTRY_LABEL": images.REGISTRY_LABEL,
        "LOCAL_MESH_NETWORK": network,
        # "NAME=N": the registry's address is N below the network's broadcast address.
        "LOCAL_MESH_REGISTRY_OFFSETS": " ".join(f"{name}={n}" for name, n in images.registry_offsets().items()),
    }


def shared_network_environment(network: str, static_ip: pulumi.Input[str]) -> Mapping[str, pulumi.Input[str]]:
    """cluster-create.sh's `minikube start`, for a later cluster of a
    multicluster stack: the first profile's docker network to join, and this
    node's own address on it (components/model/network.py, shared_node_address).
    minikube reads every start flag from MINIKUBE_<FLAG> as well
    (cmd/minikube/cmd/root.go setupViper: SetEnvPrefix, AutomaticEnv, `-` as
    `_`; start.go binds the start flags, at v1.38.1), so these are --network
    and --static-ip without a line of the script changing for the first cluster.
    An existing network is used as it is (pkg/drivers/kic/oci/network_create.go:75-79),
    and without --static-ip the node would take the gateway + 1: the first
    profile's node (pkg/drivers/kic/kic.go:96-120)."""
    return {"MINIKUBE_NETWORK": network, "MINIKUBE_STATIC_IP": static_ip}


def access_environment(settings: ClusterSettings) -> dict[str, str]:
    """cluster-access.sh: with a published node port, also the driver, whose
    CLI (docker or podman) reads the host port back."""
    environment = {"MINIKUBE_PROFILE": settings.profile, "KUBE_CONTEXT": settings.kube_context}
    if settings.publishes_local_port:
        environment.update(MINIKUBE_DRIVER=settings.driver, LOCAL_NODE_PORT=str(INGRESS_NODE_PORT))
    return environment


def stack_owner(organization: str, project: str, stack: str, backend_url: str) -> str:
    """The one line that names a stack in its profile's owner mark: the same
    project and stack name in another organization or another state backend
    (another clone's `.pulumi-state`) is another stack. An empty backend is the
    one the Pulumi CLI is logged in to."""
    where = f" at {backend_url}" if backend_url else ""
    return " ".join(f"{organization}/{project}/{stack}{where}".split())


def owner_environment(owner: str) -> dict[str, str]:
    """What cluster-create.sh, cluster-access.sh and cluster-delete.sh check a
    profile's owner mark against (scripts/profile-owner.sh)."""
    return {"LOCAL_MESH_OWNER": owner}


def preview_environment(preview: bool) -> dict[str, str]:
    """cluster-access.sh: a preview leaves a stopped profile stopped."""
    return {"LOCAL_MESH_PREVIEW": "true" if preview else "false"}


def existing_access_environment(settings: ClusterSettings) -> dict[str, str]:
    """existing-cluster-access.sh."""
    return {"KUBE_CONTEXT": settings.kube_context}


def webhook_gate_environment(
    kubeconfig: pulumi.Input[str], probe_manifest: pulumi.Input[str]
) -> Mapping[str, pulumi.Input[str]]:
    """metallb-webhook-ready.sh: the kubeconfig (a secret) and the pool to dry-run, as JSON."""
    return {
        "KUBECONFIG_CONTENT": kubeconfig,
        "PROBE_MANIFEST": probe_manifest,
        "WAIT_SECONDS": str(WEBHOOK_WAIT_SECONDS),
        "POLL_SECONDS": str(WEBHOOK_POLL_SECONDS),
    }


def recreate_triggers(settings: ClusterSettings) -> list[str]:
    """minikube cannot resize or re-version an existing profile, so any change
    here must recreate the cluster (the Command is delete-before-replace)."""
    environment = cluster_environment(settings)
    return [f"{key}={environment[key]}" for key in sorted(environment)]


@dataclass(frozen=True)
class ClusterAccess:
    node_ip: str
    kubeconfig: str
    # The host's loopback port that reaches the ingress, where one is published.
    local_port: int | None = None
    # Whether this host reaches the node's network (and so MetalLB's addresses).
    reaches_node_network: bool = True


def parse_cluster_access(stdout: str, context: str) -> ClusterAccess:
    """Read cluster-access.sh's or existing-cluster-access.sh's answer: the
    node address on the first line (`minikube ip`, or the first node's
    InternalIP), then the flattened kubeconfig of that one context."""
    first_line, _, kubeconfig = stdout.partition("\n")
    try:
        node_ip = str(IPv4Address(first_line.strip()))
    except ValueError:
        raise ValueError(f"the node address read is {first_line.strip()!r}, not an IPv4 address") from None
    document = yaml.safe_load(kubeconfig) if kubeconfig.strip() else None
    contexts = [entry.get("name") for entry in (document or {}).get("contexts") or []]
    if contexts != [context]:
        raise ValueError(f"the kubeconfig read for context {context!r} holds contexts {contexts}, not exactly that one")
    return ClusterAccess(node_ip=node_ip, kubeconfig=kubeconfig)


# cluster-access.sh's binding line when the node's container publishes no host port.
NO_BINDING = "-"


def parse_local_binding(line: str) -> int:
    """The host port in `docker port <container> <port>/tcp`'s first line,
    HOST_IP:HOST_PORT (docker/cli cli/command/container/port.go runPort,
    net.JoinHostPort, v29.7.2), which must be on the loopback address."""
    host, _, port = line.strip().rpartition(":")
    if host != LOOPBACK or not port.isdigit():
        raise ValueError(
            f"the node's container publishes node port {INGRESS_NODE_PORT} on {line.strip()!r}, "
            f"not on {LOOPBACK}:<port>: only this host may reach it"
        )
    return int(port)


def parse_minikube_access(stdout: str, context: str, publishes_local_port: bool) -> ClusterAccess:
    """Read cluster-access.sh's answer: the node IP; with a published node port,
    then the host binding `docker port` printed and Docker's OperatingSystem
    (`docker info`); then the kubeconfig (as parse_cluster_access)."""
    if not publishes_local_port:
        return parse_cluster_access(stdout, context)
    node_line, binding, operating_system, kubeconfig = [*stdout.split("\n", 3), "", "", ""][:4]
    access = parse_cluster_access(f"{node_line}\n{kubeconfig}", context)
    return ClusterAccess(
        node_ip=access.node_ip,
        kubeconfig=access.kubeconfig,
        local_port=None if binding.strip() == NO_BINDING else parse_local_binding(binding),
        reaches_node_network=not is_docker_desktop(operating_system),
    )


# docker-networks.sh's first word when Docker could not be asked.
DOCKER_UNAVAILABLE = "unavailable:"


def parse_host_networks(stdout: str) -> HostNetworks:
    """Read docker-networks.sh's answer: `docker network inspect`'s JSON array,
    or one line saying why Docker could not be asked."""
    text = stdout.strip()
    if text.startswith(DOCKER_UNAVAILABLE):
        return HostNetworks((), text.removeprefix(DOCKER_UNAVAILABLE).strip() or "no answer")
    try:
        return HostNetworks(read_docker_networks(text))
    except (ValueError, AttributeError) as problem:
        return HostNetworks((), f"docker network inspect printed no network list ({problem})")
