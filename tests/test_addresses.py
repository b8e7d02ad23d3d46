"""Every address one part of the stack hands another reaches it (issue 16.9).

Kiali's, Grafana's and istiod's URLs, the dashboards' routes, `verify`'s
requests and Kiali's links are each followed to what the RENDERED target runs:
a Service of the stack (rendered by the real charts with the values the
program sends Helm, or created by the program), a port that Service exposes,
declared for the protocol the caller speaks, the container port behind it, a
server there speaking that protocol, and a path that server serves under its
own prefix settings (Prometheus's --web.route-prefix, Grafana's root_url and
serve_from_sub_path, Jaeger's base_path, Kiali's web_root). Nothing here
repeats a value the program writes: each side is read from what it renders.
"""

from __future__ import annotations

import io
import json
import re
import urllib.request
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import urljoin, urlsplit

import pytest
import yaml

from components.model.settings import ISTIO_PROFILES
from harness.program import ProgramRun
from tests.conftest import SharedRun
from tests.test_agreement import string_matches
from tests.upstream import render_chart
from tools import verify

Object = dict[str, Any]
NAMESPACE = "istio-system"  # where every dashboard and its callers run
SERVICE_DOMAIN = "svc.cluster.local"

# Istio's protocol selection (istio.io, "Protocol Selection"): a Service port's
# `appProtocol`, else its name `<protocol>[-<suffix>]`; anything else is
# detected from the first bytes (HTTP/1.1, and HTTP/2 which carries gRPC).
ISTIO_PROTOCOLS = ("grpc-web", "http2", "https", "http", "grpc", "tcp", "tls", "mongo", "mysql", "redis", "udp")
# The declarations each caller's protocol survives (None: detected).
CARRIES = {"http": {"http", "http2", None}, "grpc": {"grpc", "http2", None}}


def declared_protocol(port: Object) -> str | None:
    if port.get("appProtocol"):
        return str(port["appProtocol"]).lower()
    name = str(port.get("name", "")).lower()
    for protocol in ISTIO_PROTOCOLS:  # longest first: grpc-web before grpc, http2 before http
        if name == protocol or name.startswith(protocol + "-"):
            return protocol
    return None


@dataclass(frozen=True)
class Server:
    """What listens on one container port: its protocol and the path prefix it serves under."""

    protocol: str
    prefix: str

    def serves_at(self, base_path: str) -> bool:
        """Whether a caller that puts the server's own paths (an API's, a
        page's) after `base_path` reaches them: the base is the prefix."""
        return "/" + base_path.strip("/") == "/" + self.prefix.strip("/")


@dataclass(frozen=True)
class Reached:
    service: str
    server: Server
    path: str


