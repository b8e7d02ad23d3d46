"""End to end on a real laptop: a throwaway stack with its own minikube profile,
preview (nothing made), up, verify, a second up with no changes, minikube stop,
preview (still stopped) and up again, destroy,
driven through Pulumi's Automation API. Opt-in (`make e2e`), because it creates
a real cluster; skipped, with the reason, wherever Docker, minikube, kubectl or
the Pulumi CLI is missing, as on the CI machine.

A second mode runs the same mesh on a cluster you already have (a kind cluster
on a laptop or in CI): `make e2e LOCAL_MESH_E2E_CONTEXT=kind-dev` (and
LOCAL_MESH_E2E_LOAD_BALANCER=none for a cluster with its own load balancer).
It installs through that context, verifies, ups again, destroys, and checks
that none of local-mesh's releases or its sample namespace is left.

A third mode builds one mesh over two minikube profiles (issue 21):
`make e2e LOCAL_MESH_E2E_CLUSTERS=2` ups a stack with `clusters: 2`, runs
verify (its checks across the clusters included), destroys, and checks that
no profile, context or network of the stack is left.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import pytest

from components.model.network import parse_address_pool
from harness.config import REPO
from harness.machine import missing_prerequisite
from tests.e2e.cleanup import clean_up
from tools.verify import verify

EXISTING_CONTEXT = "LOCAL_MESH_E2E_CONTEXT"
EXISTING_LOAD_BALANCER = "LOCAL_MESH_E2E_LOAD_BALANCER"
# How long verify waits for the mesh's pods: after `minikube stop` nothing in
# the next up waits for them (unchanged Helm releases are not awaited again,
# Service.get returns at once, `minikube start` waits for the API server and
# system pods only), and they take a minute or more to come back.
MESH_WAIT_SECONDS = 300
PASSPHRASE = "e2e"


def kept_stack(backend: Path, stack_name: str) -> str:
    """How to reach a stack the clean-up had to keep."""
    return (
        f"PULUMI_BACKEND_URL=file://{backend} PULUMI_CONFIG_PASSPHRASE={PASSPHRASE}"
        f" pulumi destroy --yes --stack {stack_name}, then pulumi stack rm --yes {stack_name}"
    )


# `minikube status` exits 85 for a profile it does not know and 7 (host,
# kubelet and API server down) for a stopped one (kubernetes/minikube v1.38.1,
# pkg/minikube/reason/exitcodes.go:130 ExGuestNotFound; cmd/minikube/cmd/status.go:51-53,160-175).
MINIKUBE_PROFILE_NOT_FOUND = 85
MINIKUBE_STOPPED = 7


def minikube_status(profile: str) -> int:
    return subprocess.run(["minikube", "status", "-p", profile, "-o", "json"], capture_output=True).returncode


@pytest.fixture(scope="module")
def stage_times() -> Iterator[dict[str, float]]:
    times: dict[str, float] = {}
    yield times
    print("\nend-to-end stage times:")
    for stage, seconds in times.items():
        print(f"  {stage:<28} {seconds:8.1f} s")


def running_images(context: str) -> set[str]:
    """The image of every container and init container of every pod outside
    kube-system (minikube's own), as the pod specs name them."""
    listed = subprocess.run(
        ["kubectl", "--context", context, "get", "pods", "--all-namespaces", "-o", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    return {
        container["image"]
        for pod in json.loads(listed.stdout)["items"]
        if pod["metadata"]["namespace"] != "kube-system"
        for container in [*(pod["spec"].get("initContainers") or []), *pod["spec"]["containers"]]
    }


def timed(times: dict[str, float], stage: str, action):  # type: ignore[no-untyped-def]
    started = time.monotonic()
    result = action()
    times[stage] = time.monotonic() - started
    return result


def throwaway_stack(tmp_path: Path) -> tuple[str, Any]:
    """A new stack of a random name, its state in `tmp_path` (the Automation API's Stack)."""
    from pulumi import automation

    stack_name = f"e2e-{uuid.uuid4().hex[:8]}"
    workspace = automation.LocalWorkspaceOptions(
        work_dir=str(REPO),
        env_vars={"PULUMI_BACKEND_URL": f"file://{tmp_path}", "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE},
    )
    return stack_name, automation.create_stack(stack_name, work_dir=str(REPO), opts=workspace)


def test_up_second_up_destroy(request: pytest.FixtureRequest, tmp_path: Path, stage_times: dict[str, float]) -> None:
    if not request.config.getoption("--run-e2e"):
        pytest.skip("end-to-end test not requested: run `make e2e` on a machine with Docker, minikube and pulumi")
    reason = missing_prerequisite()
    if reason:
        pytest.skip(f"end-to-end prerequisites missing: {reason}")

    stack_name, stack = throwaway_stack(tmp_path)
    profile = f"local-mesh-{stack_name}"
    destroyed = False
    try:
        # A preview changes nothing: on a new stack it creates no profile.
        timed(stage_times, "first preview", lambda: stack.preview(on_output=print))
        assert minikube_status(profile) == MINIKUBE_PROFILE_NOT_FOUND, f"the first preview made profile {profile}"

        up = timed(stage_times, "first up", lambda: stack.up(on_output=print))
        outputs = {key: value.value for key, value in up.outputs.items()}
        assert outputs["profile"] == profile
        pool = parse_address_pool(outputs["addressPool"])
        assert IPv4Address(outputs["ingressIp"]) in pool

        checks = timed(stage_times, "verify", lambda: verify(outputs, mesh_wait=MESH_WAIT_SECONDS))
        assert all(check.passed for check in checks), [check.line() for check in checks]
        # The `images` output is what the running pods (their sidecars included) run, and all of it is on the node.
        assert running_images(outputs["kubeContext"]) == set(outputs["images"])
        # localPort 0: the node publishes the ingress on a loopback port, and Envoy
        # answers there (verify asks it beside the IP, or it is every URL on Docker Desktop).
        assert outputs["localUrl"].startswith("http://127.0.0.1:")
        local = outputs["localUrl"]
        assert any(f"GET {local} -> " in check.detail and "server: istio-envoy" in check.detail for check in checks), [
            check.line() for check in checks
        ]

        again = timed(stage_times, "second up (no changes)", lambda: stack.up(on_output=print))
        # Every op but "same" counts, `read` included: the engine records a read
        # whose result did not change as "same" (pulumi/pulumi#2301, #2308), so
        # a `read` here means the ingress Service changed between two ups.
        changes = {op: count for op, count in (again.summary.resource_changes or {}).items() if op != "same"}
        assert changes == {}, f"a second up changed {changes}"

        # After `minikube stop` (as after a reboot) the next up starts the
        # cluster again and the mesh answers as before.
        subprocess.run(["minikube", "stop", "-p", profile], check=True, capture_output=True)
        # A preview leaves the stopped cluster stopped.
        timed(stage_times, "preview of a stopped cluster", lambda: stack.preview(on_output=print))
        assert minikube_status(profile) == MINIKUBE_STOPPED, f"a preview started the stopped profile {profile}"
        restarted = timed(stage_times, "up after minikube stop", lambda: stack.up(on_output=print))
        outputs = {key: value.value for key, value in restarted.outputs.items()}
        checks = timed(stage_times, "verify after restart", lambda: verify(outputs, mesh_wait=MESH_WAIT_SECONDS))
        assert all(check.passed for check in checks), [check.line() for check in checks]

        timed(stage_times, "destroy", lambda: stack.destroy(on_output=print))
        destroyed = True
        profiles = json.loads(
            subprocess.run(["minikube", "profile", "list", "-o", "json"], capture_output=True, text=True).stdout or "{}"
        )
        names = [entry["Name"] for entry in profiles.get("valid", []) + profiles.get("invalid", [])]
        assert profile not in names
        contexts = subprocess.run(["kubectl", "config", "get-contexts", "-o", "name"], capture_output=True, text=True)
        assert profile not in contexts.stdout.split()
        network = subprocess.run(["docker", "network", "inspect", profile], capture_output=True, text=True)
        assert network.returncode != 0, f"docker network {profile} outlived the cluster"
    finally:
        clean_up(
            None if destroyed else lambda: stack.destroy(on_output=print),
            lambda force: stack.workspace.remove_stack(stack_name, force=force),
            lambda: subprocess.run(["minikube", "delete", "-p", profile], capture_output=True, check=True),
        )


def test_on_an_existing_cluster_up_second_up_destroy(
    request: pytest.FixtureRequest, tmp_path: Path, stage_times: dict[str, float]
) -> None:
    if not request.config.getoption("--run-e2e"):
        pytest.skip("end-to-end test not requested: run `make e2e` on a machine with a cluster and pulumi")
    context = os.environ.get(EXISTING_CONTEXT)
    if not context:
        pytest.skip(f"no existing cluster named: set {EXISTING_CONTEXT} to a context of your kubeconfig")
    for tool in ("kubectl", "pulumi"):
        if shutil.which(tool) is None:
            pytest.skip(f"end-to-end prerequisites missing: {tool} is not on PATH")

    from pulumi import automation

    stack_name, stack = throwaway_stack(tmp_path)
    load_balancer = os.environ.get(EXISTING_LOAD_BALANCER, "metallb")
    stack.set_all_config(
        {
            "local-mesh:cluster": automation.ConfigValue("existing"),
            "local-mesh:kubeContext": automation.ConfigValue(context),
            "local-mesh:loadBalancer": automation.ConfigValue(load_balancer),
        }
    )

    def kubectl(*words: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["kubectl", f"--context={context}", *words], capture_output=True, text=True)

    destroyed = False
    try:
        up = timed(stage_times, "first up", lambda: stack.up(on_output=print))
        outputs = {key: value.value for key, value in up.outputs.items()}
        assert outputs["kubeContext"] == context
        assert "profile" not in outputs
        assert ("ingressIp" in outputs) or ("ingressHost" in outputs)
        if load_balancer == "metallb":
            assert IPv4Address(outputs["ingressIp"]) in parse_address_pool(outputs["addressPool"])

        checks = timed(stage_times, "verify", lambda: verify(outputs, mesh_wait=MESH_WAIT_SECONDS))
        assert all(check.passed for check in checks), [check.line() for check in checks]

        again = timed(stage_times, "second up (no changes)", lambda: stack.up(on_output=print))
        changes = {op: count for op, count in (again.summary.resource_changes or {}).items() if op != "same"}
        assert changes == {}, f"a second up changed {changes}"

        timed(stage_times, "destroy", lambda: stack.destroy(on_output=print))
        destroyed = True
        # Helm keeps each release as Secrets labelled owner=helm and name=<release>
        # (helm pkg/storage/driver: the record labels name, owner, status, version).
        left = kubectl("get", "secrets", "--all-namespaces", "--selector=owner=helm", "--output=json")
        assert left.returncode == 0, left.stderr
        names = {item["metadata"]["labels"]["name"] for item in json.loads(left.stdout)["items"]}
        assert not names & {"metallb", "istio-base", "istiod", "istio-ingressgateway", "istio-egressgateway"}
        assert kubectl("get", "namespace", "sample").returncode != 0
    finally:
        clean_up(
            None if destroyed else lambda: stack.destroy(on_output=print),
            lambda force: stack.workspace.remove_stack(stack_name, force=force),
            kept=kept_stack(tmp_path, stack_name),
        )


TWO_CLUSTERS = "LOCAL_MESH_E2E_CLUSTERS"


def stack_profiles(stack_name: str) -> list[str]:
    """Every minikube profile of this throwaway stack: they are named from the
    stack (the first `local-mesh-<stack>`), whatever the others are called."""
    listed = subprocess.run(["minikube", "profile", "list", "-o", "json"], capture_output=True, text=True)
    profiles = json.loads(listed.stdout or "{}")
    names = [entry["Name"] for entry in profiles.get("valid", []) + profiles.get("invalid", [])]
    return [name for name in names if name.startswith(f"local-mesh-{stack_name}")]


def test_two_clusters_up_verify_destroy(
    request: pytest.FixtureRequest, tmp_path: Path, stage_times: dict[str, float]
) -> None:
    """`clusters: 2` on one laptop: two profiles on one docker network, one
    mesh; verify's checks across them (tools/crosscluster.py) must pass; destroy
    leaves no profile, context or network of the stack."""
    if not request.config.getoption("--run-e2e"):
        pytest.skip("end-to-end test not requested: run `make e2e` on a machine with Docker, minikube and pulumi")
    clusters = os.environ.get(TWO_CLUSTERS)
    if not clusters:
        pytest.skip(f"two-cluster mode not requested: set {TWO_CLUSTERS}=2 (two minikube profiles at once)")
    reason = missing_prerequisite()
    if reason:
        pytest.skip(f"end-to-end prerequisites missing: {reason}")

    from pulumi import automation

    stack_name, stack = throwaway_stack(tmp_path)
    stack.set_config("local-mesh:clusters", automation.ConfigValue(clusters))

    def delete_profiles() -> None:
        for profile in stack_profiles(stack_name):
            subprocess.run(["minikube", "delete", "-p", profile], capture_output=True, check=True)

    destroyed = False
    try:
        up = timed(stage_times, f"{clusters} clusters: first up", lambda: stack.up(on_output=print))
        outputs = {key: value.value for key, value in up.outputs.items()}
        listed = outputs["clusters"]
        assert len(listed) == int(clusters)
        for field in ("name", "profile", "kubeContext", "ingressAddress", "eastWestAddress", "network"):
            assert len({cluster[field] for cluster in listed}) == len(listed), field
        assert listed[0]["profile"] == outputs["profile"] == f"local-mesh-{stack_name}"

        checks = timed(
            stage_times, f"{clusters} clusters: verify", lambda: verify(outputs, mesh_wait=MESH_WAIT_SECONDS)
        )
        assert all(check.passed for check in checks), [check.line() for check in checks]
        assert any(check.name.endswith("/hello reaches v1 and v2") for check in checks)

        timed(stage_times, f"{clusters} clusters: destroy", lambda: stack.destroy(on_output=print))
        destroyed = True
        assert stack_profiles(stack_name) == []
        contexts = subprocess.run(["kubectl", "config", "get-contexts", "-o", "name"], capture_output=True, text=True)
        for cluster in listed:
            assert cluster["kubeContext"] not in contexts.stdout.split()
            network = subprocess.run(["docker", "network", "inspect", cluster["profile"]], capture_output=True)
            assert network.returncode != 0, f"docker network {cluster['profile']} outlived the clusters"
    finally:
        clean_up(
            None if destroyed else lambda: stack.destroy(on_output=print),
            lambda force: stack.workspace.remove_stack(stack_name, force=force),
            delete_profiles,
        )
