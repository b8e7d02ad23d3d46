"""Address-pool derivation and checks."""

from __future__ import annotations

from pathlib import Path

import pulumi
import pytest

from components.network import check_address_pool, default_address_pool, parse_address_pool, resolve_address_pool
from tests.harness import ProgramFailedError, run_program


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
    with pytest.raises(ProgramFailedError) as failure:
        run_program("dev", tmp_path, {"addressPool": pool})
    # The language host logs a RunError as its text alone, any other exception
    # with a traceback (sdk/python/cmd/pulumi-language-python-exec:234-241).
    assert isinstance(failure.value.cause, pulumi.RunError)
    (line,) = str(failure.value.cause).splitlines()
    assert line.startswith(f"local-mesh:addressPool = '{pool}' is not valid: expected addresses inside the node's ")
    assert problem in line


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
    with pytest.raises(ProgramFailedError) as failure:
        run_program("dev", tmp_path, {"addressPool": pool})
    assert isinstance(failure.value.cause, pulumi.RunError)
    (line,) = str(failure.value.cause).splitlines()
    assert line.startswith(
        f"local-mesh:addressPool = '{pool}' is not valid: expected addresses inside one /24, "
        "without its .0, .1, .254 and .255 ("
    )
    assert problem in line
    assert failure.value.registrations == []
    assert not (tmp_path / "state.json").exists()
