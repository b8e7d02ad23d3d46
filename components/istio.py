"""Istio as the plan's Helm releases: base, istiod, then the gateways."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as kubernetes

from components.cluster import MinikubeCluster
from components.helm import Steps, install_releases
from components.plan import GATEWAY_API_CRDS, GATEWAY_API_CRDS_URL, INGRESS_RELEASE, ISTIO_NAMESPACE, Plan
from components.settings import Settings


def load_balancer_ip(status: kubernetes.core.v1.outputs.ServiceStatus | None) -> str:
    ingress = status.load_balancer.ingress if status and status.load_balancer else None
    if not ingress or not ingress[0].ip:
        raise ValueError(f"the Service {INGRESS_RELEASE} has no LoadBalancer IP: is MetalLB's address pool in place?")
    return ingress[0].ip


# The one Gateway of the ingress gateway's port 80: two Gateways on the same
# workload, port and host conflict (Istio picks one). The sample and the
# dashboards each bind their own VirtualService to it.
MESH_GATEWAY_NAME = "ingress"
MESH_GATEWAY = f"{ISTIO_NAMESPACE}/{MESH_GATEWAY_NAME}"


def mesh_gateway_spec() -> dict[str, Any]:
    # The Helm gateway listens on 80 itself (istioctl's gateway maps 80 -> 8080).
    return {
        "selector": {"istio": "ingressgateway"},
        "servers": [{"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": ["*"]}],
    }


def peer_authentication_spec() -> dict[str, Any]:
    """Mesh-wide (in the root namespace): workloads accept only mTLS."""
    return {"mtls": {"mode": "STRICT"}}


class Istio(pulumi.ComponentResource):
    """The plan's Istio releases in its order (ambient: base -> Gateway API
    CRDs -> istiod -> istio-cni -> ztunnel -> gateway, Istio's ambient install
    order). `waits_for` gives the steps outside Istio that a release waits for
    (MetalLB's pool, for the ingress gateway). `control_plane` is istiod:
    whatever needs sidecars injected or Istio's CRDs waits for it."""

    ingress_ip: pulumi.Output[str]
    istio_version: pulumi.Output[str]
    control_plane: kubernetes.helm.v3.Release

    def __init__(
        self,
        name: str,
        settings: Settings,
        plan: Plan,
        cluster: MinikubeCluster,
        waits_for: Steps,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("local-mesh:istio:Istio", name, None, opts)
        releases = plan.in_namespace(ISTIO_NAMESPACE)
        steps = dict(waits_for)
        if any(GATEWAY_API_CRDS in release.after for release in releases):
            # Pinned to the release this Istio builds against; fetched at run time.
            steps[GATEWAY_API_CRDS] = [
                kubernetes.yaml.v2.ConfigFile(
                    GATEWAY_API_CRDS, file=GATEWAY_API_CRDS_URL, opts=cluster.in_cluster(self)
                )
            ]
        installed = install_releases(releases, steps, lambda before: cluster.in_cluster(self, before))
        self.control_plane = installed["istiod"]
        if settings.mtls == "strict":
            # After istiod, whose webhook validates Istio's custom resources.
            kubernetes.apiextensions.CustomResource(
                "mesh-mtls",
                api_version="security.istio.io/v1",
                kind="PeerAuthentication",
                metadata=kubernetes.meta.v1.ObjectMetaArgs(name="default", namespace=ISTIO_NAMESPACE),
                spec=peer_authentication_spec(),
                opts=cluster.in_cluster(self, [self.control_plane]),
            )

        # After istiod, whose webhook validates it (and istio-base's CRDs define it).
        kubernetes.apiextensions.CustomResource(
            "mesh-gateway",
            api_version="networking.istio.io/v1",
            kind="Gateway",
            metadata=kubernetes.meta.v1.ObjectMetaArgs(name=MESH_GATEWAY_NAME, namespace=ISTIO_NAMESPACE),
            spec=mesh_gateway_spec(),
            opts=cluster.in_cluster(self, [self.control_plane]),
        )

        # The ID comes from the release's outputs, not a constant: a constant ID
        # makes the first preview read a Service that does not exist yet
        # (pulumi/pulumi#16395).
        ingress = installed[INGRESS_RELEASE]
        service = kubernetes.core.v1.Service.get(
            "ingress-gateway-service",
            pulumi.Output.concat(ingress.status.namespace, "/", ingress.status.name),
            opts=cluster.reading(self),
        )
        self.ingress_ip = service.status.apply(load_balancer_ip)
        self.istio_version = pulumi.Output.from_input(settings.istio_version)

        self.register_outputs({"ingressIp": self.ingress_ip, "istioVersion": self.istio_version})
