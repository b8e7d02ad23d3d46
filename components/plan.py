"""The release plan: every Helm release the stack installs, in order, with its
chart, repository, version, namespace, values, what it waits for and what
the pods it runs request. Pure.

The MetalLB and Istio components install from the plan, components/footprint.py
sums it, and tests/test_render.py renders every release with the real charts
in shared/upstream: the values must change what the chart renders, and the
requests listed here must be what the rendered pods ask for.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from components.settings import Settings

Values = dict[str, Any]

METALLB_REPOSITORY = "https://metallb.github.io/metallb"
METALLB_NAMESPACE = "metallb-system"
# From Istio 1.31 on, Istio publishes its charts only here (a classic Helm
# repository holding every older version too) and at oci://ghcr.io/istio/release/charts;
# istio-release.storage.googleapis.com gets no 1.31 chart (Istio 1.31 upgrade
# notes; shared/upstream/README.md, "Where the real artifacts are published").
ISTIO_REPOSITORY = "https://blob.istio.io/istio-release/charts"
ISTIO_NAMESPACE = "istio-system"
# The Gateway API release Istio 1.31 is built against (its go.mod:
# sigs.k8s.io/gateway-api v1.6.0); Istio 1.31 ignores TCPRoute CRDs older than v1.6.0.
GATEWAY_API_VERSION = "v1.6.0"
GATEWAY_API_CRDS_URL = (
    f"https://github.com/kubernetes-sigs/gateway-api/releases/download/{GATEWAY_API_VERSION}/standard-install.yaml"
)
# The charts Istio 1.31 renders its observability addons from (manifests/addons/gen.sh;
# shared/upstream/addons/MANIFEST.txt), pinned to the versions Istio pins.
KIALI_REPOSITORY = "https://kiali.org/helm-charts"
KIALI_VERSION = "2.27.0"
PROMETHEUS_REPOSITORY = "https://prometheus-community.github.io/helm-charts"
PROMETHEUS_VERSION = "28.13.0"
# grafana/helm-charts deprecated its `grafana` chart (#4107) and removed it (#4113):
# it moved to grafana-community/helm-charts, whose repository publishes 9.2.2 with
# the same digest and gets the updates (shared/upstream/README.md, `addons/`).
GRAFANA_REPOSITORY = "https://grafana-community.github.io/helm-charts"
GRAFANA_VERSION = "9.2.2"
# Where each dashboard answers inside the cluster and under which path on the ingress.
KIALI_PORT = 20001
PROMETHEUS_PORT = 9090
GRAFANA_PORT = 3000
KIALI_PATH = "/kiali"  # the chart's default web root (templates/_helpers.tpl, kiali-server.server.web_root)
PROMETHEUS_PATH = "/prometheus"
GRAFANA_PATH = "/grafana"
JAEGER_PATH = "/jaeger"
# The in-cluster address of Prometheus's HTTP API: the route prefix applies to every endpoint.
PROMETHEUS_URL = f"http://prometheus.istio-system:{PROMETHEUS_PORT}{PROMETHEUS_PATH}"
# Istio's tracing provider for Jaeger, as Istio's demo profile declares it
# (istiod files/profile-demo.yaml, meshConfig.extensionProviders): OpenTelemetry
# over gRPC to Jaeger's collector (components/jaeger.py).
TRACING_PROVIDER = "jaeger"
JAEGER_COLLECTOR = "jaeger-collector"
OTLP_GRPC_PORT = 4317
JAEGER_EXTENSION_PROVIDER = {
    "name": TRACING_PROVIDER,
    "opentelemetry": {"port": OTLP_GRPC_PORT, "service": f"{JAEGER_COLLECTOR}.istio-system.svc.cluster.local"},
}
# Jaeger's query service (components/jaeger.py) under its base path.
JAEGER_QUERY_URL = f"http://tracing.istio-system:80{JAEGER_PATH}"
# Istio's dashboards, in the ConfigMaps its samples/addons/grafana.yaml ships them
# in (components/checks/dashboards.py reads them, observability.py puts them in the cluster), by the dashboard provider
# that reads each from disk (Istio's values-grafana.yaml, dashboardsConfigMaps).
GRAFANA_DASHBOARD_CONFIGMAPS = {
    "istio": "istio-grafana-dashboards",
    "istio-services": "istio-services-grafana-dashboards",
}
# Every container the stack runs uses the image already on the node: a restart
# without the network finds it there (Kubernetes' own default is Always for an
# untagged or `:latest` image: k8s.io/kubernetes pkg/apis/core/v1/defaults.go,
# SetDefaults_Container). Istio's addon values ask for the same (values-kiali.yaml).
IMAGE_PULL_POLICY = "IfNotPresent"
INGRESS_RELEASE = "istio-ingressgateway"
EGRESS_RELEASE = "istio-egressgateway"

# The config key that installs the dashboards, whose chart versions the plan pins.
OBSERVABILITY_KEY = "observability"

# What a release can wait for besides another release of the plan.
GATEWAY_API_CRDS = "gateway-api-crds"
LOAD_BALANCER = "load-balancer"  # MetalLB's address pool and L2 advertisement
GRAFANA_DASHBOARDS = "grafana-dashboards"  # the ConfigMaps of Istio's dashboards Grafana mounts


@dataclass(frozen=True)
class Requests:
    """CPU and memory requests, as the scheduler adds them up."""

    cpu_millis: int
    memory_mib: int

    def __add__(self, other: Requests) -> Requests:
        return Requests(self.cpu_millis + other.cpu_millis, self.memory_mib + other.memory_mib)

    def __str__(self) -> str:
        return f"{self.cpu_millis}m CPU, {self.memory_mib}Mi"


NO_REQUESTS = Requests(0, 0)
_CPU_QUANTITY = re.compile(r"^(\d+)(m?)$")
_MEMORY_QUANTITY = re.compile(r"^(\d+)(Mi|Gi)$")


def parse_cpu_quantity(text: str) -> int:
    """A Kubernetes CPU quantity (`500m`, `2`) in millicores."""
    match = _CPU_QUANTITY.match(str(text))
    if not match:
        raise ValueError(f"unreadable CPU quantity {text!r}")
    return int(match.group(1)) * (1 if match.group(2) else 1000)


def parse_memory_quantity(text: str) -> int:
    """A Kubernetes memory quantity in the binary units the charts use (`128Mi`, `1Gi`), in MiB.
    Not minikube's `--memory` syntax: that is settings.parse_memory_mb."""
    match = _MEMORY_QUANTITY.match(str(text))
    if not match:
        raise ValueError(f"unreadable memory quantity {text!r}")
    return int(match.group(1)) * (1024 if match.group(2) == "Gi" else 1)


