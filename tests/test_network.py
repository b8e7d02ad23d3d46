"""Address-pool derivation and checks."""

from __future__ import annotations

import itertools
import json
import re
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import pulumi
import pytest

from components.model.network import (
    DockerNetwork,
    HostNetworks,
    check_address_pool,
    check_pool_clear_of_other_slices,
    default_address_pool,
    describe_network_pool,
    network_holding,
    network_slice,
    parse_address_pool,
    read_docker_networks,
    resolve_address_pool,
    resolve_network_pool,
)
from components.model.settings import Settings, address_pool_on_node, parse_settings
from harness.config import raw_config
from harness.program import ProgramFailedError, run_program


@pytest.mark.parametrize(
    ("node_ip", "pool"),
    [
        ("192.168.49.2", "192.168.49.100-192.168.49.120"),  # minikube's first network
        ("192.168.58.2", "192.168.58.100-192.168.58.120"),  # a second profile's network
        ("10.1.2.77", "10.1.2.100-10.1.2.120"),
    ],
)
def test_default_pool_is_100_to_120_of_the_nodes_24(node_ip: str, pool: str) -> None:
    assert str(default_address_pool(node_ip)) == pool
    assert str(resolve_address_pool(None, node_ip)) == pool


def test_range_and_cidr_forms() -> None:
    assert str(parse_address_pool("192.168.49.200-192.168.49.210")) == "192.168.49.200-192.168.49.210"
    assert str(parse_address_pool(" 192.168.49.200 - 192.168.49.210 ")) == "192.168.49.200-192.168.49.210"
    cidr = parse_address_pool("192.168.49.64/27")
    assert str(cidr) == "192.168.49.64-192.168.49.95"
    assert cidr.size == 32


def test_an_explicit_pool_inside_the_subnet_is_kept() -> None:
    pool = parse_address_pool("192.168.49.200-192.168.49.210")
    assert resolve_address_pool(pool, "192.168.49.2") == pool


def refusal_of_pool(tmp_path: Path, pool: str) -> tuple[ProgramFailedError, str]:
    """The program's failure on this addressPool, and its one line. The language
    host logs a RunError as its text alone, any other exception with a traceback
    (sdk/python/cmd/pulumi-language-python-exec:234-241)."""
    with pytest.raises(ProgramFailedError) as failure:
        run_program("dev", tmp_path, {"addressPool": pool})
    assert isinstance(failure.value.cause, pulumi.RunError)
    (line,) = str(failure.value.cause).splitlines()
    return failure.value, line


