"""The mesh's dashboards (`observability`): the plan's Kiali, Prometheus and
Grafana releases and, with `full`, Jaeger, in istio-system, after istiod and
beside the ingress gateway, never on the way to the ingress IP; and one
VirtualService on the mesh's Gateway that serves each under its own path."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_kubernetes as kubernetes

from components.cluster import Cluster
from components.istio import MESH_GATEWAY
from components.jaeger import install_jaeger
from components.model.network import parse_address_pool
from components.model.parts.grafana import GRAFANA_DASHBOARD
from components.model.parts.istio import ISTIO_NAMESPACE
from components.model.parts.jaeger import JAEGER_DASHBOARD
from components.model.parts.kiali import KIALI_DASHBOARD, KIALI_RELEASE, kiali_values_with_grafana_links
from components.model.parts.prometheus import PROMETHEUS_DASHBOARD, PROMETHEUS_RELEASE
from components.model.plan import Plan
from components.model.release import GRAFANA_DASHBOARDS, Values
from components.multicluster import Overview

# The read-only endpoints of Prometheus's HTTP API that take POST as well as
# GET (prometheus/prometheus v3.10.0, web/api/v1/api.go Register): the UI's
# autocompletion posts labels and series (web/ui/module/codemirror-promql/
# src/client/prometheus.ts: httpMethod 'POST'); the other pages GET.
PROMETHEUS_QUERY_POSTS = ("query", "query_range", "query_exemplars", "format_query", "parse_query", "labels", "series")

# Stack output -> (Service in istio-system, its port, path on the ingress), of every dashboard a plan may route.
DASHBOARDS: dict[str, tuple[str, int, str]] = {
    dashboard.output: (dashboard.service, dashboard.port, dashboard.path)
    for dashboard in (KIALI_DASHBOARD, PROMETHEUS_DASHBOARD, GRAFANA_DASHBOARD, JAEGER_DASHBOARD)
}


def metallb_first_address(pool: str) -> str:
    """The address MetalLB gives the ingress gateway, the only LoadBalancer
    Service of the stack, known as soon as the pool is: MetalLB hands out the
    lowest free address of a pool (metallb/metallb internal/allocator/
    allocator.go getIPFromCIDR walks the pool from its first address; checked
    on the stored main branch, not at tag v0.16.1: unverified there). Kiali
    links to Grafana through it without waiting for the ingress gateway."""
    return str(parse_address_pool(pool).first)


def installed_dashboards(plan: Plan) -> list[str]:
    """The stack outputs of the dashboards this stack installs."""
    return [dashboard.output for dashboard in plan.dashboards]


def _destination(service: str, port: int) -> dict[str, Any]:
    return {"destination": {"host": f"{service}.{ISTIO_NAMESPACE}.svc.cluster.local", "port": {"number": port}}}


def dashboards_virtual_service_spec(outputs: list[str]) -> dict[str, Any]:
    """One route per installed dashboard under its path; hostless like the sample's."""
    http: list[dict[str, Any]] = []
    for output in outputs:
        service, port, path = DASHBOARDS[output]
        if output == PROMETHEUS_DASHBOARD.output:
            # Reads only. Prometheus's lifecycle endpoints (/-/quit, /-/reload),
            # its admin API (/api/v1/admin/tsdb/*), remote write and DELETE
            # /api/v1/series take POST, PUT or DELETE, which the gateway routes
            # only for the read-only query API. Prometheus 3's UI posts
            # /api/v1/labels and /api/v1/series for autocompletion.
            reads_by_post = "|".join(PROMETHEUS_QUERY_POSTS)
            http.append(
                {
                    "match": [
                        {"uri": {"regex": f"{path}/api/v1/({reads_by_post})"}, "method": {"exact": "POST"}},
                        {"uri": {"prefix": path}, "method": {"exact": "GET"}},
                    ],
                    "route": [_destination(service, port)],
                }
            )
        elif output == GRAFANA_DASHBOARD.output:
            # Grafana serves at its root and takes the sub-path for its links
            # from root_url (components/model/parts/grafana.py): the gateway strips it.
            http.append({"match": [{"uri": {"exact": path}}], "redirect": {"uri": f"{path}/"}})
            http.append(
                {
                    "match": [{"uri": {"prefix": f"{path}/"}}],
                    "rewrite": {"uri": "/"},
                    "route": [_destination(service, port)],
                }
            )
        else:
            # Kiali's web root and Jaeger's base path are the path itself.
            http.append({"match": [{"uri": {"prefix": path}}], "route": [_destination(service, port)]})
    return {"hosts": ["*"], "gateways": [MESH_GATEWAY], "http": http}


