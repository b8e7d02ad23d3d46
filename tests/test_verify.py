"""`verify` against a local HTTP server that plays the ingress gateway (in
front of the sample and, for the dashboard and telemetry checks, of Kiali,
Prometheus, Grafana and Jaeger, each answering as the real tool does and as it
does when it fails; the shapes' sources are cited in tools/verify.py), and the
stand-in kubectl for the sidecar check."""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import pytest

from components.model.settings import parse_settings
from components.shell import (
    INTERPRETER,
    access_environment,
    cluster_environment,
    owner_environment,
    parse_minikube_access,
    preview_environment,
    script,
)
from harness.config import REPO
from harness.config import raw_config as raw
from harness.program import owner_of
from harness.servers import EnvoyAnswers, closed_loopback_url, serve_loopback
from harness.world import fake_environment, run_shell, set_fake_profile
from tools import verify

NATIVE_SIDECAR_POD = {
    "metadata": {"name": "httpbin-5f6b8c7d9-abcde", "namespace": "sample", "labels": {"app": "httpbin"}},
    "spec": {
        "containers": [{"name": "httpbin"}],
        "initContainers": [{"name": "istio-init"}, {"name": "istio-proxy", "restartPolicy": "Always"}],
    },
    "status": {"phase": "Running"},
}


