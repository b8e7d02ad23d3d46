"""`verify` of a stack of two clusters, against loopback servers playing both:
each cluster's ingress (helloworld answering as samples/helloworld/src/app.py
does, balanced over both clusters' endpoints unless the other cluster's are
missing), its east-west gateway's port, and the first cluster's Prometheus,
which counts the requests that crossed as each destination's proxy reports
them (and, without federation, sees only its own cluster's reports)."""

from __future__ import annotations

import contextlib
import functools
import http.server
import itertools
import json
import random
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from harness.servers import EnvoyAnswers, serve_loopback
from tools import crosscluster, verify

VERSION_OF = {"cluster1": "v1", "cluster2": "v2"}
# Where Istio's east-west gateway takes cross-network traffic: istio/istio
# samples/multicluster/expose-services.yaml (1.31.0-rc.0), port 15443.
ISTIO_EAST_WEST_PORT = 15443


@dataclass
class Mesh:
    """What both clusters' stand-ins share: which requests crossed, and how."""

    isolated: set[str] = field(default_factory=set)  # clusters whose ingress reaches only its own endpoints
    plaintext: bool = False  # the crossing requests arrive without mutual TLS
    federated: bool = True  # the first cluster's Prometheus also has the second's series
    hello_status: int = 200
    # (source cluster, destination cluster) -> requests, as the destination's proxy counts them.
    served: dict[tuple[str, str], int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def series(self) -> list[dict[str, Any]]:
        policy = "none" if self.plaintext else "mutual_tls"
        return [
            {
                "metric": {
                    "source_cluster": source,
                    "destination_cluster": destination,
                    # Inside one cluster the sidecars speak mutual TLS either way.
                    "connection_security_policy": "mutual_tls" if source == destination else policy,
                },
                "value": [1764000000.0, str(count)],
            }
            for (source, destination), count in self.served.items()
            if self.federated or destination == "cluster1"
        ]


# helloworld's Flask app answers text/html (Flask's default mimetype).
HTML = "text/html; charset=utf-8"


def ingress_of(mesh: Mesh, cluster: str) -> type[http.server.BaseHTTPRequestHandler]:
    endpoints = [cluster] if cluster in mesh.isolated else sorted(VERSION_OF)
    turns = itertools.cycle(endpoints)

    class Ingress(EnvoyAnswers):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if parts.path == "/hello" and mesh.hello_status == 200:
                with mesh.lock:
                    destination = next(turns)
                    mesh.served[(cluster, destination)] = mesh.served.get((cluster, destination), 0) + 1
                version = VERSION_OF[destination]
                self.answer(200, HTML, f"Hello version: {version}, instance: helloworld-{version}-6d8b4c9f5-x2x7q\n")
            elif parts.path == "/hello":
                self.answer(mesh.hello_status, HTML, "")
            elif parts.path == "/prometheus/-/ready" and cluster == "cluster1":
                self.answer(200, "text/plain", "Prometheus Server is Ready.\n")
            elif parts.path == "/prometheus/api/v1/query" and cluster == "cluster1":
                assert parse_qs(parts.query)["query"] == [crosscluster.CROSSING_REQUESTS_QUERY]
                body = {"status": "success", "data": {"resultType": "vector", "result": mesh.series()}}
                self.answer(200, "application/json", json.dumps(body))
            else:
                self.answer(404, HTML, "")

    return Ingress


@contextlib.contextmanager
def east_west_gateway() -> Iterator[str]:
    """A listener on the east-west port of a loopback address of its own
    (all of 127.0.0.0/8 is loopback on Linux), as a gateway's LoadBalancer IP."""
    while True:
        address = f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(1, 254)}"
        listener = socket.socket()
        try:
            listener.bind((address, ISTIO_EAST_WEST_PORT))
            break
        except OSError:
            listener.close()
    with listener:
        listener.listen(16)
        yield address