class Stack:
    """The Services, workloads and configuration the stack runs, as rendered."""

    def __init__(self, run: ProgramRun) -> None:
        self.run = run
        objects: list[Object] = []
        for registration in run.registrations:
            if registration.type.startswith("kubernetes:") and "kind" in registration.inputs:
                objects.append(registration.inputs)
            elif registration.type.startswith("kubernetes:core/v1:") or registration.type.startswith(
                "kubernetes:apps/v1:"
            ):
                kind = registration.type.rsplit(":", 1)[1]
                objects.append({"kind": kind, **registration.inputs})
        self.rendered: dict[str, list[Object]] = {}
        for name, release in run.releases().items():
            inputs = release.inputs
            self.rendered[name] = render_chart(
                inputs["chart"], inputs["name"], inputs["namespace"], inputs.get("values") or {}
            )
            objects += self.rendered[name]
        self.objects = objects

    def of_kind(self, kind: str) -> list[Object]:
        return [item for item in self.objects if item.get("kind") == kind]

    def one(self, kind: str, name: str) -> Object:
        (found,) = [item for item in self.of_kind(kind) if item["metadata"]["name"] == name]
        return found

    def config_map(self, name: str, key: str) -> str:
        return str(self.one("ConfigMap", name)["data"][key])

    def servers(self, workload: str) -> dict[int, Server]:
        """The servers of one Deployment, by container port, read from its own configuration."""
        return SERVERS[workload](self)

    def reach(self, url: str, speaks: str = "http") -> Reached:
        """Follow an in-cluster base URL (the caller appends the server's own
        paths to it) to the server behind it; fail on any broken link."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        labels = host.removesuffix("." + SERVICE_DOMAIN).split(".")
        assert len(labels) in (1, 2), f"{url}: not a Service address"
        name, namespace = labels[0], labels[1] if len(labels) == 2 else NAMESPACE
        services = [
            item
            for item in self.of_kind("Service")
            if item["metadata"]["name"] == name and item["metadata"].get("namespace", NAMESPACE) == namespace
        ]
        assert len(services) == 1, f"{url}: no Service {name} in {namespace}"
        (service,) = services
        port_number = parts.port or {"http": 80, "https": 443}[parts.scheme]
        ports = [port for port in service["spec"]["ports"] if port["port"] == port_number]
        assert ports, f"{url}: Service {name} exposes no port {port_number}"
        (port,) = ports
        assert declared_protocol(port) in CARRIES[speaks], f"{url}: port {port.get('name')} is not for {speaks}"
        selector = service["spec"]["selector"]
        workloads = [
            item
            for item in self.of_kind("Deployment")
            if selector.items() <= item["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert len(workloads) == 1, f"{url}: Service {name} selects {len(workloads)} workloads"
        (workload,) = workloads
        target = port.get("targetPort", port["port"])
        containers = workload["spec"]["template"]["spec"]["containers"]
        declared = [p for c in containers for p in c.get("ports") or []]
        if isinstance(target, str):
            named = [p["containerPort"] for p in declared if p.get("name") == target]
            assert named, f"{url}: no container port named {target}"
            target = named[0]
        server = self.servers(workload["metadata"]["name"]).get(int(target))
        assert server is not None, f"{url}: nothing listens on {workload['metadata']['name']}:{target}"
        assert server.protocol == speaks, f"{url}: {workload['metadata']['name']}:{target} speaks {server.protocol}"
        path = parts.path or "/"
        assert server.serves_at(path), f"{url}: the server serves under {server.prefix}, not {path}"
        return Reached(name, server, path)


def _port_of(address: str) -> int:
    return int(address.rsplit(":", 1)[1])


def _prometheus(stack: Stack) -> dict[int, Server]:
    (container,) = [
        c
        for c in stack.one("Deployment", "prometheus")["spec"]["template"]["spec"]["containers"]
        if c["name"] == "prometheus-server"
    ]
    flags = dict(arg.removeprefix("--").split("=", 1) for arg in container.get("args") or [] if "=" in arg)
    # prometheus/prometheus v3.10.0 cmd/prometheus/main.go: --web.listen-address
    # defaults to 0.0.0.0:9090; an empty --web.route-prefix takes the path of
    # --web.external-url, and is always at least "/".
    prefix = flags.get("web.route-prefix") or urlsplit(flags.get("web.external-url", "")).path
    return {_port_of(flags.get("web.listen-address", "0.0.0.0:9090")): Server("http", "/" + prefix.strip("/"))}


def _grafana_ini(stack: Stack) -> dict[str, dict[str, str]]:
    sections: dict[str, dict[str, str]] = {}
    current = sections.setdefault("", {})
    for line in stack.config_map("grafana", "grafana.ini").splitlines():
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
        elif "=" in line:
            key, value = (part.strip() for part in line.split("=", 1))
            current[key] = value
    return sections


def grafana_sub_path(stack: Stack) -> str:
    """Grafana's AppSubUrl: root_url's path without its last slash (grafana/grafana
    pkg/setting/setting.go parseAppUrlAndSubUrl); its links and search results carry it."""
    root_url = _grafana_ini(stack).get("server", {}).get("root_url", "")
    match = re.match(r"^[^/]*//[^/]*(/.*)?$", root_url)
    return (match.group(1) or "").rstrip("/") if match else ""


def _grafana(stack: Stack) -> dict[int, Server]:
    # Grafana's conf/defaults.ini: http_port 3000, protocol http, serve_from_sub_path
    # false (served at the root, the sub-path only in links).
    server = _grafana_ini(stack).get("server", {})
    sub_path = server.get("serve_from_sub_path", "false") == "true"
    prefix = grafana_sub_path(stack) if sub_path else "/"
    return {int(server.get("http_port", "3000")): Server(server.get("protocol", "http"), prefix or "/")}


def _kiali(stack: Stack) -> dict[int, Server]:
    config = yaml.safe_load(stack.config_map("kiali", "config.yaml"))
    return {int(config["server"]["port"]): Server("http", config["server"]["web_root"])}


def _jaeger(stack: Stack) -> dict[int, Server]:
    config = yaml.safe_load(stack.config_map("jaeger", "config.yaml"))
    query = config["extensions"]["jaeger_query"]
    protocols = config["receivers"]["otlp"]["protocols"]
    # jaegertracing/jaeger v2.17.0: jaeger_query's HTTP endpoint defaults to
    # :16686 and its gRPC one to :16685 (ports/ports.go QueryHTTP, QueryGRPC;
    # cmd/jaeger/internal/extension/jaegerquery/internal/flags.go).
    return {
        _port_of((query.get("http") or {}).get("endpoint", ":16686")): Server("http", query.get("base_path", "/")),
        _port_of((query.get("grpc") or {}).get("endpoint", ":16685")): Server("grpc", "/"),
        _port_of(protocols["grpc"]["endpoint"]): Server("grpc", "/"),
        _port_of(protocols["http"]["endpoint"]): Server("http", "/"),
        _port_of(config["receivers"]["zipkin"]["endpoint"]): Server("http", "/"),
    }


SERVERS = {"prometheus": _prometheus, "grafana": _grafana, "kiali": _kiali, "jaeger": _jaeger}


@pytest.fixture(params=ISTIO_PROFILES)
def stack(request: pytest.FixtureRequest, shared_run: SharedRun) -> Stack:
    return Stack(shared_run(istioProfile=request.param))


def kiali_config(stack: Stack) -> Any:
    return yaml.safe_load(stack.config_map("kiali", "config.yaml"))


# --- what the dashboards call inside the cluster ---------------------------------


def test_kiali_reaches_prometheus_jaeger_and_grafana(stack: Stack) -> None:
    services = kiali_config(stack)["external_services"]
    # Kiali's Prometheus client appends /api/v1/… to the URL's path.
    stack.reach(services["prometheus"]["url"])
    tracing = services["tracing"]
    # kiali/kiali v2.27.0 tracing/client.go: with use_grpc, a gRPC client to the
    # URL's host:port (its path unused); else HTTP, appending /api/traces to the
    # path (tracing/jaeger/http_client.go).
    if tracing["use_grpc"]:
        stack.reach(tracing["internal_url"], speaks="grpc")
    else:
        stack.reach(tracing["internal_url"])
    if services["grafana"]["enabled"]:
        # grafana/grafana.go findDashboard: <internal_url>/api/search?query=…
        stack.reach(services["grafana"]["internal_url"])


def test_grafanas_data_sources_reach_prometheus_and_jaeger(stack: Stack) -> None:
    sources = yaml.safe_load(stack.config_map("grafana", "datasources.yaml"))["datasources"]
    # Grafana's Prometheus and Jaeger data sources append the API's paths to the URL.
    assert {source["type"] for source in sources} == {"prometheus", "jaeger"}
    for source in sources:
        stack.reach(source["url"])


def test_the_proxies_send_spans_over_grpc_to_jaegers_otlp_receiver(stack: Stack) -> None:
    """The provider the mesh's Telemetry names, as istiod's rendered mesh config
    declares it: Istio's OpenTelemetry provider exports over gRPC unless it has
    an `http` block (istio.io MeshConfig, ExtensionProvider.OpenTelemetryTracingProvider)."""
    (telemetry,) = [item for item in stack.of_kind("Telemetry")]
    (name,) = [provider["name"] for entry in telemetry["spec"]["tracing"] for provider in entry["providers"]]
    mesh = yaml.safe_load(stack.config_map("istio", "mesh"))
    (provider,) = [entry for entry in mesh.get("extensionProviders", []) if entry["name"] == name]
    otel = provider["opentelemetry"]
    speaks = "http" if "http" in otel else "grpc"
    stack.reach(f"http://{otel['service']}:{otel['port']}", speaks=speaks)


# --- what the ingress routes, and what verify asks through it ---------------------


def through_the_dashboards_route(stack: Stack, url: str, method: str = "GET", page: str = "") -> Reached:
    """Istio's VirtualService semantics: the first rule whose match (any entry,
    its conditions ANDed) takes the request; a redirect is followed; a rewrite
    replaces the matched prefix, or the whole path for an exact match (istio.io
    VirtualService, HTTPRewrite.uri). Then on to the destination's server,
    which must get `page` (the path the request means in the server's own
    terms, at the end of the URL) right under the prefix it serves at."""
    (route,) = [item for item in stack.of_kind("VirtualService") if item["metadata"]["name"] == "dashboards"]
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    for _ in range(3):
        rule, match = _first_rule(route["spec"]["http"], path, method)
        assert rule is not None, f"{method} {path} is a 404 from Envoy"
        if "redirect" in rule:
            path = rule["redirect"]["uri"]
            continue
        (destination,) = [entry["destination"] for entry in rule["route"]]
        forwarded = parts.path if match is None else _rewritten(rule, match, parts.path)
        assert forwarded.endswith(page), f"{url}: forwarded as {forwarded}, which lost {page}"
        host = f"http://{destination['host']}:{int(destination['port']['number'])}"
        return stack.reach(host + forwarded.removesuffix(page))
    raise AssertionError(f"{url}: redirects without end")


def _first_rule(rules: list[Object], path: str, method: str) -> tuple[Object | None, Object | None]:
    for rule in rules:
        for match in rule.get("match") or [{}]:
            assert set(match) <= {"uri", "method"}, f"a match condition this test does not model: {match}"
            if ("uri" not in match or string_matches(match["uri"], path)) and (
                "method" not in match or string_matches(match["method"], method)
            ):
                return rule, match.get("uri")
    return None, None


def _rewritten(rule: Object, uri_match: Object, path: str) -> str:
    rewrite = (rule.get("rewrite") or {}).get("uri")
    if rewrite is None:
        return path
    if "prefix" in uri_match:
        return rewrite + path[len(uri_match["prefix"]) :]
    assert "exact" in uri_match, f"a rewrite after a {uri_match} match is not modelled"
    return str(rewrite)


@pytest.fixture
def default_stack(shared_run: SharedRun) -> Stack:
    return Stack(shared_run())


def test_each_dashboard_url_reaches_its_dashboard_under_its_own_prefix(default_stack: Stack) -> None:
    outputs = default_stack.run.outputs
    reached = [through_the_dashboards_route(default_stack, outputs[output]) for output in verify.DASHBOARD_CHECKS]
    assert len({hit.service for hit in reached}) == len(verify.DASHBOARD_CHECKS)


class _Answer(io.BytesIO):
    status = 200
    headers: ClassVar[dict[str, str]] = {"server": verify.ENVOY}

    def __enter__(self) -> _Answer:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def test_every_request_verify_makes_to_a_dashboard_reaches_it(
    default_stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """verify's own requests, recorded as it makes them (no network), each
    followed through the route to the server that must answer it."""
    requested: list[tuple[str, str]] = []

    def urlopen(request: urllib.request.Request | str, timeout: float = 0) -> _Answer:
        request = request if isinstance(request, urllib.request.Request) else urllib.request.Request(request)
        requested.append((request.get_method(), request.full_url))
        services = ["httpbin.sample"] if request.full_url.split("?")[0].endswith("/api/services") else []
        return _Answer(json.dumps({"data": services}).encode())

    def refuse(*_: object, **__: object) -> Any:
        raise OSError("no network in tests")

    class Recorder:
        """verify's door to HTTP (`_opener(url).open(request, timeout=…)`), recording instead."""

        def open(self, request: urllib.request.Request, timeout: float = 0) -> _Answer:
            return urlopen(request, timeout)

    monkeypatch.setattr(verify, "_opener", lambda url: Recorder())
    monkeypatch.setattr(verify.subprocess, "run", refuse)
    outputs = default_stack.run.outputs
    verify.verify({**outputs, "kubeconfig": "", "kubeContext": ""}, telemetry_wait=0)
    dashboard_paths = {urlsplit(outputs[output]).path.rstrip("/") for output in verify.DASHBOARD_CHECKS}
    to_dashboards = [
        (method, url)
        for method, url in requested
        if any(urlsplit(url).path.startswith(path + "/") for path in dashboard_paths)
    ]
    # Each dashboard's health probe, Prometheus's query and Jaeger's services and traces.
    assert len({urlsplit(url).path.split("/")[1] for _, url in to_dashboards}) == 4, to_dashboards
    for method, url in to_dashboards:
        (base,) = [path for path in dashboard_paths if urlsplit(url).path.startswith(path + "/")]
        through_the_dashboards_route(default_stack, url, method, page=urlsplit(url).path.removeprefix(base))


