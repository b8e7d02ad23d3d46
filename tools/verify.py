"""`make verify`: prove the selected stack's mesh works, from its outputs alone.

    python -m tools.verify [--stack NAME] [--wait SECONDS]

Reads `pulumi stack output` of that stack and touches nothing else: it sends
HTTP requests to the ingress (Envoy must answer, on the loopback port too
where the stack has one beside the ingress IP) and asks the stack's own kube
context (via the kubeconfig output) whether the httpbin pod is in the mesh (its
sidecar, or ambient redirection). For each dashboard the stack installs it asks
the tool's own health API through the ingress, then sends a few requests to the
sample and waits (bounded) until Prometheus has their metrics and Jaeger their
trace. A mesh that is coming back (after `minikube stop` and the next `up`) is
waited for, up to --wait seconds; any other wrong answer fails at once.
With several clusters (the `clusters` output), tools/crosscluster.py's checks
follow: traffic through each ingress reaches every cluster, over mutual TLS.
One line per check as it ends, with its time; exits 1 if any check fails.
"""

from __future__ import annotations

import argparse
import errno
import functools
import ipaddress
import json
import os
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

from components.model.parts.grafana import GRAFANA_DASHBOARD
from components.model.parts.jaeger import JAEGER_DASHBOARD
from components.model.parts.kiali import KIALI_DASHBOARD
from components.model.parts.prometheus import PROMETHEUS_DASHBOARD
from components.model.parts.sample import SAMPLE_NAMESPACE

TIMEOUT_SECONDS = 10
# How long the checks wait, by default, for a mesh that answers like one coming
# back (below). Short enough that a dead stack (nothing answers) gets its first
# FAIL line within 20 s; after `minikube stop` and the next `up` the pods take
# a minute or more, so say `--wait 300` there (the end-to-end test does).
MESH_WAIT_SECONDS = 15
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
    skipped: bool = False

    def line(self) -> str:
        verdict = "SKIP" if self.skipped else "PASS" if self.passed else "FAIL"
        return f"{verdict}  {self.name:<40} {self.seconds * 1000:7.0f} ms  {self.detail}"


class NotYetError(Exception):
    """An answer that changes by itself soon: a mesh coming back, or telemetry
    that has not arrived yet. The check asks again until its wait is over."""


def _timed(name: str, probe: Callable[[], tuple[bool, str]], deadline: float = 0.0) -> Check:
    """`probe`'s answer; while it raises NotYetError, asked again every POLL_SECONDS
    until `deadline` (a time.monotonic() value) has passed."""
    started = time.monotonic()
    waited = False
    while True:
        try:
            passed, detail = probe()
        except NotYetError as answer:
            remaining = deadline - time.monotonic()
            if remaining > 0:
                time.sleep(min(POLL_SECONDS, remaining))
                waited = True
                continue
            passed, detail = False, str(answer)
        except Exception as problem:  # a check reports its failure; it never stops the others
            passed, detail = False, f"{type(problem).__name__}: {problem}"
        break
    seconds = time.monotonic() - started
    return Check(name, passed, f"{detail} after waiting {round(seconds, 1):g} s" if waited else detail, seconds)


def _skipped(name: str, reason: str) -> Check:
    return Check(name, False, f"skipped: {reason}", 0.0, skipped=True)


def _opener(url: str) -> urllib.request.OpenerDirector:
    """How to reach `url`: straight to a private or loopback address (the
    ingress on minikube's or kind's docker network, which no corporate proxy
    can reach, while urllib would send it through http_proxy: no_proxy cannot
    name a network), else the way the proxy variables say (a cloud load
    balancer's public name or address)."""
    try:
        direct = ipaddress.ip_address(urlsplit(url).hostname or "").is_private
    except ValueError:
        direct = False
    return urllib.request.build_opener(urllib.request.ProxyHandler({})) if direct else urllib.request.build_opener()


@dataclass(frozen=True)
class Answer:
    status: int
    server: str
    body: bytes


# Envoy answers 503 "no healthy upstream" while a route's Service has no ready
# endpoint, 502/504 while an upstream is starting; a refused or unreachable
# address is an ingress whose pod or announcement is not back yet. Nothing else
# (another status, a timeout, another server) changes by waiting.
COMING_BACK_STATUSES = frozenset({502, 503, 504})
COMING_BACK_ERRNOS = frozenset({errno.ECONNREFUSED, errno.ECONNRESET, errno.EHOSTUNREACH, errno.ENETUNREACH})


