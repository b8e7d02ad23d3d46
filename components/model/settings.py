"""The stack's configuration, parsed once into one validated, typed object:
what describes the cluster (ClusterSettings) and what describes the mesh
(MeshSettings).

No Pulumi resources and no processes; it reads the project's config from the
Pulumi SDK (project_config) and the defaults from Pulumi.yaml (declared_defaults).
Defaults live only in Pulumi.yaml; this module refuses a missing key rather than
inventing a second default.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
import shlex
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address
from pathlib import Path

import pulumi
import yaml
from pulumi.runtime.config import CONFIG, get_config_env

from components.model import images
from components.model.network import (
    DEFAULT_POOL_HOSTS,
    AddressRange,
    HostNetworks,
    check_address_pool_size,
    check_pool_clear_of_other_slices,
    network_holding,
    node_subnet,
    parse_address_pool,
    resolve_address_pool,
    resolve_network_pool,
)

PROJECT = "local-mesh"
# The project file, where the defaults live.
PULUMI_YAML = Path(__file__).parents[2] / "Pulumi.yaml"

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
    "imageCache",
    "localPort",
    "clusters",
    "multicluster",
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
# Whether the node pulls through local-mesh's pull-through caches on this host
# (components/model/images.py). auto: on with local-mesh's own minikube on the docker driver.
IMAGE_CACHE_MODES = ("auto", "on", "off")
# How several clusters share one mesh (istio.io, "Install Multicluster"): an
# istiod in each (multi-primary), or one istiod that a remote cluster uses.
MULTICLUSTER_MODES = ("multi-primary", "primary-remote")
# Each cluster is a minikube node and a MetalLB slice on one docker /24
# (components/model/network.py, cluster_pool): three fit a laptop and the /24.
MAX_CLUSTERS = 3
# The platforms istio-cni's chart has a profile for (its files/profile-platform-<name>.yaml,
# Istio 1.31): where that distribution keeps CNI config, binaries and network namespaces.
CNI_PLATFORMS = ("gke", "k3d", "k3s", "microk8s", "minikube", "openshift")
# auto: local-mesh's own minikube's, or what an existing cluster's nodes report
# (components/checks/discovery.py); none: the chart's defaults; or one of CNI_PLATFORMS.
PLATFORMS = ("auto", "none", *CNI_PLATFORMS)

# localPort: a free loopback port picked when the cluster is created, a fixed
# one (unprivileged, so no sudo), or none.
LOCAL_PORT_ANY = 0
LOCAL_PORT_OFF = "off"
LOCAL_PORT_RANGE = (1024, 65535)
# The drivers whose node is a container whose ports minikube publishes: `--ports`,
# "List of ports that should be exposed (docker and podman driver only)"
# (kubernetes/minikube cmd/minikube/cmd/start_flags.go:285, v1.38.1).
PUBLISHING_DRIVERS = ("docker", "podman")

# Drivers whose node sits on a host-reachable /24 network, which is what the
# MetalLB address pool is carved from. `none` and `ssh` have no such network.
DRIVERS = ("docker", "podman", "kvm2", "qemu2", "virtualbox", "hyperkit", "vfkit", "hyperv")

# minikube refuses to start below these (exit codes 29 and 23).
MIN_CPUS = 2
MIN_MEMORY_MB = 1800
# minikube gives node N of a profile the address gateway + N (.N+1) of its
# network (pkg/drivers/kic/kic.go:113-119 at v1.38.1), and the address pool
# starts at .100 of it: more nodes than this would take the pool's addresses.
MAX_NODES = DEFAULT_POOL_HOSTS[0] - 2
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
# minikube's --memory (pkg/util/utils.go CalculateSizeInMB at v1.38.1): a bare
# whole number is MB; anything else is docker/go-units v0.5.0 RAMInBytes
# (size.go parseSize): a number, an optional space, then optionally b, or one of
# k, m, g, t, p (1024-based, any case) followed by nothing, b or ib (4g, 4gb,
# 4GiB, 4096MB); a number without a unit is bytes.
_WHOLE_NUMBER = re.compile(r"^\d+$")
_MEMORY_PATTERN = re.compile(r"^(\d+\.?\d*|\.\d+) ?(?:(b)|([kmgtp])(b|ib)?)?$", re.IGNORECASE)
_BYTES_PER_UNIT = {unit: 1024**power for power, unit in enumerate("kmgtp", start=1)}
# minikube's own words for "all the driver has" and "no limit" (pkg/minikube/constants/constants.go:144-146).
MEMORY_KEYWORDS = {
    "max": "all of the driver's memory, which leaves the host none",
    "no-limit": "no memory limit on the node's container, so it takes what it wants of the host's",
}
# Canonical: no leading zeros (v01.035.01 is not a Kubernetes release name).
_KUBERNETES_VERSION_PATTERN = re.compile(r"^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
_CHART_VERSION_PATTERN = re.compile(r"^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$")


class ConfigError(pulumi.RunError):
    """A configuration value the program cannot use; the message is one line for the user.

    A RunError: the Python language host logs it as its message alone, where any
    other exception is "Program failed with an unhandled exception:" and the
    traceback (pulumi/pulumi sdk/python/cmd/pulumi-language-python-exec, the
    `except pulumi.RunError` of its main, read where sdk/.version is 3.260.0:
    the CLI ships that script, the pulumi 3.272.0 wheel does not; the wheel's
    automation/_server.py, which runs inline programs, decides alike).
    """


@dataclass(frozen=True)
class ClusterSettings:
    """What describes the cluster a mesh runs on, and what gives it addresses."""

    cluster: str  # CLUSTER_KINDS
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
    address_pool_text: str  # as the user typed it, for messages
    platform: str
    image_cache: str
    # The loopback port asked for: LOCAL_PORT_ANY, a fixed port, or None (off).
    local_port: int | None

    @property
    def publishes_local_port(self) -> bool:
        """Whether local-mesh's minikube publishes the ingress on a loopback port
        (parse_settings refuses a fixed port where it cannot)."""
        return (
            self.on_minikube and self.driver in PUBLISHING_DRIVERS and self.nodes == 1 and self.local_port is not None
        )

    # Which cluster of the stack this is (0: the first, named as a one-cluster
    # stack's); components/model/multicluster.py, cluster_settings.
    cluster_index: int = field(default=0, kw_only=True)

    @property
    def on_minikube(self) -> bool:
        return self.cluster == "minikube"

    @property
    def caches_images(self) -> bool:
        """parse_settings allows `on` only where the caches work: local-mesh's
        minikube on the docker driver, whose node joins the caches' docker network."""
        return self.image_cache == "on" or (self.image_cache == "auto" and self.on_minikube and self.driver == "docker")

    @property
    def metallb(self) -> bool:
        return self.load_balancer == "metallb"