class Ingress(http.server.BaseHTTPRequestHandler):
    """Envoy with the sample's routes: /status/* routed to httpbin, the rest 404."""

    server_header = "istio-envoy"

    def version_string(self) -> str:
        return self.server_header

    def do_GET(self) -> None:
        status = int(self.path.rsplit("/", 1)[1]) if self.path.startswith("/status/") else 404
        self.send_response(status)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def serve(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    with serve_loopback(handler) as url:
        yield url


@pytest.fixture
def envoy() -> Iterator[str]:
    yield from serve(Ingress)


@pytest.fixture
def not_envoy() -> Iterator[str]:
    yield from serve(type("Nginx", (Ingress,), {"server_header": "nginx"}))


@pytest.fixture
def cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A running stand-in profile; returns the stack's kubeconfig/context outputs."""
    machine = fake_environment(tmp_path)
    settings = parse_settings(raw(), "dev")
    environment = {
        **machine,
        **cluster_environment(settings),
        **access_environment(settings),
        **owner_environment(owner_of("dev")),
        **preview_environment(False),
    }
    assert run_shell(script("cluster-create.sh"), environment, INTERPRETER).returncode == 0
    access = parse_minikube_access(
        run_shell(script("cluster-access.sh"), environment, INTERPRETER).stdout, "local-mesh-dev", True
    )
    for key, value in machine.items():
        monkeypatch.setenv(key, value)
    return {"kubeconfig": access.kubeconfig, "kubeContext": "local-mesh-dev", "state": str(tmp_path / "state.json")}


def put_pods(cluster: dict[str, str], pods: list[dict]) -> None:
    set_fake_profile(Path(cluster["state"]).parent, "local-mesh-dev", pods=pods)


def outputs(base_url: str, cluster: dict[str, str]) -> dict[str, str]:
    return {
        "ingressUrl": base_url,
        "sampleUrl": f"{base_url}/status/200",
        "kubeconfig": cluster["kubeconfig"],
        "kubeContext": cluster["kubeContext"],
    }


def results(checks: list[verify.Check]) -> dict[str, bool]:
    return {check.name: check.passed for check in checks}


def test_a_working_mesh_passes_every_check(envoy: str, cluster: dict[str, str]) -> None:
    put_pods(cluster, [NATIVE_SIDECAR_POD])
    checks = verify.verify(outputs(envoy, cluster))
    assert all(results(checks).values()), [check.line() for check in checks]
    assert len(checks) == 4


def test_a_server_that_is_not_envoy_is_not_the_ingress(not_envoy: str, cluster: dict[str, str]) -> None:
    put_pods(cluster, [NATIVE_SIDECAR_POD])
    checks = verify.verify(outputs(not_envoy, cluster))
    assert results(checks) == {
        "ingress IP answers": False,
        "routed path: 200 from Envoy": False,
        "unrouted path: 404 from Envoy": False,
        "httpbin pod is in the mesh": True,
    }
    assert "server: nginx" in checks[0].detail
    assert checks[1].skipped and checks[2].skipped and "does not answer as Envoy" in checks[1].detail
    assert checks[0].seconds < 1  # another server's answer is final: nothing to wait for


def test_a_pod_without_its_sidecar_fails(envoy: str, cluster: dict[str, str]) -> None:
    bare = json.loads(json.dumps(NATIVE_SIDECAR_POD))
    bare["spec"]["initContainers"] = []
    put_pods(cluster, [bare])
    checks = verify.verify(outputs(envoy, cluster))
    assert results(checks)["httpbin pod is in the mesh"] is False
    assert "has no istio-proxy sidecar and no ambient redirection" in checks[3].detail


def test_a_classic_sidecar_container_counts(envoy: str, cluster: dict[str, str]) -> None:
    classic = json.loads(json.dumps(NATIVE_SIDECAR_POD))
    classic["spec"]["initContainers"] = [{"name": "istio-init"}]
    classic["spec"]["containers"].append({"name": "istio-proxy"})
    put_pods(cluster, [classic])
    assert results(verify.verify(outputs(envoy, cluster)))["httpbin pod is in the mesh"] is True


def test_an_ambient_pod_counts(envoy: str, cluster: dict[str, str]) -> None:
    ambient = json.loads(json.dumps(NATIVE_SIDECAR_POD))
    ambient["spec"]["initContainers"] = []
    ambient["metadata"]["annotations"] = {"ambient.istio.io/redirection": "enabled"}
    put_pods(cluster, [ambient])
    checks = verify.verify(outputs(envoy, cluster))
    assert results(checks)["httpbin pod is in the mesh"] is True
    assert checks[3].detail == "1 httpbin pod(s) with ambient redirection"


def test_no_pod_fails(envoy: str, cluster: dict[str, str]) -> None:
    checks = verify.verify(outputs(envoy, cluster))
    assert checks[3].detail == "no httpbin pod in namespace sample"


def test_a_stack_without_the_sample_still_checks_the_ingress_and_says_what_it_skipped(
    envoy: str, cluster: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    without_sample = {key: value for key, value in outputs(envoy, cluster).items() if key != "sampleUrl"}
    checks = verify.verify(without_sample)
    assert [(check.name, check.passed, check.skipped) for check in checks] == [
        ("ingress IP answers", True, False),
        ("routed path: 200 from Envoy", False, True),
        ("unrouted path: 404 from Envoy", True, False),
        ("httpbin pod is in the mesh", False, True),
    ]
    assert checks[1].detail == "skipped: this stack has no sample (sample: false)"
    monkeypatch.setattr(verify, "stack_outputs", lambda stack: without_sample)
    assert verify.main(["--stack", "dev"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in printed[1:5]] == ["PASS", "SKIP", "PASS", "SKIP"]
    assert printed[-1] == "local-mesh verify: all 2 checks passed, 2 skipped"


def test_on_linux_both_the_ingress_ip_and_the_loopback_port_must_answer_as_envoy(
    ingress_for: Callable[[type[MeshIngress]], str], not_envoy: str, cluster: dict[str, str]
) -> None:
    """Linux: the URLs name MetalLB's address (here one loopback server plays it)
    and localUrl the loopback port the node publishes (another)."""
    put_pods(cluster, [NATIVE_SIDECAR_POD])
    both = {**stack(ingress_for(mesh()), cluster), "localUrl": ingress_for(mesh()) + "/"}
    checks = verify.verify(both, telemetry_wait=1)
    assert [check.name for check in checks[:2]] == ["ingress IP answers", "loopback port answers (localUrl)"]
    assert all(results(checks).values()), [check.line() for check in checks]
    # A loopback port that another server holds is not the mesh's.
    checks = verify.verify({**both, "localUrl": not_envoy + "/"}, telemetry_wait=1)
    assert results(checks)["loopback port answers (localUrl)"] is False
    assert "server: nginx" in checks[1].detail


def test_on_docker_desktop_every_check_goes_to_the_loopback_port_once(
    ingress_for: Callable[[type[MeshIngress]], str], cluster: dict[str, str]
) -> None:
    """Docker Desktop: every URL is on the loopback port, localUrl included;
    the dashboards answer under their sub-paths on that host as on the IP."""
    put_pods(cluster, [NATIVE_SIDECAR_POD])
    loopback = ingress_for(mesh())
    checks = verify.verify({**stack(loopback, cluster), "localUrl": loopback + "/"}, telemetry_wait=1)
    assert "loopback port answers (localUrl)" not in results(checks)
    assert [check.name for check in checks[4:]] == DASHBOARD_AND_TELEMETRY
    assert all(results(checks).values()), [check.line() for check in checks]
    assert all(loopback in check.detail for check in checks if check.detail.startswith("GET "))


def test_main_prints_a_line_per_check_and_exits_nonzero_on_failure(
    envoy: str, cluster: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(verify, "stack_outputs", lambda stack: outputs(envoy, cluster))
    assert verify.main(["--stack", "dev"]) == 1  # no pod yet
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == f"local-mesh verify: stack dev, {envoy}, waiting up to 15 s for the mesh"
    assert [line.split()[0] for line in printed[1:5]] == ["PASS", "PASS", "PASS", "FAIL"]
    assert printed[5] == "local-mesh verify: 1 of 4 checks failed"
    put_pods(cluster, [NATIVE_SIDECAR_POD])
    assert verify.main(["--stack", "dev"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "local-mesh verify: all 4 checks passed"


# --- dashboards and telemetry ---

HTTPBIN_SPAN = "httpbin.sample.svc.cluster.local:8000/*"  # Envoy names a span after the route's host
NO_HEALTHY_UPSTREAM = (503, "text/plain", "no healthy upstream")  # Envoy, when a Service has no ready pod


class MeshIngress(EnvoyAnswers):
    """Envoy routing /status/* to httpbin and each dashboard's path to the tool.
    `failing` names the tools that answer like a broken one; `traces` holds the
    x-client-trace-id of each sample request (Envoy traces those), `requests`
    counts them (Prometheus's istio_requests_total)."""

    failing: ClassVar[set[str]] = set()
    traces: ClassVar[list[str]] = []
    requests: ClassVar[int] = 0
    queries: ClassVar[int] = 0
    metrics_after_queries: ClassVar[int] = 0  # Prometheus's scrape interval: the first queries find nothing
    starting_until: ClassVar[float] = 0.0  # time.monotonic() until which every route answers 503 (pods not ready)

    def json(self, status: int, body: Any) -> None:
        self.answer(status, "application/json", json.dumps(body))

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        path, query = parts.path, parse_qs(parts.query)
        cls = type(self)
        if time.monotonic() < cls.starting_until and path != "/":
            self.answer(*NO_HEALTHY_UPSTREAM)
        elif path.startswith("/status/"):
            cls.requests += 1
            if "x-client-trace-id" in self.headers:
                cls.traces.append(self.headers["x-client-trace-id"])
            self.answer(int(path.rsplit("/", 1)[1]), "text/plain", "")
        elif path == "/kiali/api/status":
            if "kiali" in cls.failing:
                self.answer(*NO_HEALTHY_UPSTREAM)
            else:
                self.json(
                    200, {"status": {"Kiali state": "running", "Kiali version": "v2.27.0"}, "externalServices": []}
                )
        elif path == "/grafana/api/health":
            # Grafana answers 503 with the database's state when it cannot reach it.
            database = "failing" if "grafana" in cls.failing else "ok"
            self.json(503 if "grafana" in cls.failing else 200, {"database": database, "version": "12.1.0"})
        elif path == "/prometheus/-/ready":
            if "prometheus" in cls.failing:
                self.answer(503, "text/plain", "Service Unavailable")
            else:
                self.answer(200, "text/plain", "Prometheus Server is Ready.\n")
        elif path == "/prometheus/api/v1/query" and "query" not in cls.failing:
            cls.queries += 1
            counted = "metrics" not in cls.failing and cls.queries > cls.metrics_after_queries and cls.requests
            result = [{"metric": {}, "value": [1764000000.0, str(cls.requests)]}] if counted else []
            self.json(200, {"status": "success", "data": {"resultType": "vector", "result": result}})
        elif path == "/jaeger/api/services":
            if "jaeger" in cls.failing:
                self.answer(*NO_HEALTHY_UPSTREAM)
                return
            services = ["istio-ingressgateway.istio-system", "httpbin.sample"] if cls.traces else []
            self.json(200, {"data": services, "total": len(services), "limit": 0, "offset": 0, "errors": None})
        elif path == "/jaeger/api/traces":
            traced = [] if "traces" in cls.failing or query.get("service") != ["httpbin.sample"] else cls.traces
            data = [{"traceID": trace, "spans": [{"operationName": HTTPBIN_SPAN}]} for trace in traced]
            self.json(200, {"data": data, "total": 0, "limit": 0, "offset": 0, "errors": None})
        else:
            self.answer(404, "text/plain", "")


def mesh(**state: Any) -> type[MeshIngress]:
    defaults = {
        "failing": set(),
        "traces": [],
        "requests": 0,
        "queries": 0,
        "metrics_after_queries": 0,
        "starting_until": 0.0,
    }
    return type("Mesh", (MeshIngress,), {**defaults, **state})


@pytest.fixture
def ingress_for() -> Iterator[Callable[[type[MeshIngress]], str]]:
    """Starts a loopback server per handler; all stop when the test ends."""
    with contextlib.ExitStack() as servers:
        yield lambda handler: servers.enter_context(serve_loopback(handler))


def stack(base_url: str, cluster: dict[str, str], level: str = "full") -> dict[str, str]:
    dashboards = {"kialiUrl": "/kiali/", "prometheusUrl": "/prometheus/"}
    if level == "full":
        dashboards |= {"grafanaUrl": "/grafana/", "jaegerUrl": "/jaeger/"}
    return {**outputs(base_url, cluster), **{key: base_url + path for key, path in dashboards.items()}}


DASHBOARD_AND_TELEMETRY = [
    "Kiali answers (status API)",
    "Prometheus answers (ready)",
    "Grafana answers (health API)",
    "Jaeger answers (services API)",
    "sample traffic sent",
    "Prometheus has httpbin's requests",
    "Jaeger has a trace to httpbin",
]


def test_a_mesh_with_every_dashboard_passes_and_its_telemetry_is_proven(
    ingress_for: Callable[[type[MeshIngress]], str],
    cluster: dict[str, str],
) -> None:
    put_pods(cluster, [NATIVE_SIDECAR_POD])
    handler = mesh()
    checks = verify.verify(stack(ingress_for(handler), cluster), telemetry_wait=1)
    assert [check.name for check in checks[4:]] == DASHBOARD_AND_TELEMETRY
    assert all(results(checks).values()), [check.line() for check in checks]
    # Every sample request asked for a trace (1% sampling outside demo would miss them).
    assert handler.requests == verify.SAMPLE_REQUESTS + 1 == len(handler.traces) + 1
    assert "trace " in checks[-1].detail and "httpbin.sample" in checks[-1].detail


@pytest.mark.parametrize(
    ("broken", "failed"),
    [
        ("kiali", {"Kiali answers (status API)"}),
        ("grafana", {"Grafana answers (health API)"}),
        ("prometheus", {"Prometheus answers (ready)"}),
        ("jaeger", {"Jaeger answers (services API)", "Jaeger has a trace to httpbin"}),
        ("metrics", {"Prometheus has httpbin's requests"}),
        ("traces", {"Jaeger has a trace to httpbin"}),
    ],
)
def test_each_tools_failure_fails_its_own_checks_only(
    ingress_for: Callable[[type[MeshIngress]], str],
    cluster: dict[str, str],
    broken: str,
    failed: set[str],
) -> None:
    put_pods(cluster, [NATIVE_SIDECAR_POD])
    checks = verify.verify(stack(ingress_for(mesh(failing={broken})), cluster), telemetry_wait=0.2, mesh_wait=0)
    assert {name for name, passed in results(checks).items() if not passed} == failed


def test_telemetry_that_never_arrives_fails_within_the_bounded_wait(
    ingress_for: Callable[[type[MeshIngress]], str],
    cluster: dict[str, str],
) -> None:
    put_pods(cluster, [NATIVE_SIDECAR_POD])
    checks = verify.verify(stack(ingress_for(mesh(failing={"metrics"})), cluster), telemetry_wait=0.3)
    (metrics,) = [check for check in checks if check.name == "Prometheus has httpbin's requests"]
    assert not metrics.passed and "after waiting" in metrics.detail
    assert 0.3 <= metrics.seconds < 0.3 + verify.TIMEOUT_SECONDS


def test_metrics_that_arrive_after_a_scrape_pass(
    ingress_for: Callable[[type[MeshIngress]], str],
    cluster: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(verify, "POLL_SECONDS", 0.05)
    put_pods(cluster, [NATIVE_SIDECAR_POD])
    handler = mesh(metrics_after_queries=3)
    checks = verify.verify(stack(ingress_for(handler), cluster), telemetry_wait=5)
    assert results(checks)["Prometheus has httpbin's requests"] is True
    assert handler.queries == 4


def test_observability_kiali_checks_kiali_and_prometheus_only(
    ingress_for: Callable[[type[MeshIngress]], str],
    cluster: dict[str, str],
) -> None:
    put_pods(cluster, [NATIVE_SIDECAR_POD])
    checks = verify.verify(stack(ingress_for(mesh()), cluster, level="kiali"), telemetry_wait=1)
    assert [check.name for check in checks[4:]] == [
        "Kiali answers (status API)",
        "Prometheus answers (ready)",
        "sample traffic sent",
        "Prometheus has httpbin's requests",
    ]
    assert all(results(checks).values())


def test_without_dashboards_verify_checks_what_it_always_did(
    ingress_for: Callable[[type[MeshIngress]], str],
    cluster: dict[str, str],
) -> None:
    put_pods(cluster, [NATIVE_SIDECAR_POD])
    handler = mesh()
    checks = verify.verify(outputs(ingress_for(handler), cluster))
    assert len(checks) == 4 and handler.requests == 1


def test_sample_requests_that_all_get_404_are_not_sent_traffic(
    ingress_for: Callable[[type[MeshIngress]], str],
    cluster: dict[str, str],
) -> None:
    """The sample's route is gone (Envoy answers 404 for it): no request reached
    httpbin, so there is no traffic to find in Prometheus or Jaeger."""
    put_pods(cluster, [NATIVE_SIDECAR_POD])
    handler = mesh()
    base = ingress_for(handler)
    checks = verify.verify({**stack(base, cluster), "sampleUrl": f"{base}/status/404"}, telemetry_wait=5)
    (sent,) = [check for check in checks if check.name == "sample traffic sent"]
    assert not sent.passed and "(404, 404, 404, 404, 404)" in sent.detail
    telemetry = [check for check in checks if check.name in DASHBOARD_AND_TELEMETRY[-2:]]
    assert [check.detail for check in telemetry] == ["skipped: no sample traffic reached httpbin"] * 2


def test_a_definitive_answer_from_prometheus_does_not_wait_for_telemetry(
    ingress_for: Callable[[type[MeshIngress]], str],
    cluster: dict[str, str],
) -> None:
    """A 404 for the query API (a wrong route prefix) never turns into metrics:
    the check fails at once instead of asking again for telemetry_wait."""
    put_pods(cluster, [NATIVE_SIDECAR_POD])
    checks = verify.verify(stack(ingress_for(mesh(failing={"query"})), cluster), telemetry_wait=30)
    (metrics,) = [check for check in checks if check.name == "Prometheus has httpbin's requests"]
    assert not metrics.passed and metrics.detail == "query -> 404, not a Prometheus answer"
    assert metrics.seconds < 5


# --- a dead stack, a mesh coming back, proxies ---


@pytest.fixture
def blackhole() -> Iterator[str]:
    """An address that accepts connections and never answers (a hung ingress):
    the kernel completes the handshake for the listen backlog, nobody accepts."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


@pytest.mark.parametrize("dead", ["refused", "blackholed"])
def test_a_dead_stack_fails_its_first_check_within_20_seconds(
    dead: str, blackhole: str, cluster: dict[str, str]
) -> None:
    """Real time with the defaults (a refused address is waited for up to
    MESH_WAIT_SECONDS, a silent one up to TIMEOUT_SECONDS); after the first
    FAIL nothing else is asked of the ingress."""
    put_pods(cluster, [NATIVE_SIDECAR_POD])
    base = closed_loopback_url() if dead == "refused" else blackhole
    started = time.monotonic()
    reported: list[tuple[float, verify.Check]] = []
    checks = verify.verify(
        stack(base, cluster), report=lambda check: reported.append((time.monotonic() - started, check))
    )
    first_seconds, first = reported[0]
    lines = [f"{seconds:5.1f} s  {check.line()}" for seconds, check in reported]
    assert first.name == "ingress IP answers" and not first.passed, lines
    assert first_seconds < 20, lines
    asked = [check.name for check in checks if not check.skipped]
    assert asked == ["ingress IP answers", "httpbin pod is in the mesh"], lines
    if dead == "refused":
        refused, waited = first.detail.split(" after waiting ")
        assert refused == f"GET {base}/: Connection refused"
        assert float(waited.removesuffix(" s")) >= verify.MESH_WAIT_SECONDS
    else:
        assert "timed out" in first.detail and "after waiting" not in first.detail


def test_refused_gives_up_within_the_wait_given(cluster: dict[str, str]) -> None:
    checks = verify.verify(outputs(closed_loopback_url(), cluster), mesh_wait=0)
    assert not checks[0].passed and checks[0].seconds < 1


@contextlib.contextmanager
def serve_later(handler: type[http.server.BaseHTTPRequestHandler], delay: float) -> Iterator[str]:
    """An address that refuses connections for `delay` seconds, then answers
    with `handler` (an ingress whose pod or address is coming back)."""
    port = int(closed_loopback_url().rsplit(":", 1)[1])
    servers: list[http.server.ThreadingHTTPServer] = []

    def start() -> None:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
        servers.append(server)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    timer = threading.Timer(delay, start)
    timer.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        timer.cancel()
        timer.join()
        for server in servers:
            server.shutdown()
            server.server_close()


def test_a_mesh_coming_back_is_waited_for_and_the_wait_is_reported(
    cluster: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """After `minikube stop` and `up`: refused first, then Envoy answering 503
    (no healthy upstream) until the sample and the dashboards are ready."""
    monkeypatch.setattr(verify, "POLL_SECONDS", 0.05)
    put_pods(cluster, [NATIVE_SIDECAR_POD])
    handler = mesh(starting_until=time.monotonic() + 0.6)
    with serve_later(handler, 0.3) as base:
        checks = verify.verify(stack(base, cluster), telemetry_wait=5, mesh_wait=10)
    assert all(results(checks).values()), [check.line() for check in checks]
    assert "after waiting" in checks[0].detail and "after waiting" in checks[1].detail
    assert sum(check.seconds for check in checks) < 5


def test_a_mesh_that_does_not_come_back_fails_when_the_wait_is_over(
    ingress_for: Callable[[type[MeshIngress]], str], cluster: dict[str, str]
) -> None:
    put_pods(cluster, [NATIVE_SIDECAR_POD])
    base = ingress_for(mesh(starting_until=float("inf")))
    checks = verify.verify(stack(base, cluster), telemetry_wait=0.2, mesh_wait=0.3)
    assert results(checks)["ingress IP answers"] is True  # Envoy's own 404 for /
    assert checks[1].detail.startswith(f"GET {base}/status/200 -> 503, server: istio-envoy after waiting")
    assert sum(check.seconds for check in checks) < 3  # one wait, shared by every check


class ProxyRecorder(MeshIngress):
    """A forward proxy (absolute-form request lines) that answers as the mesh would."""

    seen: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        type(self).seen.append(self.path)
        self.path = urlsplit(self.path).path or "/"
        super().do_GET()


@pytest.fixture
def proxy(
    ingress_for: Callable[[type[MeshIngress]], str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[type[ProxyRecorder]]:
    """http_proxy (what urllib reads) set to a loopback proxy that records what it is sent.
    urlopen's shared opener reads the proxy variables once, when first built: it
    is dropped before and after, so that it sees these (as in a fresh process)
    and no other test sees them."""
    recorder = type("Proxy", (ProxyRecorder,), {"seen": [], "traces": [], "requests": 0, "queries": 0})
    for name in ("no_proxy", "NO_PROXY", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("http_proxy", ingress_for(recorder))
    urllib.request.install_opener(None)
    yield recorder
    urllib.request.install_opener(None)


def test_the_ingress_on_a_private_address_is_reached_without_the_proxy(
    proxy: type[ProxyRecorder], ingress_for: Callable[[type[MeshIngress]], str], cluster: dict[str, str]
) -> None:
    """minikube's and kind's docker networks (192.168.49.x, 172.18.x) are private
    addresses no corporate proxy can reach; loopback stands in for them here."""
    put_pods(cluster, [NATIVE_SIDECAR_POD])
    checks = verify.verify(stack(ingress_for(mesh()), cluster), telemetry_wait=1)
    assert all(results(checks).values()), [check.line() for check in checks]
    assert proxy.seen == []


def test_an_ingress_with_a_public_name_is_reached_through_the_proxy(
    proxy: type[ProxyRecorder], cluster: dict[str, str]
) -> None:
    """A cloud load balancer's hostname goes the way the proxy variables say
    (the proxy resolves it: no name lookup happens here)."""
    put_pods(cluster, [NATIVE_SIDECAR_POD])
    checks = verify.verify(outputs("http://mesh.example.com", cluster), mesh_wait=0)
    assert all(results(checks).values()), [check.line() for check in checks]
    assert proxy.seen[:2] == ["http://mesh.example.com/", "http://mesh.example.com/status/200"]


# --- the stack's outputs ---


def test_no_pulumi_on_path_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SystemExit) as stopped:
        verify.main(["--stack", "dev"])
    message = str(stopped.value.code)
    assert message.startswith("local-mesh verify: pulumi is not on PATH") and "\n" not in message


def test_a_stack_never_deployed_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`pulumi stack output --json` of a stack without a deployment prints {}
    and exits 0 (pulumi/pulumi pkg/cmd/pulumi/stack/stack_output.go:
    getStackOutputs answers an empty map when the snapshot has no root stack
    resource, and the JSON writer prints it)."""
    bin_folder = tmp_path / "bin"
    bin_folder.mkdir()
    pulumi = bin_folder / "pulumi"
    pulumi.write_text("#!/bin/sh\necho '{}'\n")
    pulumi.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_folder}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(SystemExit) as stopped:
        verify.main(["--stack", "dev"])
    assert stopped.value.code == (
        "local-mesh verify: stack dev has no outputs: it was created but never deployed"
        " (or its first up did not finish); run `make up STACK=dev` first"
    )


def test_make_verify_hands_its_stack_and_wait_over() -> None:
    """`make -n` prints the recipe without running it."""
    dry = subprocess.run(
        ["make", "-n", "verify", "STACK=team-a", "WAIT=300"], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert '-m tools.verify --stack "team-a" --wait "300"' in dry.stdout
