"""Kiali, the mesh's traffic graph, reading Prometheus (and Jaeger and Grafana with `observability: full`)."""

from __future__ import annotations

import hashlib

from components.model.images import pulled_from
from components.model.parts.addon import NOT_IN_MESH, addon_release
from components.model.parts.grafana import GRAFANA_PORT
from components.model.parts.jaeger import JAEGER_PATH, JAEGER_QUERY_URL
from components.model.parts.prometheus import PROMETHEUS_URL
from components.model.release import (
    IMAGE_PULL_POLICY,
    ChartRelease,
    Dashboard,
    Pod,
    Requests,
    Values,
    lean_or_chart,
    resources,
)

# The chart Istio 1.31 renders its Kiali addon from (manifests/addons/gen.sh;
# shared/upstream/addons/MANIFEST.txt), pinned to the version Istio pins.
KIALI_REPOSITORY = "https://kiali.org/helm-charts"
KIALI_VERSION = "2.27.0"
KIALI_PORT = 20001
KIALI_PATH = "/kiali"  # the chart's default web root (templates/_helpers.tpl, kiali-server.server.web_root)
KIALI_RELEASE = "kiali"
KIALI_DASHBOARD = Dashboard("kialiUrl", "kiali", KIALI_PORT, KIALI_PATH)
LEAN_KIALI = resources("10m", "64Mi", "500m", "512Mi")
# kiali-server's chart requests 10m / 64Mi by default (values.yaml deployment.resources).
KIALI_DEFAULT = Requests(10, 64)
# The chart's image: deployment.image_name, image_version v<chart version>
# (values.yaml; templates/deployment.yaml joins them with a `:`).
KIALI_IMAGE = "quay.io/kiali/kiali"
KIALI_IMAGE_TAG = f"v{KIALI_VERSION}"


def kiali_signing_key(profile: str) -> str:
    """A signing key that stays the same for a stack: the chart draws a random
    one on every render unless set (templates/_helpers.tpl), a diff and a
    Kiali restart on every update. Kiali refuses a key that is not 16, 24 or
    32 bytes long, but only when the strategy is not anonymous (kiali/kiali
    v2.27.0, config/config.go validateSigningKey): 32 keeps it valid if the
    strategy changes. Not a secret worth keeping: Kiali runs anonymous and
    view-only here."""
    return hashlib.sha256(f"local-mesh kiali {profile}".encode()).hexdigest()[:32]


# Kiali 2.27.0's links to the other dashboards (kiali/kiali, tag v2.27.0):
# - Tracing: the UI builds "View in Tracing" links by appending /trace/<id>,
#   /search?… to external_url as a string (frontend/src/utils/tracing/
#   UrlProviders/Jaeger.ts), so a relative "/jaeger" opens Jaeger's UI
#   (under its base path) on whatever address the user browses Kiali on.
# - Grafana: the server links only through external_url (grafana/grafana.go
#   URL: discovery from internal_url works on OpenShift only; empty is a 503
#   "grafana URL is not set in Kiali configuration" on every metrics page),
#   and the UI drops every link that `new URL(link)` cannot parse without a
#   base (frontend/src/components/Metrics/GrafanaLinks.tsx): a relative URL
#   gives no links. So it is absolute, and only the origin: Kiali appends
#   the path Grafana's search API returns unless it already starts with
#   external_url (grafana.go getDashboardPath), and Grafana's search paths
#   carry root_url's sub-path (grafana/grafana pkg/services/dashboards
#   GetDashboardURL: AppSubUrl + "/d/<uid>/<slug>"), so ".../grafana" would
#   double it. Known before the ingress exists only where MetalLB hands out
#   the address, or where the user browses a loopback port the node publishes
#   (kiali_values_with_grafana_links, components/mesh.py), so Kiali never waits
#   for the ingress gateway; elsewhere Kiali's Grafana links stay off.
GRAFANA_URL = f"http://grafana.istio-system:{GRAFANA_PORT}"


def kiali_links_to_grafana(grafana: bool, routes: bool, metallb: bool) -> bool:
    """Whether Kiali links to Grafana: Grafana installed, routed on the
    ingress, and the ingress address known before the ingress exists."""
    return grafana and routes and metallb


def kiali_values_with_grafana_links(values: Values, ingress_host: str) -> Values:
    """Kiali's values once the host the user browses is known (the ingress's
    address, or 127.0.0.1:<localPort> on Docker Desktop): Grafana's links start
    at the origin the dashboards are routed on (see above)."""
    grafana = values["external_services"]["grafana"]
    if not grafana["enabled"]:
        return values
    return {
        **values,
        "external_services": {
            **values["external_services"],
            "grafana": {**grafana, "external_url": f"http://{ingress_host}"},
        },
    }


def kiali_release(
    jaeger: bool, grafana_links: bool, routes: bool, profile: str, lean: bool, caches: bool
) -> ChartRelease:
    """`jaeger`: Jaeger is installed; `grafana_links`: kiali_links_to_grafana;
    `routes`: the dashboards are routed on the ingress; `profile`: the minikube
    profile, which names the signing key; `caches`: its image through the host's cache."""
    tracing: Values = {"enabled": False}
    grafana: Values = {"enabled": False}
    if jaeger:
        # Kiali reads traces from Jaeger's query HTTP API (use_grpc false) under its base path.
        tracing = {"enabled": True, "provider": "jaeger", "use_grpc": False, "internal_url": JAEGER_QUERY_URL}
        if routes:
            tracing["external_url"] = JAEGER_PATH
    if grafana_links:
        grafana = {"enabled": True, "internal_url": GRAFANA_URL}
    deployment: Values = {
        # Swaps the ClusterRole that can change Istio and workload objects for a
        # read-only one (templates/role-viewer.yaml, role.yaml).
        "view_only_mode": True,
        "pod_labels": NOT_IN_MESH,
        # The chart's default is Always (values.yaml deployment.image_pull_policy).
        "image_pull_policy": IMAGE_PULL_POLICY,
    }
    if lean:
        deployment["resources"] = LEAN_KIALI
    if caches:
        deployment["image_name"] = pulled_from(KIALI_IMAGE, caches)
    values: Values = {
        "auth": {"strategy": "anonymous"},
        "deployment": deployment,
        "login_token": {"signing_key": kiali_signing_key(profile)},
        "external_services": {"prometheus": {"url": PROMETHEUS_URL}, "tracing": tracing, "grafana": grafana},
    }
    requests = lean_or_chart(lean, LEAN_KIALI, KIALI_DEFAULT)
    return addon_release(
        KIALI_RELEASE,
        "kiali-server",
        KIALI_REPOSITORY,
        KIALI_VERSION,
        values,
        (Pod("kiali", "Deployment", requests, surges=True),),
        pinned={
            f"deployment.resources.requests.{request}": "lean sets requests and limits together; "
            "kiali-server's own requests happen to agree (values.yaml deployment.resources)"
            for request in ("cpu", "memory")
        }
        if lean
        else {},
        images=(f"{pulled_from(KIALI_IMAGE, caches)}:{KIALI_IMAGE_TAG}",),
    )