@dataclass(frozen=True)
class MeshSettings:
    """What describes the mesh, whichever cluster it runs on."""

    istio_version: str
    istio_profile: str
    resources: str
    mtls: str
    sample: bool
    observability: str
    dashboard_routes: str
    clusters: int  # how many clusters share the mesh (each a minikube profile)
    multicluster: str  # MULTICLUSTER_MODES

    @property
    def multicluster_mesh(self) -> bool:
        return self.clusters > 1


@dataclass(frozen=True)
class Settings(ClusterSettings, MeshSettings):
    """The stack's one cluster and its mesh, and whether pre-flight runs."""

    preflight: bool

    @property
    def routes_dashboards(self) -> bool:
        return self.dashboard_routes == "on" or (self.dashboard_routes == "auto" and self.on_minikube)


class NodeConfigError(pulumi.RunError):
    """A configuration value that turns out unusable only once the node exists.

    Raised inside Output.apply: the SDK wraps a ValueError from there in
    "While processing input/resource" lines (pulumi/runtime/rpc.py
    serialize_properties, runtime/resource.py), while the language host logs a
    RunError as its message alone (see ConfigError).
    """


def _ansi_c(char: str) -> str:
    """One character inside bash's $'...' quoting (bash manual, "ANSI-C Quoting")."""
    if char in "\\'":
        return "\\" + char
    if char.isprintable():
        return char
    named = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}
    return named.get(char) or (f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\U{ord(char):08x}")


def shell_word(text: str) -> str:
    """User text as one shell word on one line: shlex.quote, or, for text with a
    newline or another unprintable character, bash's $'...' quoting with the
    character escaped, so that a message can neither split nor run the text."""
    if text.isprintable():
        return shlex.quote(text)
    return "$'" + "".join(_ansi_c(char) for char in text) + "'"


def quoted(text: str) -> str:
    """User text in a message: a shell word, in quotes even where the shell needs none."""
    word = shell_word(text)
    return word if word.startswith(("'", "$'")) else f"'{word}'"


def _message(key: str, value: object, accepted: str) -> str:
    return f"{PROJECT}:{key} = {quoted(str(value))} is not valid: expected {accepted}"


def _error(key: str, value: object, accepted: str) -> ConfigError:
    return ConfigError(_message(key, value, accepted))


def address_pool_on_node(
    settings: ClusterSettings,
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
    network = network_holding(node_ip, host) if host is not None and not settings.on_minikube else None
    if network is None and not settings.on_minikube and settings.address_pool is None:
        why = f"Docker: {host.unavailable}" if host and host.unavailable else "no docker network of this host holds it"
        raise NodeConfigError(
            _message(
                "addressPool",
                settings.address_pool_text,
                f"free addresses on the network of node {node_ip} (A.B.C.D-A.B.C.E or a CIDR), or set "
                f"{PROJECT}:loadBalancer none: local-mesh cannot tell which are free there ({why})",
            )
        )
    try:
        if network is None:
            return resolve_address_pool(settings.address_pool, node_ip, settings.cluster_index)
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
        raise NodeConfigError(_message("addressPool", settings.address_pool_text, f"{accepted} ({problem})")) from None


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
    """minikube's --memory syntax (above), in MB as minikube counts them (MiB, rounded down)."""
    text = text.strip()
    if _WHOLE_NUMBER.match(text):
        return int(text)
    match = _MEMORY_PATTERN.match(text)
    if not match:
        raise ValueError(f"unreadable memory size {text!r}")
    amount, unit = float(match.group(1)), (match.group(3) or "").lower()
    return int(amount * _BYTES_PER_UNIT.get(unit, 1)) // 1024**2


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


def declared_defaults() -> dict[str, str]:
    """Pulumi.yaml's default of each of the project's keys, as text."""
    declared = yaml.safe_load(PULUMI_YAML.read_text())["config"]
    return {
        key: value if isinstance(value := entry["default"], str) else json.dumps(value)
        for key, entry in declared.items()
        if ":" not in key
    }


def ignored_key_warnings(settings: Settings, defaults: Mapping[str, str], routed_paths: Sequence[str]) -> list[str]:
    """Keys whose value this combination ignores, and dashboards that become reachable to others.
    `routed_paths`: the paths the ingress routes to the dashboards these settings install."""
    warnings = []
    if not settings.metallb:
        ignored = f"is ignored: with {PROJECT}:loadBalancer none, MetalLB is not installed"
        if settings.address_pool_text:
            warnings.append(f"{PROJECT}:addressPool = {quoted(settings.address_pool_text)} {ignored}")
        if settings.metallb_version != defaults["metallbVersion"]:
            warnings.append(f"{PROJECT}:metallbVersion = {quoted(settings.metallb_version)} {ignored}")
    if settings.local_port not in (None, LOCAL_PORT_ANY) and not settings.on_minikube:
        # parse_settings refuses a fixed port on a minikube that cannot publish it.
        warnings.append(
            f"{PROJECT}:localPort = {quoted(_local_port_text(settings.local_port))} is ignored: with {PROJECT}:cluster "
            "existing, local-mesh publishes no port of its own (publish the ingress as the cluster allows: kind's "
            "extraPortMappings, k3d's --port)"
        )
    elif (
        settings.local_port == LOCAL_PORT_ANY
        and settings.on_minikube
        and settings.driver in PUBLISHING_DRIVERS
        and settings.nodes > 1
    ):
        warnings.append(
            f"{PROJECT}:localPort = '{LOCAL_PORT_ANY}' is ignored with {PROJECT}:nodes {settings.nodes}: "
            f"{_ONE_NODE_ONLY} (kubernetes/minikube #16766), so the ingress is reachable on its IP only; "
            f"set it to {LOCAL_PORT_OFF} to say so"
        )
    if settings.clusters == 1 and settings.multicluster != defaults["multicluster"]:
        warnings.append(
            f"{PROJECT}:multicluster = {quoted(settings.multicluster)} is ignored: "
            f"with {PROJECT}:clusters 1 the mesh has one cluster"
        )
    if settings.dashboard_routes == "on" and settings.observability == "none":
        warnings.append(
            f"{PROJECT}:dashboardRoutes = 'on' is ignored: with {PROJECT}:observability none there are no dashboards"
        )
    elif settings.dashboard_routes == "on" and not settings.on_minikube:
        warnings.append(
            f"SECURITY: {PROJECT}:dashboardRoutes = 'on' on an existing cluster: anyone who can reach its ingress "
            f"gateway's load balancer can open {', '.join(routed_paths)} there without logging in; set it to auto "
            "or off (reach them with kubectl port-forward) unless only you can reach that address"
        )
    return warnings


# minikube 1.38.1 hands every --ports value to every node's `docker run -p`
# (pkg/minikube/registry/drvs/docker/docker.go:75-77, configure runs per node:
# pkg/minikube/machine/start.go:138), so a second node cannot bind the host port
# the first holds ("port is already allocated": kubernetes/minikube #12776, #16766).
_ONE_NODE_ONLY = "minikube publishes --ports on every node, and a second node cannot bind the port the first holds"


def _local_port_text(port: int | None) -> str:
    return LOCAL_PORT_OFF if port is None else str(port)


def parse_local_port(text: str) -> int | None:
    """localPort: LOCAL_PORT_ANY, a port in LOCAL_PORT_RANGE, or None for off."""
    value = text.strip().lower()
    if value == LOCAL_PORT_OFF:
        return None
    low, high = LOCAL_PORT_RANGE
    if value.isdigit() and (int(value) == LOCAL_PORT_ANY or low <= int(value) <= high):
        return int(value)
    raise _error(
        "localPort",
        text.strip(),
        f"{LOCAL_PORT_ANY} (a free port, picked when the cluster is created), a port from {low} to {high}, "
        f"or {LOCAL_PORT_OFF}",
    )


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

    memory_text = raw["memory"].strip()
    sizes = "a size such as 8g, 4gb, 6144m or 6144 (MB)"
    if memory_text.lower() in MEMORY_KEYWORDS:
        # minikube accepts them, but a node of unknown size cannot be checked
        # against the host and the mesh, nor recreated when it changes.
        reason = MEMORY_KEYWORDS[memory_text.lower()]
        raise _error("memory", memory_text, f"{sizes}: {memory_text} means {reason}; pre-flight says what fits")
    try:
        memory_mb = parse_memory_mb(memory_text)
    except ValueError:
        raise _error("memory", memory_text, f"{sizes}: a number with an optional unit b, k, m, g, t or p") from None
    if memory_mb < MIN_MEMORY_MB:
        raise _error(
            "memory", memory_text, f"at least {MIN_MEMORY_MB} MB (minikube reads {memory_mb} MB and refuses less)"
        )

    versions = {}
    for key in ("metallbVersion", "istioVersion"):
        versions[key] = raw[key].strip()
        if not _CHART_VERSION_PATTERN.match(versions[key]):
            raise _error(key, versions[key], "a chart version such as 1.2.3, without a leading v")

    kubernetes_version = raw["kubernetesVersion"].strip()
    try:
        kubernetes = parse_kubernetes_version(kubernetes_version)
    except ValueError:
        raise _error(
            "kubernetesVersion", kubernetes_version, "a version such as v1.35.1, without leading zeros"
        ) from None
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
    image_cache = _choice(raw, "imageCache", IMAGE_CACHE_MODES)
    local_port = parse_local_port(raw["localPort"])

    sample, preflight = (_boolean(raw, key) for key in ("sample", "preflight"))
    multicluster = _choice(raw, "multicluster", MULTICLUSTER_MODES)

    cluster, load_balancer = _choice(raw, "cluster", CLUSTER_KINDS), _choice(raw, "loadBalancer", LOAD_BALANCERS)
    try:
        nodes = int(str(raw["nodes"]).strip())
    except ValueError:
        raise _error("nodes", raw["nodes"], "a whole number of minikube nodes, at least 1") from None
    if not 1 <= nodes <= MAX_NODES:
        raise _error(
            "nodes",
            nodes,
            f"1 to {MAX_NODES} minikube nodes (node N gets address .N+1 of the profile's network, "
            f"and the address pool starts at .{DEFAULT_POOL_HOSTS[0]})",
        )
    if address_pool is not None and cluster == "minikube":
        # The profile's network is a /24 of its own (components/model/network.py); on an
        # existing cluster the node's docker network (kind: often a /16) decides,
        # once the node is read.
        try:
            check_address_pool_size(address_pool)
        except ValueError as problem:
            raise _error(
                "addressPool", pool_text, f"addresses inside one /24, without its .0, .1, .254 and .255 ({problem})"
            ) from None
    if image_cache == "on" and (cluster != "minikube" or driver != "docker"):
        # The node must reach the caches by container name on a docker network of
        # this host and take their flags from minikube (components/model/images.py).
        # On a cluster of your own (kind's containerd, hosts.toml) local-mesh does
        # not reconfigure the node's container runtime.
        raise _error(
            "imageCache",
            image_cache,
            "auto or off unless cluster is minikube with driver docker (the node must join the caches' docker network)",
        )
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
        if local_port not in (None, LOCAL_PORT_ANY):
            if driver not in PUBLISHING_DRIVERS:
                raise _error(
                    "localPort",
                    local_port,
                    f"{LOCAL_PORT_ANY} or {LOCAL_PORT_OFF} with driver {driver} (minikube publishes the ports of "
                    f"{' and '.join(PUBLISHING_DRIVERS)} nodes only)",
                )
            if nodes > 1:
                raise _error(
                    "localPort", local_port, f"{LOCAL_PORT_OFF} with {PROJECT}:nodes {nodes} ({_ONE_NODE_ONLY})"
                )
        # minikube names the kube context after the profile.
        context = profile
    else:
        if not context:
            raise _error("kubeContext", context, "the name of a context in your kubeconfig with cluster existing")
        if nodes != 1:
            raise _error("nodes", nodes, "1 with cluster existing (the cluster has the nodes it has)")

    clusters = _clusters(raw, cluster, driver, nodes, pool_text, istio_profile, profile)
    if clusters > 1 and multicluster == "primary-remote":
        raise _error("multicluster", multicluster, "multi-primary: primary-remote is not built yet")

    settings = Settings(
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
        address_pool_text=pool_text,
        istio_version=versions["istioVersion"],
        istio_profile=istio_profile,
        resources=resources,
        mtls=mtls,
        sample=sample,
        preflight=preflight,
        observability=observability,
        dashboard_routes=dashboard_routes,
        platform=platform,
        image_cache=image_cache,
        local_port=local_port,
        clusters=clusters,
        multicluster=multicluster,
    )
    _check_pool_clear_of_registries(settings)
    return settings


def _check_pool_clear_of_registries(settings: Settings) -> None:
    """With the caches on, the host registries sit at fixed addresses of the
    node's network (images.py, registry_addresses), which no pool may hold."""
    pool = settings.address_pool
    if pool is None or not settings.caches_images:
        return
    taken = images.registry_addresses(node_subnet(str(pool.first)))
    for name, address in taken.items():
        if address in pool:
            raise _error(
                "addressPool",
                settings.address_pool_text,
                f"addresses clear of the host registries' {min(taken.values())}-{max(taken.values())} with "
                f"{PROJECT}:imageCache {settings.image_cache} ({pool} contains {address}, the address of {name})",
            )


def _clusters(
    raw: Mapping[str, str], cluster: str, driver: str, nodes: int, pool_text: str, istio_profile: str, profile: str
) -> int:
    """`clusters`, and what more than one asks of the other keys."""
    try:
        clusters = int(str(raw["clusters"]).strip())
    except ValueError:
        raise _error("clusters", raw["clusters"], f"a whole number of clusters, 1 to {MAX_CLUSTERS}") from None
    if not 1 <= clusters <= MAX_CLUSTERS:
        raise _error("clusters", clusters, f"1 to {MAX_CLUSTERS} clusters")
    if clusters == 1:
        return clusters
    more = f"with {PROJECT}:clusters {clusters}"
    if cluster != "minikube":
        raise _error("clusters", clusters, "1 with cluster existing (the clusters are minikube profiles of its own)")
    if driver != "docker":
        # Every later profile joins the first one's docker network with an
        # address of its own (minikube start --network, --static-ip: docker and
        # podman only, pkg/drivers/kic/kic.go at v1.38.1).
        raise _error("driver", driver, f"docker {more} (the clusters share the first one's docker network)")
    if nodes != 1:
        # --static-ip gives every machine of a profile that one address
        # (pkg/drivers/kic/kic.go:107-109 at v1.38.1).
        raise _error("nodes", nodes, f"1 {more} (a later cluster's node has a fixed address on the shared network)")
    if pool_text:
        raise _error("addressPool", pool_text, f"empty {more} (each cluster gets its own slice of the network)")
    if istio_profile == "ambient":
        raise _error("istioProfile", istio_profile, f"demo or minimal {more} (the multicluster mesh uses sidecars)")
    longest = f"{profile}-{clusters}"
    if not _PROFILE_PATTERN.match(longest):
        raise _error("profile", profile, f"a name that leaves room for '-{clusters}' in 63 characters {more}")
    return clusters
