"""Istio as Helm releases: base, istiod, then the gateways."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_kubernetes as kubernetes

from components.cluster import MinikubeCluster
from components.helm import chart_release
from components.settings import Settings
from components.values import (
    GATEWAY_API_CRDS_URL,
    ISTIO_NAMESPACE,
    ISTIO_REPOSITORY,
    IstioRelease,
    ambient_releases,
    gateway_releases,
    istio_base_release,
    istiod_release,
    peer_authentication_spec,
)

INGRESS_RELEASE = "istio-ingressgateway"


def deleted_with(cluster_command: pulumi.Resource) -> pulumi.ResourceTransform:
    """A transform marking every resource it sees deleted with the cluster: the
    children of a component the provider builds (yaml/v2 ConfigFile) do not
    inherit the option from their parent otherwise."""

    def transform(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult:
        opts = pulumi.ResourceOptions.merge(args.opts, pulumi.ResourceOptions(deleted_with=cluster_command))
        return pulumi.ResourceTransformResult(args.props, opts)

    return transform


def load_balancer_ip(status: kubernetes.core.v1.outputs.ServiceStatus | None) -> str:
    ingress = status.load_balancer.ingress if status and status.load_balancer else None
    if not ingress or not ingress[0].ip:
        raise ValueError(f"the Service {INGRESS_RELEASE} has no LoadBalancer IP: is MetalLB's address pool in place?")
    return ingress[0].ip


class Istio(pulumi.ComponentResource):
    """istio-base -> istiod -> gateways (ambient: base -> Gateway API CRDs ->
    istiod -> istio-cni -> ztunnel -> gateway, Istio's ambient install order).
    The ingress gateway also waits for `ingress_needs` (MetalLB's pool): Helm's
    wait counts a LoadBalancer Service as ready only once it has an IP."""

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
                opts=cluster.in_cluster(self, depends_on),
            )

        base = install(istio_base_release(), [])
        before_istiod: list[pulumi.Resource] = [base]
        if settings.istio_profile == "ambient":
            # Pinned to the release this Istio builds against; fetched at run time.
            crds_opts = pulumi.ResourceOptions.merge(
                cluster.in_cluster(self), pulumi.ResourceOptions(transforms=[deleted_with(cluster.command)])
            )
            before_istiod.append(
                kubernetes.yaml.v2.ConfigFile("gateway-api-crds", file=GATEWAY_API_CRDS_URL, opts=crds_opts)
            )
        istiod = install(istiod_release(settings.istio_profile, settings.resources), before_istiod)
        ready: pulumi.Resource = istiod
        if settings.istio_profile == "ambient":
            for plan in ambient_releases(settings.resources):
                ready = install(plan, [ready])
        # Gateway pods use `image: auto`, filled in by istiod's injection webhook.
        gateways = {
            plan.release: install(plan, [ready, *ingress_needs] if plan.release == INGRESS_RELEASE else [ready])
            for plan in gateway_releases(settings.istio_profile, settings.resources)
        }
        ingress = self.ingress_gateway = gateways[INGRESS_RELEASE]
        if settings.mtls == "strict":
            # After istiod, whose webhook validates Istio's custom resources.
            kubernetes.apiextensions.CustomResource(
                "mesh-mtls",
                api_version="security.istio.io/v1",
                kind="PeerAuthentication",
                metadata=kubernetes.meta.v1.ObjectMetaArgs(name="default", namespace=ISTIO_NAMESPACE),
                spec=peer_authentication_spec(),
                opts=cluster.in_cluster(self, [istiod]),
            )

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
