"""One cluster's mesh: the cluster, MetalLB, Istio, the dashboards and the sample, in that order."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_kubernetes as kubernetes

from components.cluster import Cluster, MinikubeCluster, cluster_for, mesh_scope, refuse_unprotected_credentials
from components.helloworld import HelloWorld
from components.helm import Prerequisites
from components.istio import Istio
from components.metallb import MetalLB
from components.model.network import browsed_host, local_url
from components.model.parts.metallb import METALLB_NAMESPACE
from components.model.plan import Plan
from components.model.release import LOAD_BALANCER, TRUST_ROOT
from components.model.settings import Settings
from components.multicluster import ClusterCa, MeshMember, Overview, expose_services, plug_in_ca
from components.observability import Observability, metallb_first_address
from components.sample import Sample


def _moved_here() -> pulumi.ResourceOptions:
    """Before LocalMesh owned them, the cluster and the components after it
    were registered at the stack's root: an alias to there keeps their state
    (and, inherited, their children's), so an existing stack replaces nothing."""
    return pulumi.ResourceOptions(aliases=[pulumi.Alias(parent=pulumi.ROOT_STACK_RESOURCE)])


class LocalMesh(pulumi.ComponentResource):
    """A cluster (local-mesh's minikube, or one the user has) -> MetalLB (with
    loadBalancer metallb) -> Istio -> the dashboards `observability` asks for ->
    the sample. `outputs` are the stack outputs of this cluster's mesh.
    Every resource under it is named by `mesh_scope`: the `primary` (first)
    mesh's as a one-mesh stack's always were, a further mesh's after its own name."""

    outputs: dict[str, pulumi.Output[Any]]
    # With several clusters in the mesh: what this one brings to the others.
    member: MeshMember | None
    cluster: Cluster
    # The dashboards' Helm releases by release name.
    dashboards: dict[str, kubernetes.helm.v3.Release]

    def __init__(
        self,
        name: str,
        settings: Settings,
        plan: Plan,
        dashboards: Mapping[str, Mapping[str, str]],
        primary: bool,
        opts: pulumi.ResourceOptions | None = None,
        ca: ClusterCa | None = None,
        joins: LocalMesh | None = None,
        overview: Overview | None = None,
    ) -> None:
        """`plan`: the releases for this cluster; `dashboards`: Istio's Grafana
        dashboards, read on the host before anything is created. In a mesh of
        several clusters: `ca`, this cluster's intermediate CA; `joins`, the
        stack's first cluster's mesh (None for the first itself); `overview`,
        in the first, the other clusters as its dashboards see them."""
        refuse_unprotected_credentials(settings)
        super().__init__("local-mesh:mesh:LocalMesh", name, None, opts)
        child = pulumi.ResourceOptions.merge(pulumi.ResourceOptions(parent=self), _moved_here())
        self.outputs = {}
        scope = mesh_scope(name, primary)
        cluster = cluster_for(scope("cluster"), settings, scope, child, joins.cluster if joins else None)
        self.cluster = cluster
        after: Prerequisites = {}
        address_pool = None
        if settings.metallb:
            metallb = MetalLB(scope("metallb"), settings, plan.mesh_releases(METALLB_NAMESPACE), cluster, child)
            after = {LOAD_BALANCER: metallb.ready}
            address_pool = metallb.address_pool
            self.outputs["addressPool"] = metallb.address_pool
        if ca is not None:
            after = {**after, TRUST_ROOT: [plug_in_ca(self, cluster, settings.cluster_index, ca)]}
        istio = Istio(scope("istio"), plan, settings.istio_version, settings.mtls, cluster, after, child)
        # Where the user's URLs point: the ingress's address, or on Docker Desktop
        # (whose node network this host cannot reach) the loopback port.
        url_host = pulumi.Output.all(istio.ingress_address, cluster.local_port, cluster.reaches_node_network).apply(
            lambda known: browsed_host(*known)
        )
        grafana_links_host = None
        if address_pool is not None:
            grafana_links_host = pulumi.Output.all(
                address_pool, cluster.local_port, cluster.reaches_node_network
            ).apply(lambda known: browsed_host(metallb_first_address(known[0]), known[1], known[2]))
        self.member = expose_services(self, cluster, settings.cluster_index, istio) if ca is not None else None
        if settings.multicluster_mesh:
            # The proof that requests cross clusters (docs/multicluster-proof.md).
            HelloWorld(scope("helloworld"), plan, cluster, settings.cluster_index, [istio.mesh_ready], child)
        self.dashboards = {}
        if plan.addons():
            observability = Observability(
                scope("observability"),
                settings.istio_profile,
                plan,
                settings.routes_dashboards,
                cluster,
                istio.control_plane,
                url_host,
                dashboards,
                grafana_links_host,
                child,
                overview,
            )
            self.dashboards = observability.installed
            # kialiUrl, prometheusUrl, grafanaUrl, jaegerUrl: those installed.
            self.outputs.update(observability.urls)
        if settings.sample:
            sample = Sample(
                scope("sample"),
                plan,
                cluster,
                url_host,
                after=[istio.mesh_ready],
                opts=child,
            )
            self.outputs["sampleUrl"] = sample.url
        # An output whose value is None is left out of the stack's outputs
        # (pulumi/runtime/rpc.py serialize_properties): ingressIp or ingressHost, whichever the Service has.
        self.outputs["ingressIp"] = istio.ingress_ip
        self.outputs["ingressHost"] = istio.ingress_host
        self.outputs["ingressUrl"] = pulumi.Output.concat("http://", url_host)
        # The loopback port, wherever one is published (an output of None is left out).
        self.outputs["localUrl"] = cluster.local_port.apply(lambda port: None if port is None else local_url(port))
        if isinstance(cluster, MinikubeCluster):
            self.outputs["profile"] = cluster.profile
        if cluster.registry is not None:
            self.outputs["registry"] = cluster.registry
        self.outputs["nodeIp"] = cluster.node_ip
        self.outputs["kubeContext"] = cluster.kube_context
        self.outputs["istioVersion"] = istio.istio_version
        self.outputs["images"] = pulumi.Output.from_input(list(plan.images))
        self.outputs["kubeconfig"] = cluster.kubeconfig
        self.register_outputs(self.outputs)
