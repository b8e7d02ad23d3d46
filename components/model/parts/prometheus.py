"""Prometheus, which scrapes the mesh's proxies for Kiali, Grafana and `verify`."""

from __future__ import annotations

from components.model.images import pulled_from
from components.model.parts.addon import NOT_IN_MESH, addon_release
from components.model.release import NO_REQUESTS, ChartRelease, Dashboard, Pod, Values, requests_of, resources

# The chart Istio 1.31 renders its Prometheus addon from (manifests/addons/gen.sh;
# shared/upstream/addons/MANIFEST.txt), pinned to the version Istio pins.
PROMETHEUS_REPOSITORY = "https://prometheus-community.github.io/helm-charts"
PROMETHEUS_VERSION = "28.13.0"
PROMETHEUS_PORT = 9090
PROMETHEUS_PATH = "/prometheus"
PROMETHEUS_RELEASE = "prometheus"
PROMETHEUS_DASHBOARD = Dashboard("prometheusUrl", "prometheus", PROMETHEUS_PORT, PROMETHEUS_PATH)
# The in-cluster address of Prometheus's HTTP API: the route prefix applies to every endpoint.
PROMETHEUS_URL = f"http://prometheus.istio-system:{PROMETHEUS_PORT}{PROMETHEUS_PATH}"
LEAN_PROMETHEUS = resources("50m", "192Mi", "1000m", "640Mi")
LEAN_CONFIG_RELOADER = resources("5m", "16Mi", "50m", "32Mi")
# Prometheus keeps hours, not the chart's 15 days, and never more than this
# on disk; its emptyDir is capped a little above, so the kubelet evicts the pod
# rather than fill the node's disk (values.yaml: server.retention,
# server.retentionSize, server.emptyDir.sizeLimit).
PROMETHEUS_RETENTION = "6h"
PROMETHEUS_RETENTION_SIZE = "256MB"
PROMETHEUS_VOLUME_LIMIT = "512Mi"
# The chart's images (values.yaml server.image, tagged with Chart.yaml's
# appVersion; configmapReload.prometheus.image; templates/deploy.yaml). Not
# Istio's choice (its values-prometheus.yaml takes docker.io/prom and ghcr.io):
# the program keeps the chart's.
PROMETHEUS_IMAGE = ("quay.io/prometheus/prometheus", "v3.10.0")
CONFIG_RELOADER_IMAGE = ("quay.io/prometheus-operator/prometheus-config-reloader", "v0.89.0")


def prometheus_release(lean: bool, caches: bool) -> ChartRelease:
    """`caches`: every image through the host's caches."""
    server: Values = {
        # Istio's name for it (values-prometheus.yaml), which Kiali and Grafana expect.
        "fullnameOverride": "prometheus",
        "service": {"servicePort": PROMETHEUS_PORT},
        "podLabels": NOT_IN_MESH,
        "persistentVolume": {"enabled": False},
        "emptyDir": {"sizeLimit": PROMETHEUS_VOLUME_LIMIT},
        "retention": PROMETHEUS_RETENTION,
        "retentionSize": PROMETHEUS_RETENTION_SIZE,
        # Served under /prometheus on the ingress: --web.route-prefix moves every
        # endpoint (probes and the reloader follow it, templates/deploy.yaml), and
        # --web.external-url builds the UI's links (its path is what matters; the
        # ingress IP is not known when the values are made).
        "prefixURL": PROMETHEUS_PATH,
        "baseURL": f"http://localhost{PROMETHEUS_PATH}",
        # Istio's values-prometheus.yaml scrapes every 15 s (the chart's default
        # is 1m): Istio's Grafana dashboards and `verify` read rates over short
        # windows, which one sample a minute leaves empty.
        "global": {"scrape_interval": "15s"},
    }
    values: Values = {
        # Istio's values-prometheus.yaml: only the server, no alertmanager,
        # pushgateway, kube-state-metrics or node-exporter.
        "alertmanager": {"enabled": False},
        "prometheus-pushgateway": {"enabled": False},
        "kube-state-metrics": {"enabled": False},
        "prometheus-node-exporter": {"enabled": False},
        "server": server,
        # Prometheus scrapes itself on its own port: under the route prefix too.
        "scrapeConfigs": {"prometheus": {"metrics_path": f"{PROMETHEUS_PATH}/metrics"}},
    }
    reloader: Values = {}
    if lean:
        server["resources"] = LEAN_PROMETHEUS
        reloader["resources"] = LEAN_CONFIG_RELOADER
    if caches:
        server["image"] = {"repository": pulled_from(PROMETHEUS_IMAGE[0], caches)}
        reloader["image"] = {"repository": pulled_from(CONFIG_RELOADER_IMAGE[0], caches)}
    if reloader:
        values["configmapReload"] = {"prometheus": reloader}
    # The chart's server Deployment uses the Recreate strategy (values.yaml server.strategy).
    requests = requests_of(LEAN_PROMETHEUS) + requests_of(LEAN_CONFIG_RELOADER) if lean else NO_REQUESTS
    return addon_release(
        PROMETHEUS_RELEASE,
        "prometheus",
        PROMETHEUS_REPOSITORY,
        PROMETHEUS_VERSION,
        values,
        (Pod("prometheus", "Deployment", requests, surges=False),),
        images=tuple(f"{pulled_from(image, caches)}:{tag}" for image, tag in (PROMETHEUS_IMAGE, CONFIG_RELOADER_IMAGE)),
    )


# Multicluster (`clusters` > 1): the first cluster's Prometheus also scrapes
# every other cluster's Prometheus through its `/federate` endpoint (under the
# route prefix), so that Kiali, Grafana and `verify` there see every cluster's
# proxies ("Kiali needs a single endpoint for metrics", Kiali's multi-cluster
# docs). prometheus.io docs, Federation: a scrape job with honor_labels (the
# series keep their own job and instance labels), metrics_path /federate and
# params match[]. Only Istio's standard metrics are federated: what Kiali's
# graph and Istio's dashboards read.
FEDERATED_SERIES = '{__name__=~"istio_.*"}'
# The other Prometheus is reached as the host reaches it, on its cluster's
# ingress (its /prometheus route), port 80 of the mesh's Gateway
# (components/istio.py mesh_gateway_spec): every cluster's ingress address is
# on the one docker network the clusters share. Unverified on a real machine:
# that a pod of one minikube profile reaches another profile's MetalLB address.
INGRESS_PORT = 80


def federation_job(cluster: str) -> str:
    return f"federate-{cluster}"


def prometheus_values_federating(values: Values, remote_ingresses: dict[str, str]) -> Values:
    """The first cluster's Prometheus values, scraping the Prometheus of each
    other cluster (cluster name -> its ingress address). The chart turns every
    key of `scrapeConfigs` into a job of that name (templates/cm.yaml)."""
    jobs: Values = {
        federation_job(cluster): {
            "honor_labels": True,
            "metrics_path": f"{PROMETHEUS_PATH}/federate",
            "params": {"match[]": [FEDERATED_SERIES]},
            "static_configs": [{"targets": [f"{address}:{INGRESS_PORT}"]}],
        }
        for cluster, address in remote_ingresses.items()
    }
    return {**values, "scrapeConfigs": {**values["scrapeConfigs"], **jobs}}
