"""`make verify`: prove the selected stack's mesh works, from its outputs alone.

    python -m tools.verify [--stack NAME]

Reads `pulumi stack output` of that stack and touches nothing else: it sends
three HTTP requests to the ingress and asks the stack's own kube context (via
the kubeconfig output) whether the httpbin pod is in the mesh (its sidecar, or
ambient redirection). One line
per check with its time; exits 1 if any check fails.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from components.sample import SAMPLE_NAMESPACE

TIMEOUT_SECONDS = 10
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


def verify(outputs: Mapping[str, Any]) -> list[Check]:
    """Run every check against a stack's outputs."""
    if "sampleUrl" not in outputs:
        return [
            Check("sample deployed", False, "this stack has no sample: pulumi config set sample true, then up", 0.0)
        ]
    ingress_url = str(outputs["ingressUrl"])
    return [
        _timed("ingress IP answers", lambda: _accepts_connections(ingress_url)),
        _timed("routed path: 200 from Envoy", lambda: _expect(str(outputs["sampleUrl"]), 200)),
        _timed("unrouted path: 404 from Envoy", lambda: _expect(ingress_url + UNROUTED_PATH, 404)),
        _timed(
            "httpbin pod is in the mesh",
            lambda: _httpbin_in_mesh(str(outputs["kubeconfig"]), str(outputs["kubeContext"])),
        ),
    ]


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
