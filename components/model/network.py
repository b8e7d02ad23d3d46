"""Address-pool arithmetic for MetalLB: pure functions over `ipaddress`.

minikube gives every profile its own /24 docker network (192.168.49.0/24,
192.168.58.0/24, ...) with the gateway at .1 and the node at .2. LoadBalancer
addresses are carved out of that same /24, so the host can reach them.

kind puts the nodes of every cluster on one docker network; there each
cluster's node gets its own slice at the top of that network's subnet (below).
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Interface, IPv4Network, ip_network

NODE_PREFIX_LENGTH = 24
# .100-.120 of the node's /24: on minikube's first network, 192.168.49.100-192.168.49.120,
# clear of the gateway (.1), the first nodes (.2 up) and the top of the range.
DEFAULT_POOL_HOSTS = (100, 120)


@dataclass(frozen=True)
class AddressRange:
    first: IPv4Address
    last: IPv4Address

    def __str__(self) -> str:
        return f"{self.first}-{self.last}"

    def __contains__(self, address: object) -> bool:
        return isinstance(address, IPv4Address) and self.first <= address <= self.last

    @property
    def size(self) -> int:
        return int(self.last) - int(self.first) + 1


def parse_address_pool(text: str) -> AddressRange:
    """`A.B.C.D-A.B.C.E` or a CIDR such as `192.168.49.96/28`."""
    text = text.strip()
    try:
        if "-" in text:
            first_text, last_text = (part.strip() for part in text.split("-", 1))
            first, last = IPv4Address(first_text), IPv4Address(last_text)
        else:
            network = IPv4Network(text, strict=True)
            first, last = network.network_address, network.broadcast_address
    except ValueError as problem:
        raise ValueError(str(problem)) from None
    if first > last:
        raise ValueError(f"the range is reversed: {first} comes after {last}")
    return AddressRange(first, last)


def node_subnet(node_ip: str) -> IPv4Network:
    return ip_network(f"{IPv4Address(node_ip)}/{NODE_PREFIX_LENGTH}", strict=False)  # type: ignore[return-value]


def default_address_pool(node_ip: str, cluster_index: int = 0) -> AddressRange:
    """.100-.120 of the node's /24 for a stack's first cluster; a later cluster
    of the stack, on the same /24 (below), the next block of as many addresses."""
    subnet = node_subnet(node_ip)
    size = DEFAULT_POOL_HOSTS[1] - DEFAULT_POOL_HOSTS[0] + 1
    first, last = (subnet.network_address + host + size * cluster_index for host in DEFAULT_POOL_HOSTS)
    return AddressRange(first, last)


# ---- several clusters of one stack on the first one's minikube network ----
#
# A minikube profile started with --network=<an existing docker network> takes
# that network's gateway + 1 for its node unless --static-ip names another
# address (pkg/drivers/kic/kic.go:96-120 at v1.38.1), and that address is the
# first profile's node: docker refuses "Address already in use", which minikube
# reports as ErrIPinUse without retrying (pkg/drivers/kic/oci/oci.go:323-326,
# errors.go:46). So cluster i (0: the first, whose node minikube puts at
# gateway + 1, .2) gets the address i above the first node, every cluster one
# node, far below the pools.


def shared_node_address(first_node_ip: str, cluster_index: int) -> str:
    """The node address of the stack's cluster `cluster_index` on the network
    whose first cluster's node is `first_node_ip`."""
    return str(IPv4Address(first_node_ip) + cluster_index)


def check_cluster_pools(first_node_ip: str, clusters: int) -> list[AddressRange]:
    """Every cluster's pool on the shared /24, or ValueError where two overlap,
    a pool holds a node's address or leaves the /24's usable addresses."""
    nodes = [IPv4Address(shared_node_address(first_node_ip, index)) for index in range(clusters)]
    pools: list[AddressRange] = []
    for index in range(clusters):
        node_ip = str(nodes[index])
        pool = default_address_pool(node_ip, index)
        check_address_pool(pool, node_ip)
        for node in nodes:
            if node in pool:
                raise ValueError(f"cluster {index + 1}'s pool {pool} holds node address {node}")
        for other_index, other in enumerate(pools):
            if pool.first <= other.last and other.first <= pool.last:
                raise ValueError(f"cluster {index + 1}'s pool {pool} overlaps cluster {other_index + 1}'s {other}")
        pools.append(pool)
    return pools


def check_address_pool(pool: AddressRange, node_ip: str) -> None:
    """Raise ValueError unless the pool is usable on the node's network."""
    subnet = node_subnet(node_ip)
    if pool.first not in subnet or pool.last not in subnet:
        raise ValueError(f"{pool} is not inside the node's subnet {subnet} (node IP {node_ip})")
    reserved = {IPv4Address(node_ip): "the node IP", **_reserved_addresses(subnet)}
    for address, role in sorted(reserved.items()):
        if address in pool:
            raise ValueError(f"{pool} contains {address}, {role}")