def requests_of(resources: Mapping[str, Any] | None) -> Requests:
    """The requests of a Kubernetes ResourceRequirements block (none: zero)."""
    requests = (resources or {}).get("requests") or {}
    return Requests(
        parse_cpu_quantity(requests["cpu"]) if "cpu" in requests else 0,
        parse_memory_quantity(requests["memory"]) if "memory" in requests else 0,
    )


@dataclass(frozen=True)
class Pod:
    """One pod a release runs on the single node: the Deployment or DaemonSet
    the chart renders, and what its containers request in total."""

    workload: str
    kind: str  # Deployment or DaemonSet
    requests: Requests
    # A rolling update starts the new pod before the old one stops (maxSurge > 0):
    # Kubernetes' default for a Deployment, and ztunnel's chart asks it of its DaemonSet.
    surges: bool


@dataclass(frozen=True)
class ChartRelease:
    name: str  # the Helm release name, also the Pulumi resource name
    chart: str
    repository: str
    version: str
    version_key: str  # the config key the version comes from (or, for a pinned addon, asks for it)
    namespace: str
    values: Values
    after: tuple[str, ...] = ()  # other releases of the plan, GATEWAY_API_CRDS, LOAD_BALANCER or GRAFANA_DASHBOARDS
    pods: tuple[Pod, ...] = ()
    # Values set although they equal the chart's default, with the reason.
    pinned: Mapping[str, str] = field(default_factory=dict)
    # A dashboard (`observability`), installed by its own component, not the mesh's.
    addon: bool = False


