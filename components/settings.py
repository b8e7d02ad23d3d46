"""The stack's configuration, parsed once into one validated, typed object.

Pure: no Pulumi resources are created here. Defaults live only in Pulumi.yaml;
this module refuses a missing key rather than inventing a second default.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from ipaddress import IPv4Address

import pulumi
from pulumi.runtime.config import CONFIG, get_config_env

from components.network import (
    AddressRange,
    HostNetworks,
    check_pool_clear_of_other_slices,
    network_holding,
    node_subnet,
    parse_address_pool,
    resolve_address_pool,
    resolve_network_pool,
)

PROJECT = "local-mesh"

CONFIG_KEYS = (
    "cluster",
    "kubeContext",
    "loadBalancer",
    "nodes",
    "profile",
    "driver",
    "cpus",
    "memory",
    "kubernetesVersion",
    "metallbVersion",
    "addressPool",
    "istioVersion",
    "istioProfile",
    "resources",
    "mtls",
    "sample",
    "preflight",
    "observability",
    "dashboardRoutes",
    "platform",
)

ISTIO_PROFILES = ("demo", "minimal", "ambient")
RESOURCE_PROFILES = ("lean", "istio")
MTLS_MODES = ("strict", "permissive")
# minikube: a profile of local-mesh's own; existing: a cluster the user's kubeconfig names.
CLUSTER_KINDS = ("minikube", "existing")
# metallb: local-mesh gives LoadBalancer Services addresses; none: the cluster already does.
LOAD_BALANCERS = ("metallb", "none")
# full: Kiali, Prometheus, Grafana and Jaeger; kiali: Kiali and the Prometheus
# its traffic graph reads; none: no observability addons.
OBSERVABILITY_LEVELS = ("full", "kiali", "none")
# Whether the ingress routes /kiali, /grafana, … to the dashboards. auto: on
# local-mesh's own minikube (a host-only docker network), off on an existing
# cluster, whose ingress others may reach.
DASHBOARD_ROUTES = ("auto", "on", "off")
# The platforms istio-cni's chart has a profile for (its files/profile-platform-<name>.yaml,
# Istio 1.31): where that distribution keeps CNI config, binaries and network namespaces.
CNI_PLATFORMS = ("gke", "k3d", "k3s", "microk8s", "minikube", "openshift")
# auto: local-mesh's own minikube's, or what an existing cluster's nodes report
# (components/discovery.py); none: the chart's defaults; or one of CNI_PLATFORMS.
PLATFORMS = ("auto", "none", *CNI_PLATFORMS)

# Drivers whose node sits on a host-reachable /24 network, which is what the
# MetalLB address pool is carved from. `none` and `ssh` have no such network.
DRIVERS = ("docker", "podman", "kvm2", "qemu2", "virtualbox", "hyperkit", "vfkit", "hyperv")

# minikube refuses to start below these (exit codes 29 and 23).
MIN_CPUS = 2
MIN_MEMORY_MB = 1800
# The oldest Kubernetes minikube v1.38 starts (pkg/minikube/constants/constants.go:43, OldestKubernetesVersion).
MINIKUBE_OLDEST_KUBERNETES = (1, 28, 0)
# Kubernetes minors each Istio minor supports (istio.io, "Supported Releases").
ISTIO_KUBERNETES_SUPPORT: dict[tuple[int, int], tuple[tuple[int, int], tuple[int, int]]] = {
    (1, 31): ((1, 32), (1, 36)),
}

# The profile names the docker container, network, kube context and node
# hostname, and reaches shell scripts: DNS-label characters only, and at least
# 2 of them (minikube's config.ProfileNameValid, pkg/minikube/config/profile.go:87;
# `minikube start` refuses a shorter one with "Minimum 2 characters", exit 14).
_PROFILE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,61}[a-z0-9]$")
_PROFILE_MAX_LENGTH = 63
# A stack name that can name its profile as it is: no `--` (hashed names have it).
_PLAIN_STACK_PATTERN = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_MEMORY_PATTERN = re.compile(r"^(\d+)([bkmg])?$", re.IGNORECASE)
_KUBERNETES_VERSION_PATTERN = re.compile(r"^v(\d+)\.(\d+)\.(\d+)$")
_CHART_VERSION_PATTERN = re.compile(r"^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$")
_BYTES_PER_UNIT = {"b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


class ConfigError(ValueError):
    """A configuration value the program cannot use; the message is one line for the user."""


@dataclass(frozen=True)
class Settings:
    cluster: str
    # The one kube context local-mesh reaches: the minikube profile's, or kubeContext.
    kube_context: str
    load_balancer: str
    nodes: int
    profile: str
    driver: str
    cpus: int
    memory_mb: int
    kubernetes_version: str
    metallb_version: str
    address_pool: AddressRange | None
    istio_version: str
    istio_profile: str
    resources: str
    mtls: str
    sample: bool
    preflight: bool
    observability: str
    dashboard_routes: str
    platform: str

    @property
    def on_minikube(self) -> bool:
        return self.cluster == "minikube"

    @property
    def routes_dashboards(self) -> bool:
        return self.dashboard_routes == "on" or (self.dashboard_routes == "auto" and self.on_minikube)

    @property
    def metallb(self) -> bool:
        return self.load_balancer == "metallb"


class NodeConfigError(pulumi.RunError):
    """A configuration value that turns out unusable only once the node exists.

    Raised inside Output.apply: the SDK wraps a ValueError from there in
    "While processing input/resource" lines (pulumi/runtime/rpc.py
    serialize_properties, runtime/resource.py), while the language host logs a
    RunError as its message alone (sdk/python/cmd/pulumi-language-python-exec:234).
    """


def _message(key: str, value: object, accepted: str) -> str:
    return f"{PROJECT}:{key} = {str(value)!r} is not valid: expected {accepted}"


def _error(key: str, value: object, accepted: str) -> ConfigError:
    return ConfigError(_message(key, value, accepted))


def address_pool_on_node(
    settings: Settings,
    node_ip: str,
    host: HostNetworks | None = None,
    cluster_addresses: Collection[IPv4Address] = (),
) -> AddressRange:
    """The pool MetalLB gets on this node, or one line naming local-mesh:addressPool.

    On local-mesh's own minikube the node has its profile's /24 to itself. On an
    existing cluster (`host`: this host's docker networks), the pool comes from
    the docker network that holds the node; where none does (a remote cluster,
    no Docker), only an explicit addressPool says which addresses are free.
    Given the addresses of all the cluster's nodes (pre-flight reads them), an
    explicit pool must also keep clear of every other container's slice."""
    value = "" if settings.address_pool is None else settings.address_pool
    network = network_holding(node_ip, host) if host is not None and not settings.on_minikube else None
    if network is None and not settings.on_minikube and settings.address_pool is None:
        why = f"Docker: {host.unavailable}" if host and host.unavailable else "no docker network of this host holds it"
        raise NodeConfigError(
            _message(
                "addressPool",
                value,
                f"free addresses on the network of node {node_ip} (A.B.C.D-A.B.C.E or a CIDR), or set "
                f"{PROJECT}:loadBalancer none: local-mesh cannot tell which are free there ({why})",
            )
        )
    try:
        if network is None:
            return resolve_address_pool(settings.address_pool, node_ip)
        pool = resolve_network_pool(settings.address_pool, node_ip, network)
        if cluster_addresses:
            check_pool_clear_of_other_slices(pool, network, {IPv4Address(node_ip), *cluster_addresses})
        return pool
    except ValueError as problem:
        accepted = (
            f"addresses inside the node's network {node_subnet(node_ip)}, without .1, .254 and the node"
            if network is None
            else f"free addresses of docker network {network.name} ({network.subnet}), which holds node {node_ip}"
        )
        raise NodeConfigError(_message("addressPool", value, f"{accepted} ({problem})")) from None


def _choice(raw: Mapping[str, str], key: str, choices: tuple[str, ...]) -> str:
    value = raw[key].strip()
    if value not in choices:
        raise _error(key, value, f"one of {', '.join(choices)}")
    return value


def _boolean(raw: Mapping[str, str], key: str) -> bool:
    value = raw[key].strip().lower()
    if value not in ("true", "false"):
        raise _error(key, raw[key], "true or false")
    return value == "true"


def parse_memory_mb(text: str) -> int:
    """minikube's --memory syntax: a number with an optional b/k/m/g unit; a bare number is MB."""
    match = _MEMORY_PATTERN.match(text.strip())
    if not match:
        raise ValueError(f"unreadable memory size {text!r}")
    amount, unit = int(match.group(1)), (match.group(2) or "m").lower()
    return amount * _BYTES_PER_UNIT[unit] // 1024**2


def parse_kubernetes_version(text: str) -> tuple[int, int, int]:
    match = _KUBERNETES_VERSION_PATTERN.match(text)
    if not match:
        raise ValueError(f"unreadable Kubernetes version {text!r}")
    major, minor, patch = (int(part) for part in match.groups())
    return major, minor, patch


def istio_kubernetes_support(istio_version: str) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """The oldest and newest Kubernetes minor this Istio release supports, if known."""
    major, minor = (int(part) for part in istio_version.split(".")[:2])
    return ISTIO_KUBERNETES_SUPPORT.get((major, minor))


def dotted(version: tuple[int, ...]) -> str:
    return ".".join(str(part) for part in version)


def default_profile(stack: str) -> str:
    """One minikube profile per stack, so two stacks never share a cluster.

    `local-mesh-<stack>` when the stack name already is lowercase letters and
    digits in `-`-separated runs and fits (so `dev` keeps `local-mesh-dev`);
    otherwise the name made so, `--`, and the first 8 hex digits of the
    stack name's SHA-256: `My_Stack` and `my-stack` differ, and only a hashed
    name holds `--`, so no two stacks share a profile (short of a 32-bit hash
    collision)."""
    plain = f"{PROJECT}-{stack}"
    if _PLAIN_STACK_PATTERN.match(stack) and len(plain) <= _PROFILE_MAX_LENGTH:
        return plain
    digest = hashlib.sha256(stack.encode()).hexdigest()[:8]
    slug = re.sub(r"[^a-z0-9]+", "-", stack.lower()).strip("-")
    room = _PROFILE_MAX_LENGTH - len(f"{PROJECT}---{digest}")
    slug = slug[:room].rstrip("-")
    return f"{PROJECT}-{slug}--{digest}" if slug else f"{PROJECT}--{digest}"


def project_config() -> dict[str, str]:
    """Every `local-mesh:` key the engine handed this program, without the prefix.

    Read whole (not key by key) so that a misspelled key can be reported.
    """
    prefix = f"{PROJECT}:"
    merged = {**get_config_env(), **CONFIG.get()}
    return {key.removeprefix(prefix): str(value) for key, value in merged.items() if key.startswith(prefix)}


def unknown_keys(raw: Mapping[str, str]) -> list[str]:
    return sorted(key for key in raw if key not in CONFIG_KEYS)


def parse_settings(raw: Mapping[str, str], stack: str) -> Settings:
    """Validate the project's config (keys without the `local-mesh:` prefix).

    Raises ConfigError naming the key, the bad value and what is accepted.
    """
    for key in unknown_keys(raw):
        close = difflib.get_close_matches(key, CONFIG_KEYS, n=1)
        hint = f"did you mean {PROJECT}:{close[0]}?" if close else f"known keys: {', '.join(CONFIG_KEYS)}"
        raise ConfigError(f"{PROJECT}:{key} is not a configuration key of this project: {hint}")
    missing = [key for key in CONFIG_KEYS if key not in raw]
    if missing:
        raise ConfigError(
            f"{PROJECT}:{missing[0]} has no value: Pulumi.yaml declares its default, "
            "so run the program with the Pulumi CLI from the project directory"
        )

    profile = raw["profile"].strip() or default_profile(stack)
    if not _PROFILE_PATTERN.match(profile):
        raise _error(
            "profile",
            profile,
            "2-63 lowercase letters, digits and '-', starting and ending with a letter or digit "
            "(or empty for local-mesh-<stack>)",
        )

    driver = _choice(raw, "driver", DRIVERS)

    try:
        cpus = int(str(raw["cpus"]).strip())
    except ValueError:
        raise _error("cpus", raw["cpus"], f"a whole number of CPUs, at least {MIN_CPUS}") from None
    if cpus < MIN_CPUS:
        raise _error("cpus", cpus, f"at least {MIN_CPUS} CPUs (minikube refuses fewer)")

    try:
        memory_mb = parse_memory_mb(raw["memory"])
    except ValueError:
        raise _error(
            "memory", raw["memory"], "a size such as 8g, 6144m or 6144 (MB): a number with an optional b/k/m/g"
        ) from None
    if memory_mb < MIN_MEMORY_MB:
        raise _error("memory", raw["memory"], f"at least {MIN_MEMORY_MB} MB (minikube refuses less)")

    versions = {}
    for key in ("metallbVersion", "istioVersion"):
        versions[key] = raw[key].strip()
        if not _CHART_VERSION_PATTERN.match(versions[key]):
            raise _error(key, versions[key], "a chart version such as 1.2.3, without a leading v")

    kubernetes_version = raw["kubernetesVersion"].strip()
    try:
        kubernetes = parse_kubernetes_version(kubernetes_version)
    except ValueError:
        raise _error("kubernetesVersion", kubernetes_version, "a version such as v1.35.1") from None
    if kubernetes < MINIKUBE_OLDEST_KUBERNETES:
        raise _error(
            "kubernetesVersion",
            kubernetes_version,
            f"v{dotted(MINIKUBE_OLDEST_KUBERNETES)} or newer (the oldest minikube starts)",
        )
    support = istio_kubernetes_support(versions["istioVersion"])
    if support is not None and not support[0] <= kubernetes[:2] <= support[1]:
        low, high = (dotted(bound) for bound in support)
        raise _error(
            "kubernetesVersion",
            kubernetes_version,
            f"a v{low}.x to v{high}.x release (what Istio {versions['istioVersion']} supports)",
        )

    pool_text = raw["addressPool"].strip()
    try:
        address_pool = parse_address_pool(pool_text) if pool_text else None
    except ValueError as problem:
        raise _error(
            "addressPool", pool_text, f"A.B.C.D-A.B.C.E or a CIDR, or empty to derive it ({problem})"
        ) from None

    istio_profile, resources, mtls, observability = (
        _choice(raw, key, choices)
        for key, choices in (
            ("istioProfile", ISTIO_PROFILES),
            ("resources", RESOURCE_PROFILES),
            ("mtls", MTLS_MODES),
            ("observability", OBSERVABILITY_LEVELS),
        )
    )
    dashboard_routes = _choice(raw, "dashboardRoutes", DASHBOARD_ROUTES)
    platform = _choice(raw, "platform", PLATFORMS)

    sample, preflight = (_boolean(raw, key) for key in ("sample", "preflight"))

    cluster, load_balancer = _choice(raw, "cluster", CLUSTER_KINDS), _choice(raw, "loadBalancer", LOAD_BALANCERS)
    try:
        nodes = int(str(raw["nodes"]).strip())
    except ValueError:
        raise _error("nodes", raw["nodes"], "a whole number of minikube nodes, at least 1") from None
    if nodes < 1:
        raise _error("nodes", nodes, "at least 1 minikube node")
    context = raw["kubeContext"].strip()
    if cluster == "minikube":
        if context:
            raise _error("kubeContext", context, "empty with cluster minikube (the context is the profile's)")
        if load_balancer == "none":
            raise _error(
                "loadBalancer", load_balancer, "metallb with cluster minikube (nothing else gives it addresses)"
            )
        if platform not in ("auto", "minikube"):
            raise _error("platform", platform, "auto or minikube with cluster minikube (it runs the docker runtime)")
        # minikube names the kube context after the profile.
        context = profile
    else:
        if not context:
            raise _error("kubeContext", context, "the name of a context in your kubeconfig with cluster existing")
        if nodes != 1:
            raise _error("nodes", nodes, "1 with cluster existing (the cluster has the nodes it has)")

    return Settings(
        cluster=cluster,
        kube_context=context,
        load_balancer=load_balancer,
        nodes=nodes,
        profile=profile,
        driver=driver,
        cpus=cpus,
        memory_mb=memory_mb,
        kubernetes_version=kubernetes_version,
        metallb_version=versions["metallbVersion"],
        address_pool=address_pool,
        istio_version=versions["istioVersion"],
        istio_profile=istio_profile,
        resources=resources,
        mtls=mtls,
        sample=sample,
        preflight=preflight,
        observability=observability,
        dashboard_routes=dashboard_routes,
        platform=platform,
    )
