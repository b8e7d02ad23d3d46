"""Address-pool arithmetic for MetalLB: pure functions over `ipaddress`.

minikube gives every profile its own /24 docker network (192.168.49.0/24,
192.168.58.0/24, ...) with the gateway at .1 and the node at .2. LoadBalancer
addresses are carved out of that same /24, so the host can reach them.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, ip_network

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


def default_address_pool(node_ip: str) -> AddressRange:
    subnet = node_subnet(node_ip)
    first, last = (subnet.network_address + host for host in DEFAULT_POOL_HOSTS)
    return AddressRange(first, last)


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


def resolve_address_pool(explicit: AddressRange | None, node_ip: str) -> AddressRange:
    """The pool MetalLB gets: the explicit one, checked, or the derived default."""
    pool = explicit if explicit is not None else default_address_pool(node_ip)
    check_address_pool(pool, node_ip)
    return pool
