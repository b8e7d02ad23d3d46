"""`make verify`: prove the selected stack's mesh works, from its outputs alone.

    python -m tools.verify [--stack NAME]

Reads `pulumi stack output` of that stack and touches nothing else: it sends
HTTP requests to the ingress and asks the stack's own kube context (via
the kubeconfig output) whether the httpbin pod is in the mesh (its sidecar, or
ambient redirection). For each dashboard the stack installs it asks the tool's
own health API through the ingress, then sends a few requests to the sample
and waits (bounded) until Prometheus has their metrics and Jaeger their trace.
One line per check with its time; exits 1 if any check fails.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from components.sample import SAMPLE_NAMESPACE

TIMEOUT_SECONDS = 10
# Prometheus scrapes every 15 s (Istio's values-prometheus.yaml; the chart's
# default is 1m) and Jaeger's collector batches spans: telemetry of a request
# shows up within seconds to a minute. verify waits at most this long for it.
TELEMETRY_WAIT_SECONDS = 120
POLL_SECONDS = 5
SAMPLE_REQUESTS = 5
ENVOY = "istio-envoy"
UNROUTED_PATH = "/local-mesh-verify-unrouted"


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str
    seconds: float

    def line(self) -> str:
        return f"{'PASS' if self.passed else 'FAIL'}  {self.name:<40} {self.seconds * 1000:7.0f} ms  {self.detail}"


def _timed(name: str, probe: Callable[[], tuple[bool, str]]) -> Check:
    started = time.monotonic()
    try:
        passed, detail = probe()
    except Exception as problem:  # a check reports its failure; it never stops the others
        passed, detail = False, f"{type(problem).__name__}: {problem}"
    return Check(name, passed, detail, time.monotonic() - started)


def _get(url: str) -> tuple[int, str]:
    """Status and `server` header of a GET, 4xx/5xx included."""
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:
            return response.status, response.headers.get("server", "")
    except urllib.error.HTTPError as answer:
        return answer.code, answer.headers.get("server", "")


def _expect(url: str, status: int) -> tuple[bool, str]:
    got, server = _get(url)
    return got == status and server == ENVOY, f"GET {url} -> {got}, server: {server or '(none)'}"


def _accepts_connections(ingress_url: str) -> tuple[bool, str]:
    parts = urlsplit(ingress_url)
    host, port = parts.hostname or "", parts.port or 80
    with socket.create_connection((host, port), timeout=TIMEOUT_SECONDS):
        return True, f"{host}:{port} accepts connections"


AMBIENT_ANNOTATION = "ambient.istio.io/redirection"


def pods_in_mesh(pod_list: Mapping[str, Any]) -> tuple[bool, str]:
    pods = pod_list.get("items") or []
    if not pods:
        return False, f"no httpbin pod in namespace {SAMPLE_NAMESPACE}"
    ways = set()
    for pod in pods:
        spec = pod.get("spec", {})
        # Istio injects istio-proxy as a container, or as a native sidecar
        # (an init container that keeps running) where Kubernetes has them;
        # in ambient mode istio-cni marks the pod's traffic as redirected instead.
        names = [c.get("name") for c in spec.get("containers", []) + spec.get("initContainers", [])]
        if "istio-proxy" in names:
            ways.add("an istio-proxy sidecar")
        elif pod.get("metadata", {}).get("annotations", {}).get(AMBIENT_ANNOTATION) == "enabled":
            ways.add("ambient redirection")
        else:
            return False, f"pod {pod['metadata']['name']} has no istio-proxy sidecar and no ambient redirection"
    return True, f"{len(pods)} httpbin pod(s) with {' and '.join(sorted(ways))}"


def _httpbin_in_mesh(kubeconfig: str, context: str) -> tuple[bool, str]:
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "kubeconfig")
        with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "w") as handle:
            handle.write(kubeconfig)
        result = subprocess.run(
            [
                "kubectl",
                f"--kubeconfig={path}",
                f"--context={context}",
                f"--namespace={SAMPLE_NAMESPACE}",
                "get",
                "pods",
                "--selector=app=httpbin",
                "--output=json",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    if result.returncode != 0:
        return False, f"kubectl get pods failed: {result.stderr.strip()}"
    return pods_in_mesh(json.loads(result.stdout))


def _get_json(url: str) -> tuple[int, Any]:
    """Status and parsed JSON body of a GET (None if the body is not JSON), 4xx/5xx included."""
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as answer:
        status, body = answer.code, answer.read()
    try:
        return status, json.loads(body)
    except ValueError:
        return status, None


def _kiali_running(url: str) -> tuple[bool, str]:
    # GET <web root>/api/status: {"status": {"Kiali state": "running", "Kiali version": …}, …}
    # (kiali/kiali README, "curl http://localhost:20001/kiali/api").
    status, body = _get_json(url + "api/status")
    state = ((body or {}).get("status") or {}).get("Kiali state") if isinstance(body, dict) else None
    return status == 200 and state == "running", f"GET {url}api/status -> {status}, Kiali state: {state}"


def _grafana_healthy(url: str) -> tuple[bool, str]:
    # GET /api/health: 200 {"database": "ok", "version": …} when its database answers, else 503
    # (Grafana's health endpoint, grafana/grafana#27536 as quoted in bitnami/charts#5674).
    status, body = _get_json(url + "api/health")
    database = body.get("database") if isinstance(body, dict) else None
    return status == 200 and database == "ok", f"GET {url}api/health -> {status}, database: {database}"


def _prometheus_ready(url: str) -> tuple[bool, str]:
    # GET /-/ready: "returns 200 when Prometheus is ready to serve traffic" (prometheus.io, Management API).
    status, _ = _get(url + "-/ready")
    return status == 200, f"GET {url}-/ready -> {status}"


def _jaeger_services(url: str) -> list[str]:
    # Jaeger's query HTTP API (the UI's): {"data": [...], "total": …, "errors": …}
    # (jaegertracing/jaeger v2.17.0, cmd/jaeger/internal/extension/jaegerquery/internal/http_handler.go,
    # structuredResponse).
    status, body = _get_json(url + "api/services")
    if status != 200 or not isinstance(body, dict) or not isinstance(body.get("data"), list):
        raise ValueError(f"GET {url}api/services -> {status}, not Jaeger's services list")
    return [str(name) for name in body["data"]]


def _jaeger_answers(url: str) -> tuple[bool, str]:
    services = _jaeger_services(url)
    return True, f"GET {url}api/services -> 200, {len(services)} service(s)"


# Stack output -> (check name, probe); in the order the README lists the dashboards.
DASHBOARD_CHECKS: dict[str, tuple[str, Callable[[str], tuple[bool, str]]]] = {
    "kialiUrl": ("Kiali answers (status API)", _kiali_running),
    "prometheusUrl": ("Prometheus answers (ready)", _prometheus_ready),
    "grafanaUrl": ("Grafana answers (health API)", _grafana_healthy),
    "jaegerUrl": ("Jaeger answers (services API)", _jaeger_answers),
}


def send_sample_traffic(sample_url: str) -> str:
    """A few requests to the sample, each asking Envoy to trace it: a client's
    x-client-trace-id header forces a trace whatever the random sampling
    (Envoy docs, Tracing: "How to initiate a trace": "By an external client via
    the x-client-trace-id header")."""
    statuses = []
    for _ in range(SAMPLE_REQUESTS):
        request = urllib.request.Request(sample_url, headers={"x-client-trace-id": str(uuid.uuid4())})
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
                statuses.append(response.status)
        except urllib.error.HTTPError as answer:
            statuses.append(answer.code)
    return f"{SAMPLE_REQUESTS} requests to {sample_url} ({', '.join(map(str, statuses))})"


def _within(wait_seconds: float, attempt: Callable[[], tuple[bool, str]]) -> tuple[bool, str]:
    """`attempt` until it passes or `wait_seconds` are over; its last answer."""
    deadline = time.monotonic() + wait_seconds
    while True:
        passed, detail = attempt()
        remaining = deadline - time.monotonic()
        if passed or remaining <= 0:
            return passed, detail if passed else f"{detail} after waiting {wait_seconds:.0f} s"
        time.sleep(min(POLL_SECONDS, remaining))


# The sample's requests as the mesh's proxies count them (Istio's standard
# metrics: istio_requests_total with destination_workload, and
# destination_service_name, which the client side knows even without a
# server-side proxy).
HTTPBIN_REQUESTS_QUERY = (
    'sum(istio_requests_total{destination_workload="httpbin"})'
    ' or sum(istio_requests_total{destination_service_name="httpbin"})'
)


def _prometheus_counts_httpbin(url: str) -> tuple[bool, str]:
    # GET /api/v1/query: {"status": "success", "data": {"resultType": "vector", "result": [{"value": [t, "n"]}]}}
    # (prometheus.io, HTTP API, Instant queries), under the route prefix like every endpoint.
    status, body = _get_json(url + "api/v1/query?" + urlencode({"query": HTTPBIN_REQUESTS_QUERY}))
    result = ((body or {}).get("data") or {}).get("result") if isinstance(body, dict) else None
    if status != 200 or not isinstance(result, list):
        return False, f"query -> {status}, not a Prometheus answer"
    total = sum(float(sample["value"][1]) for sample in result)
    return total > 0, f"istio_requests_total for httpbin: {total:g}"


def _jaeger_traces_httpbin(url: str) -> tuple[bool, str]:
    """A trace whose spans go to httpbin, reported by httpbin's sidecar or by
    the ingress gateway (Envoy names a span after the route's host)."""
    services = [name for name in _jaeger_services(url) if "httpbin" in name or "ingressgateway" in name]
    for service in services:
        query = urlencode({"service": service, "limit": 20, "lookback": "1h"})
        status, body = _get_json(url + "api/traces?" + query)
        traces = body.get("data") if status == 200 and isinstance(body, dict) else None
        for trace in traces or []:
            operations = [span.get("operationName", "") for span in trace.get("spans", [])]
            if any("httpbin" in operation for operation in operations):
                return True, f"trace {trace.get('traceID')} of {service}: {operations[0]}"
    return False, f"no trace reaching httpbin among services {services or '(none)'}"


def verify(outputs: Mapping[str, Any], telemetry_wait: float = TELEMETRY_WAIT_SECONDS) -> list[Check]:
    """Run every check against a stack's outputs."""
    if "sampleUrl" not in outputs:
        return [
            Check("sample deployed", False, "this stack has no sample: pulumi config set sample true, then up", 0.0)
        ]
    ingress_url = str(outputs["ingressUrl"])
    sample_url = str(outputs["sampleUrl"])
    checks = [
        _timed("ingress IP answers", lambda: _accepts_connections(ingress_url)),
        _timed("routed path: 200 from Envoy", lambda: _expect(sample_url, 200)),
        _timed("unrouted path: 404 from Envoy", lambda: _expect(ingress_url + UNROUTED_PATH, 404)),
        _timed(
            "httpbin pod is in the mesh",
            lambda: _httpbin_in_mesh(str(outputs["kubeconfig"]), str(outputs["kubeContext"])),
        ),
    ]
    for output, (name, probe) in DASHBOARD_CHECKS.items():
        if output in outputs:
            checks.append(_timed(name, functools.partial(probe, str(outputs[output]))))
    telemetry: list[tuple[str, str, Callable[[str], tuple[bool, str]]]] = [
        ("prometheusUrl", "Prometheus has httpbin's requests", _prometheus_counts_httpbin),
        ("jaegerUrl", "Jaeger has a trace to httpbin", _jaeger_traces_httpbin),
    ]
    wanted = [(name, str(outputs[output]), probe) for output, name, probe in telemetry if output in outputs]
    if wanted:
        checks.append(_timed("sample traffic sent", lambda: (True, send_sample_traffic(sample_url))))
        for name, url, probe in wanted:
            checks.append(_timed(name, functools.partial(_within, telemetry_wait, functools.partial(probe, url))))
    return checks


def stack_outputs(stack: str | None) -> dict[str, Any]:
    command = ["pulumi", "stack", "output", "--json", "--show-secrets", *(["--stack", stack] if stack else [])]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"local-mesh verify: cannot read the stack's outputs: {result.stderr.strip()}")
    return dict(json.loads(result.stdout))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--stack", help="the stack to verify (default: the selected stack)")
    arguments = parser.parse_args(argv)
    checks = verify(stack_outputs(arguments.stack))
    for check in checks:
        print(check.line())
    failed = sum(not check.passed for check in checks)
    print(
        f"local-mesh verify: {failed} of {len(checks)} checks failed"
        if failed
        else f"local-mesh verify: all {len(checks)} checks passed"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
