"""Resources that must agree with each other, in the real program under mocks.

Each test states a relation between two objects the program creates (or one it
creates and one a real chart renders), never either side's literal value: a
name changed on one side alone fails here, a name changed on both sides passes.
Also: every namespace a resource lands in is created before it, and the
timeouts the program sends leave room for a laptop's first, cold run.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pytest

from components.model.parts.sample import SAMPLE_NAMESPACE
from components.model.settings import ISTIO_PROFILES
from components.observability import DASHBOARDS
from harness.kinds import RELEASE, namespace_of, of_kind, the_one
from harness.program import ProgramRun, Registration
from tests.conftest import SharedRun
from tests.upstream import render_chart

NAMESPACE = "kubernetes:core/v1:Namespace"
# The namespaces every Kubernetes cluster starts with (kubernetes.io docs,
# "Namespaces": default, kube-node-lease, kube-public, kube-system).
BUILT_IN_NAMESPACES = {"default", "kube-node-lease", "kube-public", "kube-system"}


@pytest.fixture(params=ISTIO_PROFILES)
def run(request: pytest.FixtureRequest, shared_run: SharedRun) -> ProgramRun:
    return shared_run(istioProfile=request.param)


def name_and_namespace(resource: Registration) -> tuple[str, str | None]:
    return resource.inputs["metadata"]["name"], resource.inputs["metadata"].get("namespace")


# --- MetalLB: the advertisement announces the pool ----------------------------


def test_the_l2_advertisement_announces_the_address_pool_that_exists(run: ProgramRun) -> None:
    # L2Advertisement.spec.ipAddressPools: "The list of IPAddressPools to
    # advertise via this advertisement, selected by name" (MetalLB 0.16.1
    # crd-l2advertisements.yaml), looked up in the advertisement's namespace.
    # A pool no advertisement names gets its IPs assigned and never announced.
    pools = {name_and_namespace(pool) for pool in of_kind(run, "IPAddressPool")}
    advertisement = the_one(run, "L2Advertisement")
    _, namespace = name_and_namespace(advertisement)
    announced = {(name, namespace) for name in advertisement.inputs["spec"]["ipAddressPools"]}
    assert pools, "no IPAddressPool"
    assert announced == pools


# --- The sample: Service -> pods, URL -> route -> Gateway -> gateway pods -------


def test_the_sample_service_selects_the_sample_pods_and_their_port(run: ProgramRun) -> None:
    service, deployment = the_one(run, "Service", SAMPLE_NAMESPACE), the_one(run, "Deployment", SAMPLE_NAMESPACE)
    assert namespace_of(service) == namespace_of(deployment)
    pod = deployment.inputs["spec"]["template"]
    selector = service.inputs["spec"]["selector"]
    assert selector, "a Service without a selector selects no pods"
    assert selector.items() <= pod["metadata"]["labels"].items()
    # The Deployment owns the pods it templates (the API server refuses a
    # selector that does not match the template).
    assert deployment.inputs["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    container_ports = {port["containerPort"] for c in pod["spec"]["containers"] for port in c.get("ports", [])}
    for port in service.inputs["spec"]["ports"]:
        assert port["targetPort"] in container_ports


def string_matches(match: dict[str, str], value: str) -> bool:
    """Istio's StringMatch (istio.io/latest/docs/reference/config/networking/
    virtual-service/#StringMatch): `exact` string match, `prefix`-based match,
    `regex` RE2-style. Envoy, which Istio programs, matches a regex against the
    whole path without its query string (envoy route_components.proto,
    RouteMatch.safe_regex: "The entire path (without the query string) must
    match the regex"); Python's `re` agrees with RE2 on the patterns used here."""
    path = value.split("?", 1)[0]
    if "exact" in match:
        return path == match["exact"]
    if "prefix" in match:
        return value.startswith(match["prefix"])
    if "regex" in match:
        return re.fullmatch(match["regex"], path) is not None
    raise AssertionError(f"not an Istio StringMatch: {match}")


def test_string_match_follows_istio_semantics() -> None:
    assert string_matches({"prefix": "/status"}, "/status/200")
    assert not string_matches({"exact": "/status"}, "/status/200")
    assert string_matches({"exact": "/status/200"}, "/status/200?x=1")
    assert string_matches({"regex": "/status/[0-9]+"}, "/status/200")
    assert not string_matches({"regex": "/status"}, "/status/200")


def routes_path(virtual_service: Registration, path: str) -> bool:
    """An http route whose match list (any entry; none = everything) takes `path`.
    A match entry ANDs its conditions; only `uri` is used by the program."""
    for http in virtual_service.inputs["spec"].get("http", []):
        matches = http.get("match") or [{}]
        for match in matches:
            assert set(match) <= {"uri"}, f"a match condition this test does not model: {match}"
            if "uri" not in match or string_matches(match["uri"], path):
                return True
    return False


def test_the_sample_url_is_routed_by_the_virtual_service_to_the_sample_service(run: ProgramRun) -> None:
    url = urlsplit(run.outputs["sampleUrl"])
    assert url.hostname == run.outputs["ingressIp"]
    route = the_one(run, "VirtualService", SAMPLE_NAMESPACE)
    assert routes_path(route, url.path), f"{url.path} is a 404 from Envoy"
    service = the_one(run, "Service", SAMPLE_NAMESPACE)
    name, namespace = name_and_namespace(service)
    for http in route.inputs["spec"]["http"]:
        for destination in http["route"]:
            assert destination["destination"]["host"] == f"{name}.{namespace}.svc.cluster.local"
            assert destination["destination"]["port"]["number"] in {p["port"] for p in service.inputs["spec"]["ports"]}


def test_every_virtual_service_is_bound_to_the_gateway_that_exists(run: ProgramRun) -> None:
    # VirtualService.gateways: "Gateways in other namespaces may be referred to
    # by <gateway namespace>/<gateway name>; specifying a gateway with no
    # namespace qualifier is the same as specifying the VirtualService's
    # namespace"; `mesh` means the sidecars (istio.io VirtualService reference).
    gateways = {name_and_namespace(gateway) for gateway in of_kind(run, "Gateway")}
    routes = of_kind(run, "VirtualService")
    assert len(routes) == 2  # the sample's and the dashboards'
    for route in routes:
        _, route_namespace = name_and_namespace(route)
        bound = [
            tuple(reversed(ref.split("/", 1))) if "/" in ref else (ref, route_namespace)
            for ref in route.inputs["spec"]["gateways"]
            if ref != "mesh"
        ]
        assert bound, "a VirtualService bound to no gateway serves no ingress traffic"
        for gateway in bound:
            assert gateway in gateways


def rendered_pod_labels(release: Registration) -> list[dict[str, str]]:
    """The pod template labels of the Deployments the real chart renders from
    what the program sends Helm for this release."""
    inputs = release.inputs
    objects = render_chart(inputs["chart"], inputs["name"], inputs["namespace"], inputs.get("values") or {})
    return [item["spec"]["template"]["metadata"]["labels"] for item in objects if item["kind"] == "Deployment"]


def test_the_gateway_selects_the_pods_the_ingress_release_renders(run: ProgramRun) -> None:
    # Gateway.selector: "labels that indicate a specific set of pods/VMs on
    # which this gateway configuration should be applied" (crd-all.gen.yaml),
    # searched across all namespaces by default (istio.io Gateway reference).
    # The ingress release is the one whose Service the ingress IP is read from.
    (read,) = run.mocks.reads
    namespace, name = str(read.resource_id).split("/")
    (ingress,) = [r for r in run.releases().values() if (r.inputs["namespace"], r.inputs["name"]) == (namespace, name)]
    selector = the_one(run, "Gateway").inputs["spec"]["selector"]
    pods = rendered_pod_labels(ingress)
    assert selector, "an empty selector would apply the Gateway to every workload"
    assert pods, f"the {ingress.inputs['chart']} chart rendered no Deployment"
    assert all(selector.items() <= labels.items() for labels in pods)


# --- Namespaces: created before anything lands in them -------------------------


def creates_namespace(creator: Registration, namespace: str) -> bool:
    if creator.type == NAMESPACE:
        return bool(creator.inputs["metadata"]["name"] == namespace)
    return creator.type == RELEASE and creator.inputs["namespace"] == namespace and creator.inputs["createNamespace"]


def test_every_resource_lands_in_a_namespace_created_before_it(run: ProgramRun) -> None:
    # Helm installs into an existing namespace unless --create-namespace (the
    # Release's createNamespace) asks it to create it; the API server refuses an
    # object in a namespace that does not exist. Creation runs in parallel
    # except along dependencies, so the creator must be one.
    for resource in run.registrations:
        namespace = namespace_of(resource)
        if namespace is None or namespace in BUILT_IN_NAMESPACES:
            continue
        if creates_namespace(resource, namespace):
            continue
        creators = [r for r in run.registrations if creates_namespace(r, namespace)]
        assert any(run.depends_on(resource, creator) for creator in creators), (
            f"{resource.type} {resource.name} lands in namespace {namespace}, which nothing creates before it"
        )


# --- Timeouts a cold laptop needs ---------------------------------------------

# Helm's own default is 300 s (helm/helm cmd/helm/install.go: `--timeout`
# 300*time.Second), and a Release's `timeout` is that per-operation wait. On a
# laptop's first run every image is pulled while Helm waits; Istio's images are
# some hundreds of MB in all (estimate, unverified), minutes on a slow link.
# Floor: twice Helm's default.
HELM_DEFAULT_TIMEOUT_SECONDS = 300
RELEASE_TIMEOUT_FLOOR_SECONDS = 2 * HELM_DEFAULT_TIMEOUT_SECONDS
# MetalLB's webhook serves some time after its controller pod is Ready (metallb
# #1597, #1669; reports range from seconds to minutes). Floor: two minutes of
# retries (estimate, unverified: no upstream number exists).
WEBHOOK_WAIT_FLOOR_SECONDS = 120


def test_every_helm_release_waits_long_enough_for_cold_image_pulls(run: ProgramRun) -> None:
    for release in run.releases().values():
        assert release.inputs["timeout"] >= RELEASE_TIMEOUT_FLOOR_SECONDS, release.name


def test_the_webhook_gate_waits_long_enough_for_metallbs_webhook(run: ProgramRun) -> None:
    gate = run.named("metallb-webhook-ready")
    assert int(gate.inputs["environment"]["WAIT_SECONDS"]) >= WEBHOOK_WAIT_FLOOR_SECONDS


# --- the dashboards: one VirtualService on the mesh's Gateway --------------------


def first_route(virtual_service: Registration, path: str, method: str = "GET") -> dict[str, Any] | None:
    """The http rule Istio applies to this request: the first whose match list
    (any entry; none = everything) takes it, each entry ANDing its conditions
    (istio.io VirtualService reference: "rules are evaluated in order")."""
    for http in virtual_service.inputs["spec"].get("http", []):
        for match in http.get("match") or [{}]:
            assert set(match) <= {"uri", "method"}, f"a match condition this test does not model: {match}"
            if ("uri" not in match or string_matches(match["uri"], path)) and (
                "method" not in match or string_matches(match["method"], method)
            ):
                return dict(http)
    return None


def service_ports(run: ProgramRun) -> dict[str, set[int]]:
    """`name.namespace.svc.cluster.local` -> ports, for every Service the stack
    creates itself or its releases render (with the values the program sends Helm)."""
    found: dict[str, set[int]] = {}
    services = [r.inputs for r in of_kind(run, "Service")]
    for release in run.releases().values():
        inputs = release.inputs
        rendered = render_chart(inputs["chart"], inputs["name"], inputs["namespace"], inputs.get("values") or {})
        services += [item for item in rendered if item["kind"] == "Service"]
    for service in services:
        name, namespace = service["metadata"]["name"], service["metadata"].get("namespace")
        found[f"{name}.{namespace}.svc.cluster.local"] = {port["port"] for port in service["spec"]["ports"]}
    return found


def test_every_dashboard_url_is_routed_to_a_service_that_serves_it(run: ProgramRun) -> None:
    dashboards = the_one(run, "VirtualService", "istio-system")
    ports = service_ports(run)
    urls = {key: value for key, value in run.outputs.items() if key in DASHBOARDS}
    assert sorted(urls) == sorted(DASHBOARDS)  # observability: full, the default
    for output, url in urls.items():
        parts = urlsplit(url)
        assert parts.hostname == run.outputs["ingressIp"]
        rule = first_route(dashboards, parts.path)
        assert rule is not None and "route" in rule, f"{output}: {parts.path} is a 404 from Envoy"
        (destination,) = [entry["destination"] for entry in rule["route"]]
        assert destination["port"]["number"] in ports[destination["host"]], output


def test_the_sample_and_the_dashboards_do_not_take_each_others_paths(run: ProgramRun) -> None:
    sample = the_one(run, "VirtualService", SAMPLE_NAMESPACE)
    dashboards = the_one(run, "VirtualService", "istio-system")
    assert first_route(dashboards, urlsplit(run.outputs["sampleUrl"]).path) is None
    for output in DASHBOARDS:
        assert not routes_path(sample, urlsplit(run.outputs[output]).path), output


# What Prometheus 3.10's UI asks under its prefix (prometheus/prometheus v3.10.0):
# the pages GET through web/ui/mantine-ui/src/api/api.ts (fetch without a
# method), each `path` a useAPIQuery of the query, graph, table, explain,
# metrics-explorer and status pages; the editor's autocompletion POSTs labels
# and series (web/ui/module/codemirror-promql/src/client/prometheus.ts,
# httpMethod 'POST') and GETs label values and metadata.
PROMETHEUS_UI_REQUESTS = (
    ("GET", "/query"),
    ("GET", "/assets/index.js"),
    ("GET", "/api/v1/label/__name__/values"),
    ("GET", "/api/v1/query?query=up&time=1700000000"),
    ("GET", "/api/v1/query_range?query=up&start=1&end=2&step=1"),
    ("GET", "/api/v1/format_query?query=up"),
    ("GET", "/api/v1/parse_query?query=up"),
    ("GET", "/api/v1/metadata"),
    ("GET", "/api/v1/series?match[]=up"),
    ("GET", "/api/v1/status/buildinfo"),
    ("GET", "/api/v1/targets"),
    ("GET", "/api/v1/rules"),
    ("POST", "/api/v1/labels"),
    ("POST", "/api/v1/series"),
)
# What changes Prometheus or its data (v3.10.0: web/web.go `/-/quit`, `/-/reload`
# take POST and PUT; web/api/v1/api.go: the admin API takes POST and PUT,
# DELETE /series, POST /write and /otlp/v1/metrics take data in; web.go serves
# /debug/* to POST too).
PROMETHEUS_REFUSED_REQUESTS = (
    *((method, endpoint) for endpoint in ("/-/quit", "/-/reload") for method in ("POST", "PUT")),
    *(
        (method, f"/api/v1/admin/tsdb/{action}")
        for action in ("delete_series", "clean_tombstones", "snapshot")
        for method in ("POST", "PUT")
    ),
    ("DELETE", "/api/v1/series"),
    ("POST", "/api/v1/write"),
    ("POST", "/api/v1/otlp/v1/metrics"),
    ("POST", "/debug/pprof/profile"),
    ("POST", "/api/v1/labelsx"),
    ("POST", "/api/v1/series/snapshot"),
)


def test_prometheus_ui_works_through_the_gateway_which_refuses_what_changes_prometheus(run: ProgramRun) -> None:
    """The UI's own requests reach Prometheus; its lifecycle endpoints, admin
    API and write paths (served with --web.enable-lifecycle and
    --web.enable-admin-api where set) are a 404 from Envoy."""
    dashboards = the_one(run, "VirtualService", "istio-system")
    prometheus = urlsplit(run.outputs["prometheusUrl"]).path.rstrip("/")
    for method, endpoint in PROMETHEUS_UI_REQUESTS:
        rule = first_route(dashboards, prometheus + endpoint, method)
        assert rule is not None and "route" in rule, (method, endpoint)
        assert {entry["destination"]["host"].split(".")[0] for entry in rule["route"]} == {"prometheus"}
    for method, endpoint in PROMETHEUS_REFUSED_REQUESTS:
        assert first_route(dashboards, prometheus + endpoint, method) is None, (method, endpoint)