def _reserved_addresses(subnet: IPv4Network) -> dict[IPv4Address, str]:
    """The addresses of a node's network that no pool may hold, whatever the node."""
    return {
        subnet.network_address + 1: "the network's gateway",
        subnet.network_address + 254: "the address .254",
        subnet.network_address: "the network address",
        subnet.broadcast_address: "the broadcast address",
    }


def check_address_pool_size(pool: AddressRange) -> None:
    """Raise ValueError for a pool that no node's network can hold, before any node exists:
    one larger than a node's /24, or holding an address that every such network reserves."""
    subnet = node_subnet(str(pool.first))
    if pool.last not in subnet:
        raise ValueError(
            f"{pool} holds {pool.size} addresses across more than one /{NODE_PREFIX_LENGTH}, "
            f"but must lie inside the node's /{NODE_PREFIX_LENGTH}"
        )
    for address, role in sorted(_reserved_addresses(subnet).items()):
        if address in pool:
            raise ValueError(f"{pool} contains {address}, {role} of the /{NODE_PREFIX_LENGTH} it lies in")


def resolve_address_pool(explicit: AddressRange | None, node_ip: str, cluster_index: int = 0) -> AddressRange:
    """The pool MetalLB gets: the explicit one, checked, or the derived default
    (the stack's cluster `cluster_index`'s)."""
    pool = explicit if explicit is not None else default_address_pool(node_ip, cluster_index)
    check_address_pool(pool, node_ip)
    return pool


# ---- a docker network shared by several clusters (kind, or minikube profiles on one --network) ----
#
# kind puts every cluster's nodes on one docker network, `kind` (kind
# pkg/cluster/internal/providers/docker/network.go, fixedNetworkName; Docker picks
# its IPv4 subnet, typically 172.18.0.0/16). Docker reserves the subnet's first
# and last address, gives the gateway the first free one (.1) and each container
# the lowest address still free (moby v28.5.2 libnetwork/ipams/defaultipam/
# allocator.go newPoolData, getAddress; a local network asks without
# ipam.serial, so libnetwork/bitmap SetAny scans from the bottom). So containers
# fill the subnet from the bottom, and Istio's kind set-ups take MetalLB's
# addresses from its top (istio/istio samples/kind-lb/setupkind.sh:
# <a.b>.255.200-.240; istio/common-files files/common/scripts/kind_provisioner.sh:
# "take IPs from the end of the docker kind network subnet", ten per cluster).
#
# local-mesh cuts the top of the subnet into aligned blocks of SLICE_SIZE
# addresses, counted down from the broadcast address, and gives the node at
# host number n (n >= 2: .0 is the network address, .1 Docker's gateway) block
# n - 2. A container's address is unique on its network, so every cluster on it
# gets its own block without anyone keeping a list.
SLICE_SIZE = 16
FIRST_CONTAINER_HOST = 2


@dataclass(frozen=True)
class DockerNetwork:
    """One IPv4 subnet of a docker network and the containers on it, as
    `docker network inspect` shows them."""

    name: str
    subnet: IPv4Network
    gateway: IPv4Address | None
    containers: tuple[tuple[str, IPv4Address], ...]  # (container name, its address), by address

    def container_at(self, address: IPv4Address) -> str | None:
        return next((name for name, at in self.containers if at == address), None)


@dataclass(frozen=True)
class HostNetworks:
    """The docker networks of this host, or why Docker could not be asked."""

    networks: tuple[DockerNetwork, ...]
    unavailable: str | None = None


# What Docker Desktop's engine reports as its OperatingSystem (`docker info`).
# minikube reads the same field to learn that the node's IP is not reachable
# from the host and a port must be forwarded (kubernetes/minikube
# pkg/minikube/driver/driver.go NeedsPortForward, `si.DockerOS == "Docker
# Desktop"`, from `docker system info` OperatingSystem: pkg/drivers/kic/oci/
# info.go:74,116, v1.38.1): its containers' networks live inside Docker Desktop's VM.
DOCKER_DESKTOP = "Docker Desktop"


def is_docker_desktop(operating_system: str) -> bool:
    """Whether `docker info`'s OperatingSystem is Docker Desktop's (macOS, Windows, or Linux)."""
    return operating_system.strip() == DOCKER_DESKTOP


# The only address the node's container publishes the ingress on (localPort).
LOOPBACK = "127.0.0.1"


def local_url(local_port: int) -> str:
    return f"http://{LOOPBACK}:{local_port}/"


def browsed_host(ingress_address: str, local_port: int | None, reaches_node_network: bool) -> str:
    """Where the user's URLs point: the ingress's own address, or, where this
    host cannot reach the node's network but the node publishes the ingress on
    a loopback port, that port."""
    if local_port is not None and not reaches_node_network:
        return f"{LOOPBACK}:{local_port}"
    return ingress_address