class Observability(pulumi.ComponentResource):
    """Installs the plan's addon releases (and Jaeger) after `control_plane`
    (istiod), and, with `routes`, routes each dashboard's path on the ingress to it.
    `url_host`: where the user's URLs point (the ingress, or the loopback port);
    `grafana_links_host`: the same, known before the ingress exists, for Kiali's
    links to Grafana (None: not known early, no links). `overview`: in the
    first cluster of several, the others (Kiali reads them, Prometheus
    federates theirs)."""

    urls: dict[str, pulumi.Output[str]]

    def __init__(
        self,
        name: str,
        istio_profile: str,
        plan: Plan,
        routes: bool,
        cluster: Cluster,
        control_plane: pulumi.Resource,
        url_host: pulumi.Output[str],
        dashboards: Mapping[str, Mapping[str, str]],
        grafana_links_host: pulumi.Output[str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
        overview: Overview | None = None,
    ) -> None:
        super().__init__("local-mesh:observability:Observability", name, None, opts)
        # Istio's Grafana dashboards (components/checks/dashboards.py), read on the host
        # before anything was created; after istiod, as everything in istio-system.
        dashboard_configmaps: list[pulumi.Resource] = [
            kubernetes.core.v1.ConfigMap(
                cluster.scope(configmap),
                metadata=kubernetes.meta.v1.ObjectMetaArgs(name=configmap, namespace=ISTIO_NAMESPACE),
                data=dict(data),
                opts=cluster.kubernetes_options(self, [control_plane]),
            )
            for configmap, data in dashboards.items()
        ]
        values: dict[str, pulumi.Input[Values]] = {}
        installs = {release.name for release in plan.addons()}
        if grafana_links_host is not None and KIALI_RELEASE in installs:
            kiali = plan.release(KIALI_RELEASE).values
            values[KIALI_RELEASE] = grafana_links_host.apply(lambda host: kiali_values_with_grafana_links(kiali, host))
        if overview is not None and KIALI_RELEASE in installs:
            values[KIALI_RELEASE] = overview.kiali_values(values.get(KIALI_RELEASE, plan.release(KIALI_RELEASE).values))
        # The other clusters' Prometheus answers on their ingress's route, as this one's does.
        if overview is not None and routes and PROMETHEUS_RELEASE in installs:
            values[PROMETHEUS_RELEASE] = overview.prometheus_values(plan.release(PROMETHEUS_RELEASE).values)
        # The dashboards' releases by release name (a remote cluster's Kiali, for components/multicluster.py).
        self.installed = cluster.install(
            self, plan.addons(), {"istiod": [control_plane], GRAFANA_DASHBOARDS: dashboard_configmaps}, values
        )
        if plan.jaeger:
            install_jaeger(
                plan.lean,
                plan.caches_images,
                istio_profile,
                cluster.kubernetes_options(self, [control_plane]),
                cluster.scope,
            )
        self.urls: dict[str, pulumi.Output[str]] = {}
        if not routes:
            self.register_outputs({})
            return
        outputs = installed_dashboards(plan)
        # After istiod, whose webhook validates it.
        kubernetes.apiextensions.CustomResource(
            cluster.scope("dashboards"),
            api_version="networking.istio.io/v1",
            kind="VirtualService",
            metadata=kubernetes.meta.v1.ObjectMetaArgs(name="dashboards", namespace=ISTIO_NAMESPACE),
            spec=dashboards_virtual_service_spec(outputs),
            opts=cluster.kubernetes_options(self, [control_plane]),
        )
        # Each dashboard's pages live under its path (Grafana's bare path is a redirect there).
        self.urls = {
            output: pulumi.Output.concat("http://", url_host, DASHBOARDS[output][2], "/") for output in outputs
        }
        self.register_outputs(dict(self.urls))
