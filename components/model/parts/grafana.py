"""Grafana, with Istio's dashboards, reading Prometheus (and Jaeger)."""

from __future__ import annotations

from dataclasses import replace

from components.model.images import cache_host
from components.model.parts.addon import NOT_IN_MESH, addon_release
from components.model.parts.jaeger import JAEGER_QUERY_URL
from components.model.parts.prometheus import PROMETHEUS_PATH, PROMETHEUS_PORT
from components.model.release import (
    GRAFANA_DASHBOARDS,
    NO_REQUESTS,
    ChartRelease,
    Dashboard,
    Pod,
    Values,
    lean_or_chart,
    resources,
)

# grafana/helm-charts deprecated its `grafana` chart (#4107) and removed it (#4113):
# it moved to grafana-community/helm-charts, whose repository publishes 9.2.2 with
# the same digest and gets the updates (shared/upstream/README.md, `addons/`).
GRAFANA_REPOSITORY = "https://grafana-community.github.io/helm-charts"
GRAFANA_VERSION = "9.2.2"
GRAFANA_PORT = 3000
GRAFANA_PATH = "/grafana"
GRAFANA_DASHBOARD = Dashboard("grafanaUrl", "grafana", GRAFANA_PORT, GRAFANA_PATH)
# Istio's dashboards, in the ConfigMaps its samples/addons/grafana.yaml ships them
# in (components/checks/dashboards.py reads them, observability.py puts them in the cluster), by the dashboard provider
# that reads each from disk (Istio's values-grafana.yaml, dashboardsConfigMaps).
GRAFANA_DASHBOARD_CONFIGMAPS = {
    "istio": "istio-grafana-dashboards",
    "istio-services": "istio-services-grafana-dashboards",
}
LEAN_GRAFANA = resources("20m", "96Mi", "500m", "256Mi")
# The chart's image: `image.registry`/`image.repository`:<appVersion> (values.yaml,
# Chart.yaml, templates/_pod.tpl). With `dashboards` and `persistence` unset and
# the sidecar off, no init or sidecar container runs.
GRAFANA_REGISTRY = "docker.io"
GRAFANA_IMAGE = "grafana/grafana:12.0.1"


def grafana_release(jaeger: bool, lean: bool, caches: bool) -> ChartRelease:
    """`jaeger`: Jaeger is installed (a data source); `caches`: its image through the host's cache."""
    datasources = [
        {
            "name": "Prometheus",
            "type": "prometheus",
            "url": f"http://prometheus:{PROMETHEUS_PORT}{PROMETHEUS_PATH}",
            "access": "proxy",
            "isDefault": True,
        },
    ]
    if jaeger:
        datasources.append({"name": "Jaeger", "type": "jaeger", "url": JAEGER_QUERY_URL, "access": "proxy"})
    values: Values = {
        # The chart names the Service after the release and serves it on 80;
        # Kiali and Istio's docs expect grafana:3000 (Istio's values-grafana.yaml).
        "service": {"port": GRAFANA_PORT},
        "podLabels": NOT_IN_MESH,
        "grafana.ini": {
            # The gateway strips /grafana before Grafana sees the request, and
            # Grafana takes its links' sub-path from root_url (Grafana's
            # defaults.ini: root_url "If you use reverse proxy and sub path
            # specify full url (with sub path)"; serve_from_sub_path stays false,
            # so the chart's probes at /api/health keep working).
            "server": {"root_url": f"%(protocol)s://%(domain)s{GRAFANA_PATH}/"},
            # Anyone who reaches the ingress may look, not change.
            "auth.anonymous": {"enabled": True, "org_role": "Viewer"},
            # No calls home from a laptop's cluster (grafana/grafana conf/defaults.ini):
            # usage reports to stats.grafana.org, update checks for Grafana and its plugins.
            "analytics": {"reporting_enabled": False, "check_for_updates": False, "check_for_plugin_updates": False},
            # The news feed from grafana.com (defaults.ini [news]; unverified for Grafana 12.0).
            "news": {"news_feed_enabled": False},
            # Grafana 12 installs its default plugins from grafana.com at start unless
            # preinstall_disabled (pkg/setting/setting_plugins.go, readPluginSettings;
            # the `preinstall` settings came with Grafana 11.5), and offers a plugin
            # catalogue that installs from there (plugin_admin_enabled).
            "plugins": {"preinstall_disabled": True, "plugin_admin_enabled": False},
        },
        "datasources": {"datasources.yaml": {"apiVersion": 1, "datasources": datasources}},
        "dashboardProviders": {
            "dashboardproviders.yaml": {
                "apiVersion": 1,
                "providers": [
                    {
                        "name": provider,
                        "orgId": 1,
                        "folder": "istio",
                        "type": "file",
                        "options": {"path": f"/var/lib/grafana/dashboards/{provider}"},
                    }
                    for provider in GRAFANA_DASHBOARD_CONFIGMAPS
                ],
            }
        },
        # Istio's dashboards from disk, in the ConfigMaps the program creates from
        # the Istio release this stack runs (components/checks/dashboards.py); the chart
        # mounts each at /var/lib/grafana/dashboards/<provider> (templates/_pod.tpl).
        # Not the chart's `dashboards` value: any entry there adds its
        # download-dashboards init container, which curls at every pod start.
        "dashboardsConfigMaps": dict(GRAFANA_DASHBOARD_CONFIGMAPS),
    }
    if lean:
        values["resources"] = LEAN_GRAFANA
    registry = cache_host(GRAFANA_REGISTRY) if caches else GRAFANA_REGISTRY
    if caches:
        values["image"] = {"registry": registry}
    grafana = addon_release(
        "grafana",
        "grafana",
        GRAFANA_REPOSITORY,
        GRAFANA_VERSION,
        values,
        (Pod("grafana", "Deployment", lean_or_chart(lean, LEAN_GRAFANA, NO_REQUESTS), surges=True),),
        images=(f"{registry}/{GRAFANA_IMAGE}",),
    )
    # The pod cannot start before the ConfigMaps it mounts exist.
    return replace(grafana, after=(*grafana.after, GRAFANA_DASHBOARDS))