@dataclass(frozen=True)
class ClusterState:
    """What the cluster already has that the plan depends on, read through the
    stack's context before the plan is made (components/checks/discovery.py). The
    default is a cluster that reports nothing of it (local-mesh's own minikube)."""

    # The istio-cni platform profile its nodes report (CNI_PLATFORMS); None: none recognised.
    platform: str | None = None
    # Gateway API CRDs that local-mesh did not install: Istio uses them and local-mesh installs none.
    gateway_api_crds: bool = False


NOTHING_INSTALLED = ClusterState()


def cni_platform(settings: Settings, cluster: ClusterState) -> str | None:
    """istio-cni's `global.platform` (files/profile-platform-<name>.yaml): the
    `platform` key, or with `auto` local-mesh's own minikube's (docker runtime,
    cluster-create.sh), or what the existing cluster's nodes report. None: the
    chart's defaults (/etc/cni/net.d, /opt/cni/bin, /var/run/netns)."""
    if settings.platform == "none":
        return None
    if settings.platform != "auto":
        return settings.platform
    return "minikube" if settings.on_minikube else cluster.platform


@dataclass(frozen=True)
class Plan:
    releases: tuple[ChartRelease, ...]
    ambient: bool  # sidecar-less: workloads join by namespace label, istio-cni and ztunnel run
    sidecar: Requests | None  # what istiod's injector gives each sidecar (None: no sidecars)
    # The release after which a workload joins the mesh as it starts: istiod
    # (its webhook injects the sidecar), or in ambient the node agents' last.
    mesh_ready: str

    def release(self, name: str) -> ChartRelease:
        (found,) = [release for release in self.releases if release.name == name]
        return found

    def in_namespace(self, namespace: str) -> list[ChartRelease]:
        """The mesh's releases in this namespace (the dashboards aside: `addons`)."""
        return [release for release in self.releases if release.namespace == namespace and not release.addon]

    def addons(self) -> list[ChartRelease]:
        """The dashboards `observability` asks for."""
        return [release for release in self.releases if release.addon]

    @property
    def installs_gateway_api_crds(self) -> bool:
        """Whether a release waits for the Gateway API CRDs local-mesh installs from GATEWAY_API_CRDS_URL."""
        return any(GATEWAY_API_CRDS in release.after for release in self.releases)


def _resources(cpu: str, memory: str, cpu_limit: str, memory_limit: str) -> Values:
    return {"requests": {"cpu": cpu, "memory": memory}, "limits": {"cpu": cpu_limit, "memory": memory_limit}}


# `resources: lean`: explicit small requests (what a quiet local mesh uses) and
# limits with headroom for bursts, so the whole mesh requests under 500m CPU
# and 1 GiB (components/footprint.py adds it up; a test holds the budget).
LEAN = {
    "istiod": _resources("50m", "160Mi", "1000m", "1Gi"),
    "gateway": _resources("20m", "64Mi", "1000m", "512Mi"),
    "sidecar": _resources("10m", "40Mi", "500m", "256Mi"),
    "metallb": _resources("10m", "32Mi", "100m", "128Mi"),
    "cni": _resources("10m", "40Mi", "200m", "128Mi"),
    "ztunnel": _resources("20m", "64Mi", "1000m", "512Mi"),
    "kiali": _resources("10m", "64Mi", "500m", "512Mi"),
    "prometheus": _resources("50m", "192Mi", "1000m", "640Mi"),
    "config-reloader": _resources("5m", "16Mi", "50m", "32Mi"),
    "grafana": _resources("20m", "96Mi", "500m", "256Mi"),
}
# Prometheus keeps hours, not the chart's 15 days, and never more than this
# on disk; its emptyDir is capped a little above, so the kubelet evicts the pod
# rather than fill the node's disk (values.yaml: server.retention,
# server.retentionSize, server.emptyDir.sizeLimit).
PROMETHEUS_RETENTION = "6h"
PROMETHEUS_RETENTION_SIZE = "256MB"
PROMETHEUS_VOLUME_LIMIT = "512Mi"
# kiali-server's chart requests 10m / 64Mi by default (values.yaml deployment.resources).
KIALI_DEFAULT = Requests(10, 64)