# --- Kiali's links to Grafana and Jaeger (issue 16.2) ----------------------------


def test_kialis_grafana_links_open_grafana_on_the_ingress(default_stack: Stack) -> None:
    """kiali/kiali v2.27.0: grafana/grafana.go getDashboardPath joins external_url
    and the path Grafana's search returns (which carries Grafana's sub-path)
    unless that path already starts with external_url; the UI keeps only links
    that parse as absolute http(s) URLs (frontend/src/components/Metrics/GrafanaLinks.tsx)."""
    outputs = default_stack.run.outputs
    grafana = kiali_config(default_stack)["external_services"]["grafana"]
    assert grafana["enabled"]
    base = grafana["external_url"]
    search_path = f"{grafana_sub_path(default_stack)}/d/abc123/istio-service-dashboard"
    link = search_path if search_path.startswith(base) else base.rstrip("/") + "/" + search_path.lstrip("/")
    parts = urlsplit(link)
    assert parts.scheme in ("http", "https") and parts.hostname, f"{link}: the UI drops a link that is not absolute"
    assert parts.hostname == outputs["ingressIp"]
    reached = through_the_dashboards_route(default_stack, link, page="/d/abc123/istio-service-dashboard")
    assert reached.service == "grafana"


def test_kialis_tracing_links_open_jaeger_where_kiali_is_browsed(default_stack: Stack) -> None:
    """kiali/kiali v2.27.0 frontend/src/utils/tracing/UrlProviders/Jaeger.ts:
    `${external_url}/trace/<id>`, an href the browser resolves against Kiali's page."""
    outputs = default_stack.run.outputs
    tracing = kiali_config(default_stack)["external_services"]["tracing"]
    link = urljoin(outputs["kialiUrl"] + "console/overview", f"{tracing['external_url']}/trace/4bf92f3577b34da6")
    assert urlsplit(link).hostname == outputs["ingressIp"]
    assert through_the_dashboards_route(default_stack, link, page="/trace/4bf92f3577b34da6").service == "tracing"


def test_kiali_links_without_waiting_for_the_ingress_gateway(default_stack: Stack) -> None:
    """The ingress gateway stays the end of the critical path (bench/run.py):
    Kiali learns the ingress address from MetalLB's pool, not from the gateway."""
    run = default_stack.run
    releases = run.releases()
    assert not run.depends_on(releases["kiali"], releases["istio-ingressgateway"])


def test_without_routes_kiali_links_nowhere(shared_run: SharedRun) -> None:
    """No route: no address a browser reaches Grafana or Jaeger at, so no links
    (and no 503 "grafana URL is not set" on every metrics page)."""
    stack = Stack(shared_run(dashboardRoutes="off"))
    services = kiali_config(stack)["external_services"]
    assert services["grafana"]["enabled"] is False
    assert not services["tracing"].get("external_url")
