"""What the cluster component hands the shell and how it reads the answer."""

from __future__ import annotations

import pytest
import yaml

from components.model.settings import parse_settings
from components.shell import cluster_environment, parse_cluster_access, recreate_triggers
from harness.config import raw_config as raw

KUBECONFIG = yaml.safe_dump(
    {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "local-mesh-dev", "cluster": {"server": "https://192.168.49.2:8443"}}],
        "contexts": [{"name": "local-mesh-dev", "context": {"cluster": "local-mesh-dev", "user": "local-mesh-dev"}}],
        "users": [{"name": "local-mesh-dev", "user": {}}],
        "current-context": "local-mesh-dev",
    }
)


def test_environment_carries_every_start_value() -> None:
    # Without the image caches (their flags: tests/test_host_registries.py).
    environment = cluster_environment(parse_settings(raw(memory="6g", cpus="3", imageCache="off"), "dev"))
    assert environment == {
        "MINIKUBE_PROFILE": "local-mesh-dev",
        "MINIKUBE_DRIVER": "docker",
        "MINIKUBE_CPUS": "3",
        "MINIKUBE_MEMORY": "6144mb",
        "MINIKUBE_KUBERNETES_VERSION": "v1.35.1",
        "MINIKUBE_NODES": "1",
        # localPort 0: a free loopback port for the ingress gateway's NodePort.
        "LOCAL_NODE_PORT": "30080",
        "LOCAL_HOST_IP": "127.0.0.1",
        "LOCAL_HOST_PORT": "0",
    }


def test_another_node_count_recreates_the_cluster() -> None:
    # minikube keeps an existing profile's nodes (cmd/minikube/cmd/start.go:497-505).
    assert recreate_triggers(parse_settings(raw(nodes="3"), "dev")) != recreate_triggers(parse_settings(raw(), "dev"))


def test_equal_sizes_in_other_words_do_not_recreate_the_cluster() -> None:
    assert recreate_triggers(parse_settings(raw(memory="8g"), "dev")) == recreate_triggers(
        parse_settings(raw(memory="8192"), "dev")
    )
    assert recreate_triggers(parse_settings(raw(memory="8g"), "dev")) != recreate_triggers(
        parse_settings(raw(memory="6g"), "dev")
    )


def test_access_output_is_split_into_node_ip_and_kubeconfig() -> None:
    access = parse_cluster_access(f"192.168.49.2\n{KUBECONFIG}", "local-mesh-dev")
    assert access.node_ip == "192.168.49.2"
    assert access.kubeconfig == KUBECONFIG


@pytest.mark.parametrize(
    ("stdout", "problem"),
    [
        (f"\n{KUBECONFIG}", "not an IPv4 address"),
        (f"🤷  Profile not found\n{KUBECONFIG}", "not an IPv4 address"),
        ("192.168.49.2\n", "holds contexts \\[\\]"),
        (f"192.168.49.2\n{KUBECONFIG}".replace("name: local-mesh-dev\n", "name: other\n"), "not exactly that one"),
    ],
)
def test_unexpected_access_output_is_refused(stdout: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_cluster_access(stdout, "local-mesh-dev")
