"""MetalLB from its Helm chart, with an L2 address pool on the node's network."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pulumi
import pulumi_kubernetes as kubernetes
from pulumi_command import local

from components.cluster import Cluster
from components.model.network import AddressRange
from components.model.parts.metallb import METALLB_NAMESPACE
from components.model.release import ChartRelease
from components.model.settings import ClusterSettings, address_pool_on_node
from components.shell import INTERPRETER, script, webhook_gate_environment

ADDRESS_POOL_NAME = "local-mesh"
METALLB_API_VERSION = "metallb.io/v1beta1"


def address_pool_spec(pool: AddressRange) -> dict[str, Any]:
    return {"addresses": [str(pool)]}


def l2_advertisement_spec() -> dict[str, Any]:
    return {"ipAddressPools": [ADDRESS_POOL_NAME]}


def address_pool_manifest(pool: AddressRange) -> dict[str, Any]:
    """The IPAddressPool as kubectl would send it (used to probe the webhook)."""
    return {
        "apiVersion": METALLB_API_VERSION,
        "kind": "IPAddressPool",
        "metadata": {"name": ADDRESS_POOL_NAME, "namespace": METALLB_NAMESPACE},
        "spec": address_pool_spec(pool),
    }


class MetalLB(pulumi.ComponentResource):
    """The chart (not minikube's addon: that ships MetalLB 0.9.6, configured at an
    interactive prompt, and forgets its config on stop/start), an IPAddressPool
    and an L2Advertisement. `ready` lists what a LoadBalancer Service needs."""

    address_pool: pulumi.Output[str]
    ready: list[pulumi.Resource]

    def __init__(
        self,
        name: str,
        settings: ClusterSettings,
        releases: Sequence[ChartRelease],
        cluster: Cluster,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """`settings`: where the address pool comes from; `releases`: MetalLB's chart."""
        super().__init__("local-mesh:metallb:MetalLB", name, None, opts)

        pool: pulumi.Output[AddressRange] = pulumi.Output.all(cluster.node_ip, cluster.host_networks).apply(
            lambda facts: address_pool_on_node(settings, facts[0], facts[1])
        )
        self.address_pool = pool.apply(str)

        installed = cluster.install(self, releases, {})

        # The pool waits until MetalLB's webhook admits a dry run of it
        # (why: metallb-webhook-ready.sh), so a first `pulumi up` needs no retry.
        webhook_ready = local.Command(
            cluster.scope("metallb-webhook-ready"),
            create=script("metallb-webhook-ready.sh"),
            interpreter=INTERPRETER,
            environment=webhook_gate_environment(
                cluster.kubeconfig, pool.apply(lambda p: json.dumps(address_pool_manifest(p), sort_keys=True))
            ),
            opts=cluster.command_options(self, list(installed.values())),
        )

        after_webhook = cluster.kubernetes_options(self, [webhook_ready])
        address_pool = kubernetes.apiextensions.CustomResource(
            cluster.scope("address-pool"),
            api_version=METALLB_API_VERSION,
            kind="IPAddressPool",
            metadata=kubernetes.meta.v1.ObjectMetaArgs(name=ADDRESS_POOL_NAME, namespace=METALLB_NAMESPACE),
            spec=pool.apply(address_pool_spec),
            opts=after_webhook,
        )
        advertisement = kubernetes.apiextensions.CustomResource(
            cluster.scope("l2-advertisement"),
            api_version=METALLB_API_VERSION,
            kind="L2Advertisement",
            metadata=kubernetes.meta.v1.ObjectMetaArgs(name=ADDRESS_POOL_NAME, namespace=METALLB_NAMESPACE),
            spec=l2_advertisement_spec(),
            opts=after_webhook,
        )
        self.ready = [address_pool, advertisement]

        self.register_outputs({"addressPool": self.address_pool})