# What the charts request where the plan sets nothing (`resources: istio`):
# istiod's values.yaml (`resources`, `global.proxy.resources`) and its demo
# profile (files/profile-demo.yaml: `pilot.resources`, `global.proxy.resources`),
# the gateway, istio-cni and ztunnel charts' `resources`. MetalLB's chart
# requests nothing. tests/test_render.py holds each against the rendered pods.
ISTIOD_DEFAULT = {"demo": Requests(10, 100), "minimal": Requests(500, 2048), "ambient": Requests(500, 2048)}
SIDECAR_DEFAULT = {"demo": Requests(10, 40), "minimal": Requests(100, 128), "ambient": Requests(100, 128)}
GATEWAY_DEFAULT = Requests(100, 128)
CNI_DEFAULT = Requests(100, 100)
ZTUNNEL_DEFAULT = Requests(200, 512)


def _requests(lean: bool, what: str, chart_default: Requests) -> Requests:
    return requests_of(LEAN[what]) if lean else chart_default


def _metallb(settings: Settings, lean: bool) -> ChartRelease:
    speaker: Values = {
        # MetalLB >= 0.14 skips nodes labelled
        # node.kubernetes.io/exclude-from-external-load-balancers, which kubeadm
        # puts on minikube's control-plane node: without this an IP is assigned
        # but nobody answers ARP for it (chart values.yaml: speaker.ignoreExcludeLB).
        "ignoreExcludeLB": True,
    }
    values: Values = {
        "speaker": speaker,
        # MetalLB 0.16's chart enables the frr-k8s BGP backend by default; L2 needs none.
        "frrk8s": {"enabled": False},
    }
    if lean:
        values["controller"] = {"resources": LEAN["metallb"]}
        speaker["resources"] = LEAN["metallb"]
    each = _requests(lean, "metallb", NO_REQUESTS)
    return ChartRelease(
        name="metallb",
        chart="metallb",
        repository=METALLB_REPOSITORY,
        version=settings.metallb_version,
        version_key="metallbVersion",
        namespace=METALLB_NAMESPACE,
        values=values,
        pods=(
            Pod("metallb-controller", "Deployment", each, surges=True),
            Pod("metallb-speaker", "DaemonSet", each, surges=False),
        ),
    )


def _istio(
    name: str, chart: str, settings: Settings, values: Values, after: tuple[str, ...], **extra: Any
) -> ChartRelease:
    return ChartRelease(
        name=name,
        chart=chart,
        repository=ISTIO_REPOSITORY,
        version=settings.istio_version,
        version_key="istioVersion",
        namespace=ISTIO_NAMESPACE,
        values=values,
        after=after,
        **extra,
    )