def read_docker_networks(inspect_json: str) -> tuple[DockerNetwork, ...]:
    """`docker network inspect ID...`: a JSON array of network.Inspect (moby v28.5.2
    api/types/network/network.go): `Name`, `IPAM.Config[]` with `Subnet` and
    `Gateway` (IPv4 and, on kind's network, an IPv6 entry too, in either order),
    and `Containers`, a map of endpoint resources whose `IPv4Address` is the
    address with its prefix, e.g. 172.18.0.2/16 (daemon/network.go,
    buildEndpointResource). One entry per IPv4 subnet."""
    networks = []
    for document in json.loads(inspect_json) or []:
        containers = []
        for endpoint in (document.get("Containers") or {}).values():
            try:
                address = IPv4Interface(endpoint.get("IPv4Address") or "").ip
            except ValueError:
                continue
            containers.append((str(endpoint.get("Name") or ""), address))
        for config in (document.get("IPAM") or {}).get("Config") or []:
            try:
                subnet = IPv4Network(config.get("Subnet") or "")
            except ValueError:
                continue  # IPv6, or no subnet
            gateway_text = config.get("Gateway") or ""
            networks.append(
                DockerNetwork(
                    name=str(document.get("Name") or ""),
                    subnet=subnet,
                    gateway=IPv4Address(gateway_text.split("/")[0]) if gateway_text else None,
                    containers=tuple(sorted(((n, a) for n, a in containers if a in subnet), key=lambda c: c[1])),
                )
            )
    return tuple(networks)


def network_holding(node_ip: str, host: HostNetworks) -> DockerNetwork | None:
    """The docker network on which a container has the node's address: the
    node is then a container of this host (a kind or minikube node)."""
    node = IPv4Address(node_ip)
    return next((network for network in host.networks if network.container_at(node) is not None), None)


def slice_index(subnet: IPv4Network, address: IPv4Address) -> int:
    """Which block, counted from the top of `subnet`, the container at `address` gets."""
    return int(address) - int(subnet.network_address) - FIRST_CONTAINER_HOST


def network_slice(subnet: IPv4Network, address: IPv4Address) -> AddressRange:
    """The block at the top of `subnet` that belongs to the container at `address`."""
    index = slice_index(subnet, address)
    if index < 0:
        raise ValueError(f"{address} is below the first container address of {subnet}, so it has no slice")
    last = int(subnet.broadcast_address) - SLICE_SIZE * index
    first = last - SLICE_SIZE + 1
    if first <= int(subnet.network_address):
        raise ValueError(f"{subnet} has no room for the slice of {address} at its top")
    if index == 0:
        last -= 1  # the broadcast address
    return AddressRange(IPv4Address(first), IPv4Address(last))


def check_pool_on_network(pool: AddressRange, network: DockerNetwork, node_ip: str) -> None:
    """Raise ValueError unless the pool is free on the node's docker network:
    inside its subnet, clear of the network, gateway and broadcast addresses
    and of every container's address."""
    subnet = network.subnet
    where = f"docker network {network.name} ({subnet})"
    if pool.first not in subnet or pool.last not in subnet:
        raise ValueError(f"{pool} is not inside {where}, which holds node {node_ip}")
    reserved = [
        (subnet.network_address, "the network address"),
        (subnet.broadcast_address, "the broadcast address"),
        *([(network.gateway, "the network's gateway")] if network.gateway is not None else []),
        *((address, f"the address of container {name}") for name, address in network.containers),
    ]
    for address, role in sorted(reserved):
        if address in pool:
            raise ValueError(f"{pool} contains {address}, {role} on {where}")


def check_pool_clear_of_other_slices(
    pool: AddressRange, network: DockerNetwork, cluster_addresses: Collection[IPv4Address]
) -> None:
    """Raise ValueError if the pool overlaps the slice of a container that is
    not a node of this cluster: a local-mesh stack on that container's cluster
    takes those addresses."""
    for name, address in network.containers:
        if address in cluster_addresses:
            continue
        try:
            taken = network_slice(network.subnet, address)
        except ValueError:
            continue
        if pool.first <= taken.last and taken.first <= pool.last:
            raise ValueError(
                f"{pool} overlaps {taken}, the slice of container {name} ({address}), where a local-mesh stack "
                f"on its cluster takes its addresses"
            )


def resolve_network_pool(explicit: AddressRange | None, node_ip: str, network: DockerNetwork) -> AddressRange:
    """The pool MetalLB gets on a node that is a container of a docker network
    of this host: the explicit one, checked, or the node's slice at the top."""
    pool = explicit if explicit is not None else network_slice(network.subnet, IPv4Address(node_ip))
    check_pool_on_network(pool, network, node_ip)
    return pool


def describe_network_pool(pool: AddressRange, node_ip: str, network: DockerNetwork, explicit: bool) -> str:
    """Where the pool comes from, for pre-flight to say."""
    where = f"docker network {network.name} ({network.subnet})"
    if explicit:
        return f"MetalLB's addresses: {pool}, from addressPool, on {where}"
    index = slice_index(network.subnet, IPv4Address(node_ip))
    return (
        f"MetalLB's addresses: {pool}, slice {index} (of {SLICE_SIZE} addresses, counted from the top) of {where}, "
        f"the one of node {node_ip}; every container there has its own"
    )
