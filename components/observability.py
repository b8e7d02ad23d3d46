"""The mesh's dashboards (`observability`): the plan's Kiali, Prometheus and
Grafana releases and, with `full`, Jaeger, in istio-system, after istiod and
beside the ingress gateway, never on the way to the ingress IP."""

from __future__ import annotations

import pulumi

from components.cluster import MinikubeCluster
from components.helm import install_releases
from components.jaeger import install_jaeger
from components.plan import Plan
from components.settings import Settings


class Observability(pulumi.ComponentResource):
    """Installs the plan's addon releases (and Jaeger); `control_plane` is istiod, which they wait for."""

    def __init__(
        self,
        name: str,
        settings: Settings,
        plan: Plan,
        cluster: MinikubeCluster,
        control_plane: pulumi.Resource,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("local-mesh:observability:Observability", name, None, opts)
        install_releases(plan.addons(), {"istiod": [control_plane]}, lambda before: cluster.in_cluster(self, before))
        if settings.observability == "full":
            install_jaeger(settings, cluster.in_cluster(self, [control_plane]))
        self.register_outputs({})