def _istiod(settings: Settings, lean: bool, after: tuple[str, ...]) -> ChartRelease:
    profile = settings.istio_profile
    # `demo` and `ambient` select the chart's own profile files
    # (files/profile-demo.yaml: access logs to stdout, 100% trace sampling;
    # files/profile-ambient.yaml: PILOT_ENABLE_AMBIENT).
    values: Values = {"profile": profile} if profile in ("demo", "ambient") else {}
    # istiod's own container and, through its injector's templates, every sidecar
    # and gateway proxy (files/injection-template.yaml, gateway-injection-template.yaml:
    # `imagePullPolicy` from global.imagePullPolicy).
    values["global"] = {"imagePullPolicy": IMAGE_PULL_POLICY}
    pinned: dict[str, str] = {}
    if settings.observability == "full" and profile != "demo":
        # The Telemetry that turns tracing on names this provider. demo's chart
        # profile declares it already (with three others a list set here would drop).
        values["meshConfig"] = {"extensionProviders": [JAEGER_EXTENSION_PROVIDER]}
    if lean:
        # Under `pilot` only: the chart merges its profile over its defaults,
        # then copies `pilot.*` over the top level (templates/zzz_profile.yaml,
        # templates/zzy_descope_legacy.yaml), so a top-level copy is overwritten.
        values["pilot"] = {"autoscaleEnabled": False, "resources": LEAN["istiod"]}
        values["global"]["proxy"] = {"resources": LEAN["sidecar"]}
        agrees = "demo's chart profile (files/profile-demo.yaml) happens to agree"
        pinned["pilot.autoscaleEnabled"] = f"lean runs one istiod in every profile; {agrees}"
        for request in ("cpu", "memory"):
            pinned[f"global.proxy.resources.requests.{request}"] = (
                f"lean sidecars request the same in every profile; {agrees}"
            )
    return _istio(
        "istiod",
        "istiod",
        settings,
        values,
        after,
        pods=(Pod("istiod", "Deployment", _requests(lean, "istiod", ISTIOD_DEFAULT[profile]), surges=True),),
        pinned=pinned,
    )


def _gateway(name: str, service_type: str, settings: Settings, lean: bool, after: tuple[str, ...]) -> ChartRelease:
    """The gateway chart names its Deployment, Service and `istio=` label after
    the release (minus `istio-`); Istio's samples select `istio: ingressgateway`."""
    values: Values = {"service": {"type": service_type}}
    if lean:
        values.update({"autoscaling": {"enabled": False}, "replicaCount": 1, "resources": LEAN["gateway"]})
    return _istio(
        name,
        "gateway",
        settings,
        values,
        after,
        pods=(Pod(name, "Deployment", _requests(lean, "gateway", GATEWAY_DEFAULT), surges=True),),
        pinned=(
            {"service.type": "a LoadBalancer Service with a real IP is the point of local-mesh"}
            if service_type == "LoadBalancer"
            else {}
        ),
    )


def kiali_signing_key(profile: str) -> str:
    """A signing key that stays the same for a stack: the chart draws a random
    one on every render unless set (templates/_helpers.tpl), a diff and a
    Kiali restart on every update. Kiali refuses a key that is not 16, 24 or
    32 bytes long, but only when the strategy is not anonymous (kiali/kiali
    v2.27.0, config/config.go validateSigningKey): 32 keeps it valid if the
    strategy changes. Not a secret worth keeping: Kiali runs anonymous and
    view-only here."""
    return hashlib.sha256(f"local-mesh kiali {profile}".encode()).hexdigest()[:32]


def _addon(
    name: str,
    chart: str,
    repository: str,
    version: str,
    values: Values,
    pods: tuple[Pod, ...],
    pinned: Mapping[str, str] | None = None,
) -> ChartRelease:
    # After istiod: the addons are the mesh's dashboards, and nothing on the way to the ingress IP waits for them.
    return ChartRelease(
        name=name,
        chart=chart,
        repository=repository,
        version=version,
        version_key=OBSERVABILITY_KEY,
        addon=True,
        namespace=ISTIO_NAMESPACE,
        values=values,
        after=("istiod",),
        pods=pods,
        pinned=pinned or {},
    )


# Istio's addons run outside the mesh: Prometheus scrapes the sidecars over
# plain HTTP (Istio's values-*.yaml label every addon pod so).
_NOT_IN_MESH = {"sidecar.istio.io/inject": "false"}


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
#   the address (kiali_values_with_grafana_links), so Kiali never waits for the
#   ingress gateway; elsewhere Kiali's Grafana links stay off.
GRAFANA_URL = f"http://grafana.istio-system:{GRAFANA_PORT}"


def kiali_links_to_grafana(settings: Settings) -> bool:
    """Whether Kiali links to Grafana: Grafana installed, routed on the
    ingress, and the ingress address known before the ingress exists."""
    return settings.observability == "full" and settings.routes_dashboards and settings.metallb


