"""Istio as Helm releases: base, istiod, then the gateways."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_kubernetes as kubernetes

from components.cluster import MinikubeCluster
from components.helm import chart_release
from components.settings import Settings
from components.values import (
    ISTIO_NAMESPACE,
    ISTIO_REPOSITORY,
    IstioRelease,
    gateway_releases,
    istio_base_release,
    istiod_release,
)

INGRESS_RELEASE = "istio-ingressgateway"


def load_balancer_ip(status: kubernetes.core.v1.outputs.ServiceStatus | None) -> str:
    ingress = status.load_balancer.ingress if status and status.load_balancer else None
    if not ingress or not ingress[0].ip:
        raise ValueError(f"the Service {INGRESS_RELEASE} has no LoadBalancer IP: is MetalLB's address pool in place?")
    return ingress[0].ip


class Istio(pulumi.ComponentResource):
    """istio-base -> istiod -> gateways. The ingress gateway also waits for
    `ingress_needs` (MetalLB's pool): Helm's wait counts a LoadBalancer Service
    as ready only once it has an IP."""

    ingress_ip: pulumi.Output[str]
    istio_version: pulumi.Output[str]
    ingress_gateway: kubernetes.helm.v3.Release

    def __init__(
        self,
        name: str,
        settings: Settings,
        cluster: MinikubeCluster,
        ingress_needs: Sequence[pulumi.Resource],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("local-mesh:istio:Istio", name, None, opts)

        def install(plan: IstioRelease, depends_on: Sequence[pulumi.Resource]) -> kubernetes.helm.v3.Release:
            return chart_release(
                plan.release,
                release=plan.release,
                chart=plan.chart,
                version=settings.istio_version,
                repository=ISTIO_REPOSITORY,
                namespace=ISTIO_NAMESPACE,
                values=plan.values,
                opts=pulumi.ResourceOptions(
                    parent=self,
                    provider=cluster.provider,
                    deleted_with=cluster.command,
                    depends_on=list(depends_on),
                ),
            )

        base = install(istio_base_release(), [])
        istiod = install(istiod_release(settings.istio_profile), [base])
        # Gateway pods use `image: auto`, filled in by istiod's injection webhook.
        gateways = {
            plan.release: install(plan, [istiod, *ingress_needs] if plan.release == INGRESS_RELEASE else [istiod])
            for plan in gateway_releases(settings.istio_profile)
        }
        ingress = self.ingress_gateway = gateways[INGRESS_RELEASE]

        # The ID comes from the release's outputs, not a constant: a constant ID
        # makes the first preview read a Service that does not exist yet
        # (pulumi/pulumi#16395).
        service = kubernetes.core.v1.Service.get(
            "ingress-gateway-service",
            pulumi.Output.concat(ingress.status.namespace, "/", ingress.status.name),
            opts=pulumi.ResourceOptions(parent=self, provider=cluster.provider),
        )
        self.ingress_ip = service.status.apply(load_balancer_ip)
        self.istio_version = pulumi.Output.from_input(settings.istio_version)

        self.register_outputs({"ingressIp": self.ingress_ip, "istioVersion": self.istio_version})
