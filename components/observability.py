"""The mesh's dashboards (`observability`): the plan's Kiali, Prometheus and
Grafana releases in istio-system, after istiod and beside the ingress gateway,
never on the way to the ingress IP."""

from __future__ import annotations

import pulumi

from components.cluster import MinikubeCluster
from components.helm import install_releases
from components.plan import Plan


class Observability(pulumi.ComponentResource):
    """Installs the plan's addon releases; `control_plane` is istiod, which they wait for."""

    def __init__(
        self,
        name: str,
        plan: Plan,
        cluster: MinikubeCluster,
        control_plane: pulumi.Resource,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("local-mesh:observability:Observability", name, None, opts)
        install_releases(plan.addons(), {"istiod": [control_plane]}, lambda before: cluster.in_cluster(self, before))
        self.register_outputs({})