def kiali_values_with_grafana_links(values: Values, ingress_ip: str) -> Values:
    """Kiali's values once the ingress's address is known: Grafana's links
    start at the origin the dashboards are routed on (see above)."""
    grafana = values["external_services"]["grafana"]
    if not grafana["enabled"]:
        return values
    return {
        **values,
        "external_services": {
            **values["external_services"],
            "grafana": {**grafana, "external_url": f"http://{ingress_ip}"},
        },
    }


def _kiali(settings: Settings, lean: bool) -> ChartRelease:
    tracing: Values = {"enabled": False}
    grafana: Values = {"enabled": False}
    if settings.observability == "full":
        # Kiali reads traces from Jaeger's query HTTP API (use_grpc false) under its base path.
        tracing = {"enabled": True, "provider": "jaeger", "use_grpc": False, "internal_url": JAEGER_QUERY_URL}
        if settings.routes_dashboards:
            tracing["external_url"] = JAEGER_PATH
    if kiali_links_to_grafana(settings):
        grafana = {"enabled": True, "internal_url": GRAFANA_URL}
    deployment: Values = {
        # Swaps the ClusterRole that can change Istio and workload objects for a
        # read-only one (templates/role-viewer.yaml, role.yaml).
        "view_only_mode": True,
        "pod_labels": _NOT_IN_MESH,
        # The chart's default is Always (values.yaml deployment.image_pull_policy).
        "image_pull_policy": IMAGE_PULL_POLICY,
    }
    if lean:
        deployment["resources"] = LEAN["kiali"]
    values: Values = {
        "auth": {"strategy": "anonymous"},
        "deployment": deployment,
        "login_token": {"signing_key": kiali_signing_key(settings.profile)},
        "external_services": {"prometheus": {"url": PROMETHEUS_URL}, "tracing": tracing, "grafana": grafana},
    }
    requests = _requests(lean, "kiali", KIALI_DEFAULT)
    return _addon(
        "kiali",
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
    )