def closed_east_west() -> str:
    """A loopback address where nothing listens on the east-west port."""
    while True:
        address = f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(1, 254)}"
        with socket.socket() as probe, contextlib.suppress(OSError):
            probe.bind((address, ISTIO_EAST_WEST_PORT))
            return address


@pytest.fixture
def stack() -> Iterator[Any]:
    """Starts the two clusters' stand-ins for a Mesh; returns the stack's outputs."""
    with contextlib.ExitStack() as servers:

        def start(mesh: Mesh, east_west_down: str | None = None, prometheus: bool = True) -> dict[str, Any]:
            clusters = []
            for index, name in enumerate(sorted(VERSION_OF)):
                base = servers.enter_context(serve_loopback(ingress_of(mesh, name)))
                east_west = closed_east_west() if name == east_west_down else servers.enter_context(east_west_gateway())
                clusters.append(
                    {
                        "name": name,
                        "profile": f"local-mesh-dev{'' if index == 0 else f'-{index + 1}'}",
                        "kubeContext": f"local-mesh-dev{'' if index == 0 else f'-{index + 1}'}",
                        "ingressAddress": base.removeprefix("http://"),
                        "eastWestAddress": east_west,
                        "network": f"network{index + 1}",
                    }
                )
            first = f"http://{clusters[0]['ingressAddress']}"
            outputs = {"ingressUrl": first, "kubeconfig": "", "kubeContext": "local-mesh-dev", "clusters": clusters}
            if prometheus:
                outputs["prometheusUrl"] = f"{first}/prometheus/"
            return outputs

        yield start


CROSS_CLUSTER_CHECKS = [
    "cluster1: /hello reaches v1 and v2",
    "cluster2: /hello reaches v1 and v2",
    "cluster1: east-west gateway listens",
    "cluster2: east-west gateway listens",
    "mTLS across clusters (Prometheus)",
]


def cross_cluster(checks: list[verify.Check]) -> dict[str, verify.Check]:
    return {check.name: check for check in checks if check.name in CROSS_CLUSTER_CHECKS}


def failed(checks: list[verify.Check]) -> list[str]:
    return [check.line() for check in checks if not check.passed and not check.skipped]


def test_parse_hello_reads_the_samples_answer() -> None:
    assert crosscluster.parse_hello(b"Hello version: v2, instance: helloworld-v2-7855866d4f-mk5zp\n") == "v2"
    assert crosscluster.parse_hello(b"no healthy upstream") is None
    assert crosscluster.parse_hello(b"Hello version: v1") is None


def test_two_working_clusters_pass_every_cross_cluster_check(stack: Any) -> None:
    mesh = Mesh()
    checks = verify.verify(stack(mesh), telemetry_wait=1, mesh_wait=1)
    assert [check.name for check in checks][-5:] == CROSS_CLUSTER_CHECKS
    assert failed(checks) == []
    found = cross_cluster(checks)
    assert found["cluster1: /hello reaches v1 and v2"].detail.endswith(": v1 x1, v2 x1")
    assert found["mTLS across clusters (Prometheus)"].detail == (
        "mutual TLS across clusters: cluster1 -> cluster2 1, cluster2 -> cluster1 1"
    )
    # Bounded: each ingress was asked only until both versions answered.
    assert sum(mesh.served.values()) == 4