def _http_get(url: str, headers: Mapping[str, str] | None = None) -> Answer:
    """A GET's answer, 4xx included; raises NotYetError for the answers of a mesh coming back."""
    request = urllib.request.Request(url, headers=dict(headers or {}))
    try:
        with _opener(url).open(request, timeout=TIMEOUT_SECONDS) as response:
            answer = Answer(response.status, response.headers.get("server", ""), response.read())
    except urllib.error.HTTPError as error:
        answer = Answer(error.code, error.headers.get("server", ""), error.read())
    except urllib.error.URLError as error:
        if isinstance(error.reason, OSError) and error.reason.errno in COMING_BACK_ERRNOS:
            raise NotYetError(f"GET {url}: {error.reason.strerror or error.reason}") from error
        raise
    if answer.status in COMING_BACK_STATUSES:
        raise NotYetError(f"GET {url} -> {answer.status}, server: {answer.server or '(none)'}")
    return answer


def _get(url: str) -> tuple[int, str]:
    """Status and `server` header of a GET, 4xx included."""
    answer = _http_get(url)
    return answer.status, answer.server


def _expect(url: str, status: int) -> tuple[bool, str]:
    got, server = _get(url)
    return got == status and server == ENVOY, f"GET {url} -> {got}, server: {server or '(none)'}"


def _envoy_answers(ingress_url: str) -> tuple[bool, str]:
    """Istio's Envoy names itself `server: istio-envoy` in every answer of a
    gateway, its own 404s included (istio/istio
    pilot/pkg/networking/util/proxy_headers.go: ServerName "istio-envoy",
    ServerHeaderTransformation OVERWRITE, for every listener but a sidecar's
    outbound ones, unless meshConfig proxyHeaders.server changes it, which
    local-mesh does not)."""
    root = ingress_url.rstrip("/") + "/"
    status, server = _get(root)
    return server == ENVOY, f"GET {root} -> {status}, server: {server or '(none)'}"


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
                # A global kubectl flag (k8s.io/cli-runtime genericclioptions
                # config_flags.go, flagTimeout): an API server that does not
                # answer fails this check, not the whole run.
                "--request-timeout=10s",
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
    """Status and parsed JSON body of a GET (None if the body is not JSON), 4xx included."""
    answer = _http_get(url)
    try:
        return answer.status, json.loads(answer.body)
    except ValueError:
        return answer.status, None


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
    KIALI_DASHBOARD.output: ("Kiali answers (status API)", _kiali_running),
    PROMETHEUS_DASHBOARD.output: ("Prometheus answers (ready)", _prometheus_ready),
    GRAFANA_DASHBOARD.output: ("Grafana answers (health API)", _grafana_healthy),
    JAEGER_DASHBOARD.output: ("Jaeger answers (services API)", _jaeger_answers),
}


def send_sample_traffic(sample_url: str) -> tuple[bool, str]:
    """A few requests to the sample, each asking Envoy to trace it: a client's
    x-client-trace-id header forces a trace whatever the random sampling
    (Envoy docs, Tracing: "How to initiate a trace": "By an external client via
    the x-client-trace-id header"). Sent only if every one reached httpbin."""
    statuses = [_http_get(sample_url, {"x-client-trace-id": str(uuid.uuid4())}).status for _ in range(SAMPLE_REQUESTS)]
    return (
        all(status == 200 for status in statuses),
        f"{SAMPLE_REQUESTS} requests to {sample_url} ({', '.join(map(str, statuses))})",
    )


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
    if total == 0:
        raise NotYetError("istio_requests_total for httpbin: 0")
    return True, f"istio_requests_total for httpbin: {total:g}"


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
    raise NotYetError(f"no trace reaching httpbin among services {services or '(none)'}")


TELEMETRY_CHECKS: list[tuple[str, str, Callable[[str], tuple[bool, str]]]] = [
    (PROMETHEUS_DASHBOARD.output, "Prometheus has httpbin's requests", _prometheus_counts_httpbin),
    (JAEGER_DASHBOARD.output, "Jaeger has a trace to httpbin", _jaeger_traces_httpbin),
]
NO_SAMPLE = "this stack has no sample (sample: false)"
NO_INGRESS = "the ingress does not answer as Envoy"
NO_TRAFFIC = "no sample traffic reached httpbin"


