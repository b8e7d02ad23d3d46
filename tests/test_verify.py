"""`verify` against a local HTTP server that plays the ingress gateway, and the
stand-in kubectl for the sidecar check."""

from __future__ import annotations

import http.server
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from components.settings import parse_settings
from components.shell import INTERPRETER, access_environment, cluster_environment, parse_cluster_access, script
from tests.harness import closed_loopback_url, fake_environment, run_shell, serve_loopback, set_fake_profile
from tests.harness import raw_config as raw
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
    environment = {**machine, **cluster_environment(settings), **access_environment(settings)}
    assert run_shell(script("cluster-create.sh"), environment, INTERPRETER).returncode == 0
    access = parse_cluster_access(
        run_shell(script("cluster-access.sh"), environment, INTERPRETER).stdout, "local-mesh-dev"
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


def test_a_server_that_is_not_envoy_fails_the_http_checks(not_envoy: str, cluster: dict[str, str]) -> None:
    put_pods(cluster, [NATIVE_SIDECAR_POD])
    checks = verify.verify(outputs(not_envoy, cluster))
    assert results(checks) == {
        "ingress IP answers": True,
        "routed path: 200 from Envoy": False,
        "unrouted path: 404 from Envoy": False,
        "httpbin pod is in the mesh": True,
    }
    assert "server: nginx" in checks[1].detail


def test_a_refused_connection_fails_without_hanging(cluster: dict[str, str]) -> None:
    closed = closed_loopback_url()
    checks = verify.verify(outputs(closed, cluster))
    assert [check.passed for check in checks[:3]] == [False, False, False]
    assert "refused" in checks[0].detail.lower()
    assert all(check.seconds < verify.TIMEOUT_SECONDS for check in checks[:3])


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


def test_a_stack_without_the_sample_says_how_to_add_it() -> None:
    (check,) = verify.verify({"ingressUrl": "http://127.0.0.1:1", "kubeconfig": "", "kubeContext": "x"})
    assert not check.passed
    assert "pulumi config set sample true" in check.detail


def test_main_prints_a_line_per_check_and_exits_nonzero_on_failure(
    envoy: str, cluster: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(verify, "stack_outputs", lambda stack: outputs(envoy, cluster))
    assert verify.main(["--stack", "dev"]) == 1  # no pod yet
    printed = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in printed[:4]] == ["PASS", "PASS", "PASS", "FAIL"]
    assert printed[4] == "local-mesh verify: 1 of 4 checks failed"
    put_pods(cluster, [NATIVE_SIDECAR_POD])
    assert verify.main(["--stack", "dev"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "local-mesh verify: all 4 checks passed"