def _prometheus(lean: bool) -> ChartRelease:
    server: Values = {
        # Istio's name for it (values-prometheus.yaml), which Kiali and Grafana expect.
        "fullnameOverride": "prometheus",
        "service": {"servicePort": PROMETHEUS_PORT},
        "podLabels": _NOT_IN_MESH,
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
    if lean:
        server["resources"] = LEAN["prometheus"]
        values["configmapReload"] = {"prometheus": {"resources": LEAN["config-reloader"]}}
    # The chart's server Deployment uses the Recreate strategy (values.yaml server.strategy).
    requests = requests_of(LEAN["prometheus"]) + requests_of(LEAN["config-reloader"]) if lean else NO_REQUESTS
    return _addon(
        "prometheus",
        "prometheus",
        PROMETHEUS_REPOSITORY,
        PROMETHEUS_VERSION,
        values,
        (Pod("prometheus", "Deployment", requests, surges=False),),
    )


def _grafana(settings: Settings, lean: bool) -> ChartRelease:
    datasources = [
        {
            "name": "Prometheus",
            "type": "prometheus",
            "url": f"http://prometheus:{PROMETHEUS_PORT}{PROMETHEUS_PATH}",
            "access": "proxy",
            "isDefault": True,
        },
    ]
    if settings.observability == "full":
        datasources.append({"name": "Jaeger", "type": "jaeger", "url": JAEGER_QUERY_URL, "access": "proxy"})
    values: Values = {
        # The chart names the Service after the release and serves it on 80;
        # Kiali and Istio's docs expect grafana:3000 (Istio's values-grafana.yaml).
        "service": {"port": GRAFANA_PORT},
        "podLabels": _NOT_IN_MESH,
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
        values["resources"] = LEAN["grafana"]
    grafana = _addon(
        "grafana",
        "grafana",
        GRAFANA_REPOSITORY,
        GRAFANA_VERSION,
        values,
        (Pod("grafana", "Deployment", _requests(lean, "grafana", NO_REQUESTS), surges=True),),
    )
    # The pod cannot start before the ConfigMaps it mounts exist.
    return replace(grafana, after=(*grafana.after, GRAFANA_DASHBOARDS))


def _observability(settings: Settings, lean: bool) -> list[ChartRelease]:
    if settings.observability == "none":
        return []
    releases = [_kiali(settings, lean), _prometheus(lean)]
    if settings.observability == "full":
        releases.append(_grafana(settings, lean))
    return releases


def release_plan(settings: Settings, cluster: ClusterState = NOTHING_INSTALLED) -> Plan:
    """Every Helm release for these settings on this cluster, in install order."""
    lean = settings.resources == "lean"
    ambient = settings.istio_profile == "ambient"
    releases = [_metallb(settings, lean)] if settings.metallb else []
    releases.append(_istio("istio-base", "base", settings, {}, ()))
    # Ambient's istiod waits for the Gateway API CRDs local-mesh installs; a
    # cluster that has its own keeps them (components/checks/discovery.py).
    installs_crds = ambient and not cluster.gateway_api_crds
    releases.append(_istiod(settings, lean, ("istio-base", GATEWAY_API_CRDS) if installs_crds else ("istio-base",)))
    mesh_ready = "istiod"
    if ambient:
        # Istio's Helm order for ambient: base, istiod, istio-cni, ztunnel.
        # The platform profile says where the distribution keeps CNI files:
        # on local-mesh's minikube (docker runtime) cni.cniNetnsDir=/var/run/docker/netns
        # (files/profile-platform-minikube.yaml); on k3s the CNI config in
        # /var/lib/rancher/k3s/agent/etc/cni/net.d (profile-platform-k3s.yaml).
        cni: Values = {"profile": "ambient"}
        platform = cni_platform(settings, cluster)
        if platform is not None:
            cni["platform"] = platform
        ztunnel: Values = {}
        if lean:
            cni["resources"] = LEAN["cni"]
            ztunnel["resources"] = LEAN["ztunnel"]
        # Both charts leave the pull policy to Kubernetes' default unless set
        # (istio-cni templates/daemonset.yaml: pullPolicy or global.imagePullPolicy;
        # ztunnel templates/daemonset.yaml: imagePullPolicy).
        cni["global"] = {"imagePullPolicy": IMAGE_PULL_POLICY}
        ztunnel["imagePullPolicy"] = IMAGE_PULL_POLICY
        cni_pod = Pod("istio-cni-node", "DaemonSet", _requests(lean, "cni", CNI_DEFAULT), surges=False)
        # ztunnel's chart: updateStrategy.rollingUpdate maxSurge 1, maxUnavailable 0.
        ztunnel_pod = Pod("ztunnel", "DaemonSet", _requests(lean, "ztunnel", ZTUNNEL_DEFAULT), surges=True)
        releases.append(_istio("istio-cni", "cni", settings, cni, ("istiod",), pods=(cni_pod,)))
        releases.append(_istio("ztunnel", "ztunnel", settings, ztunnel, ("istio-cni",), pods=(ztunnel_pod,)))
        mesh_ready = "ztunnel"
    # Gateway pods use `image: auto`, filled in by istiod's injection webhook.
    # Helm counts a LoadBalancer Service ready once it has an IP: the ingress
    # waits for MetalLB's pool (with loadBalancer none, the cluster's own).
    ingress_after = (mesh_ready, LOAD_BALANCER) if settings.metallb else (mesh_ready,)
    releases.append(_gateway(INGRESS_RELEASE, "LoadBalancer", settings, lean, ingress_after))
    if settings.istio_profile == "demo":
        releases.append(_gateway(EGRESS_RELEASE, "ClusterIP", settings, lean, (mesh_ready,)))
    releases.extend(_observability(settings, lean))
    sidecar = None if ambient else _requests(lean, "sidecar", SIDECAR_DEFAULT[settings.istio_profile])
    return Plan(tuple(releases), ambient, sidecar, mesh_ready)