@pytest.mark.parametrize(
    ("pool", "problem"),
    [
        ("192.168.50.100-192.168.50.120", "is not inside the node's subnet 192.168.49.0/24"),
        ("192.168.49.250-192.168.50.4", "is not inside the node's subnet"),
        ("192.168.49.2-192.168.49.20", "contains 192.168.49.2, the node IP"),
        ("192.168.49.1-192.168.49.1", "contains 192.168.49.1, the network's gateway"),
        ("192.168.49.240-192.168.49.254", "contains 192.168.49.254"),
        ("192.168.49.128/25", "contains 192.168.49.254"),
        ("192.168.49.0/28", "contains 192.168.49.0, the network address"),
        ("192.168.49.255-192.168.49.255", "the broadcast address"),
    ],
)
def test_unusable_pools_are_refused(pool: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        check_address_pool(parse_address_pool(pool), "192.168.49.2")


@pytest.mark.parametrize("text", ["192.168.49.120-192.168.49.100", "nonsense", "192.168.49.1/33", "::1-::2"])
def test_malformed_pools_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_address_pool(text)


@pytest.mark.parametrize(
    ("pool", "problem"),
    [
        ("192.168.50.100-192.168.50.120", "192.168.50.100-192.168.50.120 is not inside the node's subnet"),
        ("192.168.49.2-192.168.49.20", "contains 192.168.49.2, the node IP"),
    ],
)
def test_an_unusable_explicit_pool_stops_the_run_with_one_line_naming_the_key(
    tmp_path: Path, pool: str, problem: str
) -> None:
    _, line = refusal_of_pool(tmp_path, pool)
    assert line.startswith(f"local-mesh:addressPool = '{pool}' is not valid: expected addresses inside the node's ")
    assert problem in line


# ---- a docker network of this host shared by several clusters (kind) ----------------------

# `docker network inspect kind` on a host with two kind clusters, in Docker 28's
# shape (moby v28.5.2 api/types/network/network.go; the IPAM entries as
# Kuadrant/kuadrant-operator#418 shows them). kind-dev has two nodes, kind-other one.
KIND_INSPECT = [
    {
        "Name": "kind",
        "Id": "c9a255dd3206276365f3f00c6d87d921f9eb43d6e9fa8193180615c4b48a4b9f",
        "Scope": "local",
        "Driver": "bridge",
        "EnableIPv6": True,
        "IPAM": {
            "Driver": "default",
            "Options": {},
            "Config": [
                {"Subnet": "fc00:f853:ccd:e793::/64", "Gateway": "fc00:f853:ccd:e793::1"},
                {"Subnet": "172.18.0.0/16", "Gateway": "172.18.0.1"},
            ],
        },
        "Containers": {
            "1f0e": {"Name": "other-control-plane", "IPv4Address": "172.18.0.4/16", "IPv6Address": "fc00::4/64"},
            "7a1b": {"Name": "dev-control-plane", "IPv4Address": "172.18.0.2/16", "IPv6Address": "fc00::2/64"},
            "9c2d": {"Name": "dev-worker", "IPv4Address": "172.18.0.3/16", "IPv6Address": "fc00::3/64"},
        },
    },
    {"Name": "host", "IPAM": {"Driver": "default", "Options": None, "Config": []}, "Containers": {}},
    {"Name": "bridge", "IPAM": {"Config": [{"Subnet": "172.17.0.0/16", "Gateway": "172.17.0.1"}]}, "Containers": None},
]
HOST = HostNetworks(read_docker_networks(json.dumps(KIND_INSPECT)))
(KIND, BRIDGE) = HOST.networks


def test_docker_networks_are_read_from_inspects_json_ipv4_only() -> None:
    assert [(network.name, str(network.subnet), str(network.gateway)) for network in HOST.networks] == [
        ("kind", "172.18.0.0/16", "172.18.0.1"),
        ("bridge", "172.17.0.0/16", "172.17.0.1"),
    ]
    assert [(name, str(address)) for name, address in KIND.containers] == [
        ("dev-control-plane", "172.18.0.2"),
        ("dev-worker", "172.18.0.3"),
        ("other-control-plane", "172.18.0.4"),
    ]
    assert BRIDGE.containers == ()


def test_the_network_holding_a_node_is_the_one_with_a_container_at_its_address() -> None:
    assert network_holding("172.18.0.3", HOST) == KIND
    # Inside kind's subnet, but no container there: not a node of this host.
    assert network_holding("172.18.0.77", HOST) is None
    assert network_holding("10.0.0.5", HOST) is None
    assert network_holding("172.18.0.2", HostNetworks((), "docker is not on PATH")) is None


@pytest.mark.parametrize(
    ("subnet", "node", "pool"),
    [
        ("172.18.0.0/16", "172.18.0.2", "172.18.255.240-172.18.255.254"),  # kind's first node: the top block
        ("172.18.0.0/16", "172.18.0.3", "172.18.255.224-172.18.255.239"),
        ("172.18.0.0/16", "172.18.0.4", "172.18.255.208-172.18.255.223"),
        ("172.18.0.0/16", "172.18.1.0", "172.18.240.16-172.18.240.31"),  # the 255th container
        ("192.168.49.0/24", "192.168.49.3", "192.168.49.224-192.168.49.239"),  # a /24 shared by minikube profiles
    ],
)
def test_each_container_has_its_own_block_of_16_counted_down_from_the_top(subnet: str, node: str, pool: str) -> None:
    assert str(network_slice(IPv4Network(subnet), IPv4Address(node))) == pool


def test_slices_of_different_containers_never_overlap_and_stay_above_the_containers() -> None:
    subnet = IPv4Network("172.18.0.0/16")
    nodes = [subnet.network_address + host for host in range(2, 1000)]
    slices = sorted((network_slice(subnet, node) for node in nodes), key=lambda pool: pool.first)
    assert all(lower.last < upper.first for lower, upper in itertools.pairwise(slices))
    assert slices[0].first > nodes[-1]
    assert all(subnet.broadcast_address not in pool for pool in slices)


def test_a_slice_that_does_not_fit_above_the_containers_is_refused() -> None:
    with pytest.raises(ValueError, match=r"10\.9\.0\.0/28 has no room for the slice of 10\.9\.0\.2"):
        network_slice(IPv4Network("10.9.0.0/28"), IPv4Address("10.9.0.2"))
    # A /27 with 16 containers: the top block already holds one of them.
    containers = tuple((f"c{host}", IPv4Address(f"10.9.0.{host}")) for host in range(2, 18))
    network = DockerNetwork("small", IPv4Network("10.9.0.0/27"), IPv4Address("10.9.0.1"), containers)
    with pytest.raises(
        ValueError, match=r"contains 10\.9\.0\.16, the address of container c16 on docker network small"
    ):
        resolve_network_pool(None, "10.9.0.2", network)


def test_each_cluster_on_the_network_derives_its_own_pool() -> None:
    dev, other = (resolve_network_pool(None, node, KIND) for node in ("172.18.0.2", "172.18.0.4"))
    assert (str(dev), str(other)) == ("172.18.255.240-172.18.255.254", "172.18.255.208-172.18.255.223")


@pytest.mark.parametrize(
    ("pool", "problem"),
    [
        ("172.19.0.100-172.19.0.120", "is not inside docker network kind (172.18.0.0/16), which holds node 172.18.0.2"),
        ("172.18.0.0/28", "contains 172.18.0.0, the network address"),
        ("172.18.0.1-172.18.0.1", "contains 172.18.0.1, the network's gateway"),
        ("172.18.0.3-172.18.0.9", "contains 172.18.0.3, the address of container dev-worker"),
        ("172.18.255.250-172.18.255.255", "contains 172.18.255.255, the broadcast address"),
    ],
)
def test_an_explicit_pool_must_be_free_on_the_nodes_docker_network(pool: str, problem: str) -> None:
    with pytest.raises(ValueError, match=re.escape(problem)):
        resolve_network_pool(parse_address_pool(pool), "172.18.0.2", KIND)
    assert str(resolve_network_pool(parse_address_pool("172.18.200.0/28"), "172.18.0.2", KIND)) == (
        "172.18.200.0-172.18.200.15"
    )


def test_an_explicit_pool_over_another_clusters_slice_is_refused_but_not_over_its_own_nodes() -> None:
    # Istio's samples/kind-lb/setupkind.sh range: over every slice of .2 to .5.
    setupkind = parse_address_pool("172.18.255.200-172.18.255.240")
    own = {IPv4Address("172.18.0.2"), IPv4Address("172.18.0.3")}
    with pytest.raises(
        ValueError, match=r"overlaps 172\.18\.255\.208-172\.18\.255\.223, the slice of container other-c"
    ):
        check_pool_clear_of_other_slices(setupkind, KIND, own)
    # kind-dev's own worker's slice is free for kind-dev.
    check_pool_clear_of_other_slices(parse_address_pool("172.18.255.224-172.18.255.239"), KIND, own)


def existing(**overrides: str) -> Settings:
    return parse_settings(raw_config(cluster="existing", kubeContext="kind-dev", **overrides), "dev")


def test_on_an_existing_cluster_the_pool_comes_from_the_docker_network_that_holds_the_node() -> None:
    assert str(address_pool_on_node(existing(), "172.18.0.2", HOST)) == "172.18.255.240-172.18.255.254"
    # The same node of local-mesh's own minikube keeps its /24's .100-.120.
    assert str(address_pool_on_node(parse_settings(raw_config(), "dev"), "192.168.49.2")) == (
        "192.168.49.100-192.168.49.120"
    )


@pytest.mark.parametrize(
    ("host", "why"),
    [
        (HOST, "no docker network of this host holds it"),
        (HostNetworks((), "docker is not on PATH"), "Docker: docker is not on PATH"),
    ],
)
def test_a_node_no_docker_network_holds_needs_an_explicit_pool_in_one_line(host: HostNetworks, why: str) -> None:
    with pytest.raises(pulumi.RunError) as failure:
        address_pool_on_node(existing(), "10.0.0.5", host)
    assert str(failure.value) == (
        "local-mesh:addressPool = '' is not valid: expected free addresses on the network of node 10.0.0.5 "
        f"(A.B.C.D-A.B.C.E or a CIDR), or set local-mesh:loadBalancer none: local-mesh cannot tell which are free "
        f"there ({why})"
    )
    explicit = existing(addressPool="10.0.0.200-10.0.0.210")
    assert str(address_pool_on_node(explicit, "10.0.0.5", host)) == "10.0.0.200-10.0.0.210"


def test_pre_flight_names_the_slice_it_chose() -> None:
    assert describe_network_pool(
        network_slice(KIND.subnet, IPv4Address("172.18.0.3")), "172.18.0.3", KIND, explicit=False
    ) == (
        "MetalLB's addresses: 172.18.255.224-172.18.255.239, slice 1 (of 16 addresses, counted from the top) "
        "of docker network kind (172.18.0.0/16), the one of node 172.18.0.3; every container there has its own"
    )


@pytest.mark.parametrize(
    ("pool", "problem"),
    [
        ("192.168.49.1-192.168.49.10", "contains 192.168.49.1, the network's gateway of the /24 it lies in"),
        ("192.168.49.250-192.168.49.254", "contains 192.168.49.254, the address .254"),
        ("10.0.0.0/8", "10.0.0.0-10.255.255.255 holds 16777216 addresses across more than one /24"),
    ],
)
def test_a_pool_no_node_network_can_hold_is_refused_before_anything_is_created(
    tmp_path: Path, pool: str, problem: str
) -> None:
    failure, line = refusal_of_pool(tmp_path, pool)
    assert line.startswith(
        f"local-mesh:addressPool = '{pool}' is not valid: expected addresses inside one /24, "
        "without its .0, .1, .254 and .255 ("
    )
    assert problem in line
    assert failure.registrations == []
    assert not (tmp_path / "state.json").exists()