def test_one_clusters_version_missing_fails_with_one_clear_line(stack: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """cluster2's ingress never reaches cluster1's endpoints (its remote secret,
    or the east-west route, is missing): cluster2's check fails, naming what it
    never heard and who serves it, after HELLO_REQUESTS requests."""
    mesh = Mesh(isolated={"cluster2"})
    outputs = stack(mesh)
    checks = verify.verify(outputs, telemetry_wait=0.2, mesh_wait=0)
    found = cross_cluster(checks)
    assert found["cluster1: /hello reaches v1 and v2"].passed
    missing = found["cluster2: /hello reaches v1 and v2"]
    assert not missing.passed
    base = f"http://{outputs['clusters'][1]['ingressAddress']}/hello"
    assert missing.detail == f"20 requests to {base} answered v2 x20; never v1 (served by cluster1)"
    assert mesh.served[("cluster2", "cluster2")] == crosscluster.HELLO_REQUESTS
    # And Prometheus has no request from cluster2 into cluster1.
    assert not found["mTLS across clusters (Prometheus)"].passed
    verify_main_prints(outputs, capsys, "cluster2: /hello reaches v1 and v2")


def verify_main_prints(outputs: dict[str, Any], capsys: pytest.CaptureFixture[str], failing: str) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(verify, "stack_outputs", lambda stack: outputs)
        patch.setattr(verify, "verify", functools.partial(verify.verify, telemetry_wait=0.2))
        assert verify.main(["--stack", "dev", "--wait", "0"]) == 1
    lines = [line for line in capsys.readouterr().out.splitlines() if failing in line]
    assert len(lines) == 1 and lines[0].startswith("FAIL"), lines


def test_crossing_requests_without_mutual_tls_fail_at_once(stack: Any) -> None:
    checks = verify.verify(stack(Mesh(plaintext=True)), telemetry_wait=30, mesh_wait=1)
    mtls = cross_cluster(checks)["mTLS across clusters (Prometheus)"]
    assert not mtls.passed and mtls.seconds < 5
    assert mtls.detail == (
        "1 requests from cluster1 to cluster2 arrived without mutual TLS (connection_security_policy=none)"
    )
    assert failed(checks) == [mtls.line()]


def test_without_the_second_clusters_metrics_the_crossing_from_the_first_is_not_proven(stack: Any) -> None:
    """Without federation cluster1's Prometheus sees only what cluster1's own
    proxies report: cluster2's requests into cluster1, not cluster1's into cluster2."""
    checks = verify.verify(stack(Mesh(federated=False)), telemetry_wait=0.3, mesh_wait=1)
    mtls = cross_cluster(checks)["mTLS across clusters (Prometheus)"]
    assert not mtls.passed
    assert mtls.detail.startswith("no mutual TLS request from cluster1 to another cluster in Prometheus after waiting")


def test_an_east_west_gateway_that_does_not_listen_fails(stack: Any) -> None:
    checks = verify.verify(stack(Mesh(), east_west_down="cluster2"), telemetry_wait=1, mesh_wait=0)
    down = cross_cluster(checks)["cluster2: east-west gateway listens"]
    assert not down.passed and "Connection refused" in down.detail and ":15443" in down.detail
    assert failed(checks) == [down.line()]


def test_an_ingress_that_does_not_answer_as_helloworld_fails_at_once(stack: Any) -> None:
    checks = verify.verify(stack(Mesh(hello_status=404)), telemetry_wait=30, mesh_wait=30)
    found = cross_cluster(checks)
    hello = found["cluster1: /hello reaches v1 and v2"]
    assert not hello.passed and "-> 404, not helloworld's answer" in hello.detail
    assert hello.seconds < 5
    assert found["mTLS across clusters (Prometheus)"].detail == f"skipped: {crosscluster.NO_HELLO_TRAFFIC}"


def test_without_prometheus_the_mtls_check_is_skipped_with_its_reason(stack: Any) -> None:
    checks = verify.verify(stack(Mesh(), prometheus=False), telemetry_wait=1, mesh_wait=1)
    mtls = cross_cluster(checks)["mTLS across clusters (Prometheus)"]
    assert mtls.skipped and mtls.detail == f"skipped: {crosscluster.NO_PROMETHEUS}"
    assert failed(checks) == []


def test_one_cluster_in_the_clusters_output_adds_no_check(stack: Any) -> None:
    outputs = stack(Mesh())
    one = {**outputs, "clusters": outputs["clusters"][:1]}
    assert cross_cluster(verify.verify(one, telemetry_wait=1, mesh_wait=1)) == {}
