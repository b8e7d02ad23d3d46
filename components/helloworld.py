"""One cluster's share of Istio's helloworld sample (multicluster: `clusters` > 1)."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_kubernetes as kubernetes

from components.cluster import Cluster
from components.istio import MESH_GATEWAY
from components.model.parts.helloworld import Object, helloworld_objects
from components.model.plan import Plan

# How each kind the part makes is registered (their manifests are camelCase,
# as the API server takes them, and reach the provider unchanged).
_RESOURCES = {
    "Service": kubernetes.core.v1.Service,
    "ServiceAccount": kubernetes.core.v1.ServiceAccount,
    "Deployment": kubernetes.apps.v1.Deployment,
}


class HelloWorld(pulumi.ComponentResource):
    """Cluster `index` (0-based, the stack's order) of a multicluster mesh:
    namespace `helloworld` in the mesh, the helloworld Service, the version
    this cluster serves (v1 in the first, v2 in the second, components/model/
    parts/helloworld.py), a curl client, and a VirtualService on the mesh's
    Gateway routing /hello to helloworld, which Istio balances over every
    cluster's endpoints."""

    def __init__(
        self,
        name: str,
        plan: Plan,
        cluster: Cluster,
        index: int,
        after: Sequence[pulumi.Resource],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """`after`: what a workload waits for to join the mesh as it starts
        (Istio.mesh_ready), as for the httpbin sample."""
        super().__init__("local-mesh:helloworld:HelloWorld", name, None, opts)
        namespace, *objects = helloworld_objects(index, plan.ambient, plan.lean, MESH_GATEWAY, plan.caches_images)
        created = kubernetes.core.v1.Namespace(
            cluster.scope("helloworld"), metadata=namespace["metadata"], opts=cluster.kubernetes_options(self, after)
        )
        in_namespace = cluster.kubernetes_options(self, [*after, created])
        for item in objects:
            self._register(cluster.scope(item["metadata"]["name"]), item, in_namespace)
        self.register_outputs({})

    @staticmethod
    def _register(name: str, item: Object, opts: pulumi.ResourceOptions) -> None:
        if item["kind"] == "VirtualService":
            kubernetes.apiextensions.CustomResource(
                name,
                api_version=item["apiVersion"],
                kind=item["kind"],
                metadata=item["metadata"],
                spec=item["spec"],
                opts=opts,
            )
            return
        fields = {key: value for key, value in item.items() if key not in ("apiVersion", "kind")}
        _RESOURCES[item["kind"]](name, **fields, opts=opts)