def verify(
    outputs: Mapping[str, Any],
    telemetry_wait: float = TELEMETRY_WAIT_SECONDS,
    mesh_wait: float = MESH_WAIT_SECONDS,
    report: Callable[[Check], None] = lambda check: None,
) -> list[Check]:
    """Run every check against a stack's outputs, handing each to `report` as
    it ends. The checks of the ingress, the sample and the dashboards wait for
    a mesh coming back until `mesh_wait` seconds after the start, together;
    telemetry is waited for until `telemetry_wait` seconds after the sample's
    requests. Once the ingress does not answer as Envoy, nothing else is asked
    of it, so a dead stack ends after its first check."""
    mesh_deadline = time.monotonic() + mesh_wait
    ingress_url = str(outputs["ingressUrl"])
    sample_url = str(outputs["sampleUrl"]) if "sampleUrl" in outputs else None
    checks: list[Check] = []

    def run(name: str, probe: Callable[[], tuple[bool, str]], deadline: float, skip: str | None = None) -> bool:
        check = _skipped(name, skip) if skip else _timed(name, probe, deadline)
        checks.append(check)
        report(check)
        return check.passed

    envoy = run("ingress IP answers", functools.partial(_envoy_answers, ingress_url), mesh_deadline)
    no_ingress = None if envoy else NO_INGRESS
    # The loopback port the node publishes (localUrl), where it is not already
    # what the URLs name (on Docker Desktop they all do): the same Envoy answers on both.
    local_url = str(outputs["localUrl"]) if "localUrl" in outputs else None
    if local_url is not None and local_url.rstrip("/") != ingress_url.rstrip("/"):
        run("loopback port answers (localUrl)", functools.partial(_envoy_answers, local_url), mesh_deadline)
    no_sample = NO_SAMPLE if sample_url is None else None
    run(
        "routed path: 200 from Envoy",
        lambda: _expect(str(sample_url), 200),
        mesh_deadline,
        no_sample or no_ingress,
    )
    run("unrouted path: 404 from Envoy", lambda: _expect(ingress_url + UNROUTED_PATH, 404), mesh_deadline, no_ingress)
    run(
        "httpbin pod is in the mesh",
        lambda: _httpbin_in_mesh(str(outputs["kubeconfig"]), str(outputs["kubeContext"])),
        mesh_deadline,
        no_sample,
    )
    for output, (name, probe) in DASHBOARD_CHECKS.items():
        if output in outputs:
            run(name, functools.partial(probe, str(outputs[output])), mesh_deadline, no_ingress)
    wanted = [(name, str(outputs[output]), probe) for output, name, probe in TELEMETRY_CHECKS if output in outputs]
    if wanted:
        sent = run(
            "sample traffic sent", lambda: send_sample_traffic(str(sample_url)), mesh_deadline, no_sample or no_ingress
        )
        telemetry_deadline = time.monotonic() + telemetry_wait
        for name, url, probe in wanted:
            skip = no_sample or no_ingress or (None if sent else NO_TRAFFIC)
            run(name, functools.partial(probe, url), telemetry_deadline, skip)
    if len(outputs.get("clusters") or []) > 1:
        # Imported here: tools.crosscluster builds on this module's HTTP helpers.
        from tools.crosscluster import run_cross_cluster_checks

        run_cross_cluster_checks(outputs, run, mesh_deadline, telemetry_wait)
    return checks


def stack_outputs(stack: str | None) -> dict[str, Any]:
    """The stack's outputs, or one line that says why there are none."""
    which = f"stack {stack}" if stack else "the selected stack"
    command = ["pulumi", "stack", "output", "--json", "--show-secrets", *(["--stack", stack] if stack else [])]
    try:
        result = subprocess.run(command, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise SystemExit(
            "local-mesh verify: pulumi is not on PATH: run `make verify`, which puts .tools/bin"
            " (where `make up` fetches it) on PATH"
        ) from None
    if result.returncode != 0:
        reason = " ".join(result.stderr.split()) or f"pulumi exited with {result.returncode}"
        raise SystemExit(f"local-mesh verify: cannot read the outputs of {which}: {reason}")
    outputs = dict(json.loads(result.stdout))
    # A stack never deployed has no root stack resource, and `pulumi stack
    # output --json` prints {} (pulumi/pulumi pkg/cmd/pulumi/stack/stack_output.go,
    # getStackOutputs). Without ingressUrl there is nothing to check.
    if "ingressUrl" not in outputs:
        raise SystemExit(
            f"local-mesh verify: {which} has no outputs: it was created but never deployed"
            f" (or its first up did not finish); run `make up{f' STACK={stack}' if stack else ''}` first"
        )
    return outputs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--stack", help="the stack to verify (default: the selected stack)")
    parser.add_argument(
        "--wait",
        type=float,
        default=MESH_WAIT_SECONDS,
        metavar="SECONDS",
        help=f"how long to wait for a mesh that is coming back (default: {MESH_WAIT_SECONDS})",
    )
    arguments = parser.parse_args(argv)
    outputs = stack_outputs(arguments.stack)
    which = f"stack {arguments.stack}" if arguments.stack else "the selected stack"
    print(f"local-mesh verify: {which}, {outputs['ingressUrl']}, waiting up to {arguments.wait:g} s for the mesh")
    checks = verify(outputs, mesh_wait=arguments.wait, report=lambda check: print(check.line(), flush=True))
    failed = sum(not check.passed and not check.skipped for check in checks)
    skipped = [check.name for check in checks if check.skipped]
    print(
        (
            f"local-mesh verify: {failed} of {len(checks)} checks failed"
            if failed
            else f"local-mesh verify: all {len(checks) - len(skipped)} checks passed"
        )
        + (f", {len(skipped)} skipped" if skipped else "")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
