"""What an existing cluster already has, read before the plan: istio-cni's
platform from the nodes, and the Gateway API CRDs the cluster has or local-mesh
installs. The pure parts against the API server's JSON; the real program under
Pulumi's mocks against the stand-in kubectl."""

from __future__ import annotations

import copy
import http.server
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pulumi
import pytest
import yaml

from components.checks import download, preflight
from components.checks.discovery import (
    BUNDLE_VERSION_ANNOTATION,
    GATEWAY_API_CRD_NAMES,
    GATEWAY_API_RECEIPT,
    DiscoveryError,
    detect_platform,
    gateway_api_problems,
    recognise_node,
)
from components.checks.gateway_api import gateway_api_download_problems
from components.model.parts.istio import GATEWAY_API_CRDS_URL
from components.model.plan import ClusterState, Plan, release_plan
from components.model.settings import CNI_PLATFORMS, PLATFORMS, ConfigError, parse_settings
from harness.config import raw_config, settings_for
from harness.program import ProgramFailedError, ProgramRun, run_program
from harness.servers import closed_loopback_url, serve_directory, serve_loopback
from harness.world import (
    GATEWAY_API_DATA,
    ISTIO_DATA,
    add_existing_cluster,
    fake_state,
    gateway_api_bundle,
    mirror_path,
    mirrored_reader,
    node_object,
    upstream,
)

CONFIG_FILE = "kubernetes:yaml/v2:ConfigFile"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"


def node(
    name: str = "n1",
    kubelet: str = "v1.33.1",
    os_image: str = "Ubuntu 24.04.1 LTS",
    runtime: str = "containerd://2.1.4",
    provider_id: str | None = None,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A Node as the API server returns it, with the fields a kubelet reports
    (k8s.io/api core/v1 types.go: NodeSystemInfo, NodeSpec.ProviderID)."""
    item = node_object(name, "172.18.0.2", "8", "16318444Ki")
    item["metadata"]["labels"].update(labels or {})
    if provider_id:
        item["spec"]["providerID"] = provider_id
    item["status"]["nodeInfo"] = {
        "architecture": "amd64",
        "containerRuntimeVersion": runtime,
        "kernelVersion": "6.8.0-45-generic",
        "kubeletVersion": kubelet,
        "operatingSystem": "linux",
        "osImage": os_image,
    }
    return item


# Nodes as each distribution's kubelet reports them.
K3D = node("k3d-dev-server-0", "v1.33.4+k3s1", "K3s v1.33.4+k3s1", "containerd://2.0.5-k3s2", "k3s://k3d-dev-server-0")
K3S = node("pi", "v1.33.4+k3s1", "Debian GNU/Linux 12 (bookworm)", "containerd://2.0.5-k3s2", "k3s://pi")
GKE = node(
    "gke-dev-default-pool-1a2b3c4d-x1y2",
    "v1.33.5-gke.1162000",
    "Container-Optimized OS from Google",
    "containerd://2.0.6",
    "gce://my-project/europe-west1-b/gke-dev-default-pool-1a2b3c4d-x1y2",
)
KIND = node(
    "dev-control-plane",
    "v1.33.1",
    "Debian GNU/Linux 12 (bookworm)",
    "containerd://2.1.1",
    "kind://docker/dev/dev-control-plane",
)
MINIKUBE_DOCKER = node(
    "other", "v1.35.1", "Ubuntu 22.04.5 LTS", "docker://28.4.0", labels={"minikube.k8s.io/name": "other"}
)
MINIKUBE_CONTAINERD = node(
    "other", "v1.37.0", "Ubuntu 22.04.5 LTS", "containerd://2.1.4", labels={"minikube.k8s.io/name": "other"}
)
EKS = node(
    "ip-10-0-1-23.eu-west-1.compute.internal",
    "v1.33.5-eks-113cf36",
    "Amazon Linux 2023.8",
    "containerd://1.7.27",
    "aws:///eu-west-1a/i-0abc",
)
GCE_KUBEADM = node(
    "vm-1", "v1.33.1", "Ubuntu 24.04.1 LTS", "containerd://2.1.4", "gce://my-project/europe-west1-b/vm-1"
)


@pytest.mark.parametrize(
    ("item", "recognised", "platform"),
    [
        (K3D, "k3d", "k3d"),
        (K3S, "k3s", "k3s"),
        (GKE, "gke", "gke"),
        (KIND, "kind", None),
        (MINIKUBE_DOCKER, "minikube", "minikube"),
        (MINIKUBE_CONTAINERD, "minikube without docker", None),
        (EKS, None, None),
        (GCE_KUBEADM, None, None),
    ],
    ids=["k3d", "k3s", "gke", "kind", "minikube-docker", "minikube-containerd", "eks", "kubeadm-on-gce"],
)
def test_each_distribution_is_recognised_from_what_its_kubelet_reports(
    item: dict[str, Any], recognised: str | None, platform: str | None
) -> None:
    assert recognise_node(item) == (recognised, platform)
    second = copy.deepcopy(item)
    second["metadata"]["name"] = "second"
    assert detect_platform("c", [item, second]) == (recognised, platform)


def test_nodes_that_disagree_are_one_line_naming_the_key() -> None:
    with pytest.raises(DiscoveryError) as error:
        detect_platform("mixed", [K3S, KIND])
    message = str(error.value)
    assert message.startswith("local-mesh:platform = 'auto' cannot choose: the nodes of kubeContext mixed report ")
    assert "dev-control-plane: kind, pi: k3s" in message
    assert "\n" not in message


def test_the_platforms_offered_are_the_profiles_istio_cnis_chart_ships() -> None:
    profiles = upstream(f"{ISTIO_DATA}/istio-cni/files").glob("profile-platform-*.yaml")
    assert sorted(CNI_PLATFORMS) == sorted(path.stem.removeprefix("profile-platform-") for path in profiles)
    assert set(PLATFORMS) == {"auto", "none", *CNI_PLATFORMS}


@pytest.mark.parametrize(
    ("overrides", "value", "accepted"),
    [
        ({"platform": "k3"}, "k3", "one of auto, none, gke, k3d, k3s, microk8s, minikube, openshift"),
        ({"platform": "k3s"}, "k3s", "auto or minikube with cluster minikube"),
        ({"platform": "none"}, "none", "auto or minikube with cluster minikube"),
    ],
)
def test_a_bad_platform_is_one_line(overrides: dict[str, str], value: str, accepted: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_settings(raw_config(**overrides), "dev")
    message = str(error.value)
    assert message.startswith(f"local-mesh:platform = {value!r} is not valid: expected ")
    assert accepted in message and "\n" not in message


# ---- Gateway API CRDs ---------------------------------------------------------------------------


def upstream_crds() -> list[dict[str, Any]]:
    """Gateway API v1.6.0's standard-channel CRDs, as the API server returns them."""
    documents = [
        document
        for path in sorted(upstream(f"{GATEWAY_API_DATA}/standard").glob("*.yaml"))
        for document in yaml.safe_load_all(path.read_text())
        if document
    ]
    return [document for document in documents if document["kind"] == "CustomResourceDefinition"]


def at_version(crds: list[dict[str, Any]], version: str | None) -> list[dict[str, Any]]:
    changed = copy.deepcopy(crds)
    for crd in changed:
        annotations = crd["metadata"].setdefault("annotations", {})
        if version is None:
            annotations.pop(BUNDLE_VERSION_ANNOTATION, None)
        else:
            annotations[BUNDLE_VERSION_ANNOTATION] = version
    return changed


def test_the_crds_looked_for_are_the_release_local_mesh_installs() -> None:
    crds = upstream_crds()
    assert sorted(crd["metadata"]["name"] for crd in crds) == sorted(GATEWAY_API_CRD_NAMES)
    # The annotation read is the one the release carries on every CRD.
    assert {crd["metadata"]["annotations"][BUNDLE_VERSION_ANNOTATION] for crd in crds} == {"v1.6.0"}


@pytest.mark.parametrize("version", ["v1.6.0", "v1.7.2", "v1.6.0-rc.1", "v2.0.0"])
def test_crds_istio_accepts_pass(version: str) -> None:
    assert gateway_api_problems("c", at_version(upstream_crds(), version), "1.31.1") == []


def test_crds_older_than_istio_needs_are_named_with_the_minimum() -> None:
    problems = gateway_api_problems("gke-dev", at_version(upstream_crds(), "v1.5.1"), "1.31.1")
    assert problems == [
        "kubeContext gke-dev: the cluster's CRD tcproutes.gateway.networking.k8s.io is at v1.5.1, older than "
        "the v1.6.0 Istio 1.31.1 needs (it would ignore it): upgrade the cluster's Gateway API CRDs "
        "(local-mesh installs v1.6.0 only where there are none)"
    ]
    old = gateway_api_problems("c", at_version(upstream_crds(), "v1.3.0"), "1.31.1")
    assert sorted(line.split(" ")[5] for line in old) == sorted(
        f"{plural}.gateway.networking.k8s.io" for plural in ("backendtlspolicies", "tcproutes", "tlsroutes")
    )


def test_a_crd_without_its_bundle_version_is_refused() -> None:
    problems = gateway_api_problems("c", at_version(upstream_crds(), None), "1.31.1")
    assert len(problems) == 4
    assert all(f"has no {BUNDLE_VERSION_ANNOTATION} annotation" in line for line in problems)


# ---- the real program, ambient on an existing cluster ---------------------------------------------


def receipt() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": GATEWAY_API_RECEIPT, "namespace": "istio-system"},
        "data": {"bundleVersion": "v1.6.0", "url": GATEWAY_API_CRDS_URL},
    }


def ambient_on(
    tmp_path: Path,
    nodes: tuple[dict[str, Any], ...] = (KIND,),
    objects: tuple[dict[str, Any], ...] = (),
    **overrides: Any,
) -> ProgramRun:
    root = tmp_path / "machine"
    add_existing_cluster(root, "dev", nodes=nodes, objects=objects)
    config = {
        "cluster": "existing",
        "kubeContext": "dev",
        "loadBalancer": "none",
        "istioProfile": "ambient",
        "observability": "none",
        "sample": False,
        **overrides,
    }
    return run_program("dev", root, config, machine={"FAKE_CLUSTER_LOAD_BALANCER_INGRESS": '[{"ip": "172.18.0.2"}]'})


def cni_values(run: ProgramRun) -> dict[str, Any]:
    return dict(run.releases()["istio-cni"].inputs["values"])


@pytest.mark.parametrize(
    ("nodes", "platform"),
    [((K3D,), "k3d"), ((K3S,), "k3s"), ((GKE,), "gke"), ((MINIKUBE_DOCKER,), "minikube"), ((KIND,), None)],
    ids=["k3d", "k3s", "gke", "minikube", "kind"],
)
def test_istio_cni_gets_the_platform_the_nodes_report(
    tmp_path: Path, nodes: tuple[dict[str, Any], ...], platform: str | None
) -> None:
    values = cni_values(ambient_on(tmp_path, nodes))
    assert values.get("platform") == platform


def test_the_platform_key_overrides_what_the_nodes_report(tmp_path: Path) -> None:
    assert cni_values(ambient_on(tmp_path / "a", (K3D,), platform="k3s"))["platform"] == "k3s"
    assert "platform" not in cni_values(ambient_on(tmp_path / "b", (K3D,), platform="none"))


def test_the_platform_is_known_in_preview(tmp_path: Path) -> None:
    root = tmp_path / "machine"
    add_existing_cluster(root, "dev", nodes=(K3D,))
    config = {"cluster": "existing", "kubeContext": "dev", "loadBalancer": "none", "istioProfile": "ambient"}
    run = run_program("dev", root, config, preview=True)
    assert run.releases()["istio-cni"].inputs["values"]["platform"] == "k3d"


def test_the_nodes_are_read_only_for_ambient_and_auto(tmp_path: Path) -> None:
    def node_reads(run: ProgramRun) -> int:
        calls = fake_state(Path(run.mocks.environment["FAKE_CLI_STATE"]))["calls"]
        return sum(1 for call in calls if call[:3] == ["kubectl", "get", "nodes"])

    # existing-cluster-access.sh reads the nodes too (the node IP), in every case.
    auto = node_reads(ambient_on(tmp_path / "a", (K3D,), preflight=False))
    chosen = node_reads(ambient_on(tmp_path / "b", (K3D,), preflight=False, platform="k3d"))
    sidecars = node_reads(ambient_on(tmp_path / "c", (K3D,), preflight=False, istioProfile="minimal"))
    assert auto == chosen + 1 and chosen == sidecars


def test_where_the_cluster_has_no_gateway_api_crds_they_are_installed_marked_and_kept_on_destroy(
    tmp_path: Path,
) -> None:
    run = ambient_on(tmp_path)
    crds = run.find(CONFIG_FILE, "gateway-api-crds")
    assert crds.inputs["file"] == GATEWAY_API_CRDS_URL
    assert run.depends_on(run.releases()["istiod"], crds)
    marker = run.find(CONFIG_MAP, "gateway-api-crds-receipt")
    assert marker.inputs["metadata"] == {"name": GATEWAY_API_RECEIPT, "namespace": "istio-system"}
    # The receipt first (a failure half-way still marks the CRDs as this stack's), in the stack's namespace.
    assert run.depends_on(crds, marker)
    assert run.depends_on(marker, run.find("kubernetes:core/v1:Namespace", "istio-system"))
    # What the engine does for each CRD the provider creates inside the ConfigFile.
    (transform,) = run.mocks.transforms["gateway-api-crds"]
    child = pulumi_child("gateways.gateway.networking.k8s.io")
    assert transform(child).opts.retain_on_delete is True
    assert crds.deleted_with == ""


def pulumi_child(name: str) -> Any:

    return pulumi.ResourceTransformArgs(
        True, "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition", name, {}, pulumi.ResourceOptions()
    )


def test_crds_this_stack_installed_stay_in_its_state_on_the_next_up(tmp_path: Path) -> None:
    """The second up sees the CRDs it installed, and its receipt: it keeps
    them (no churn, nothing dropped from the state)."""
    run = ambient_on(tmp_path, objects=(*upstream_crds(), receipt()))
    assert run.find(CONFIG_FILE, "gateway-api-crds").inputs["file"] == GATEWAY_API_CRDS_URL
    assert run.find(CONFIG_MAP, "gateway-api-crds-receipt")


@pytest.mark.parametrize("version", ["v1.6.0", "v1.7.0"])
def test_crds_the_cluster_has_are_used_not_installed_nor_deleted(tmp_path: Path, version: str) -> None:
    run = ambient_on(tmp_path, objects=tuple(at_version(upstream_crds(), version)))
    assert run.of_type(CONFIG_FILE) == []
    assert run.of_type(CONFIG_MAP) == []
    assert run.releases()["istiod"].inputs["name"] == "istiod"


def test_crds_older_than_istio_needs_stop_the_program_before_anything_is_registered(tmp_path: Path) -> None:
    with pytest.raises(ProgramFailedError) as failure:
        ambient_on(tmp_path, objects=tuple(at_version(upstream_crds(), "v1.5.1")))
    assert failure.value.registrations == []
    message = str(failure.value)
    assert message.startswith("local-mesh: kubeContext dev: the cluster's CRD tcproutes.gateway.networking.k8s.io")
    assert "\n" not in message


def test_an_unreadable_cluster_is_one_line(tmp_path: Path) -> None:
    root = tmp_path / "machine"
    add_existing_cluster(root, "dev", running=False)
    config = {"cluster": "existing", "kubeContext": "dev", "loadBalancer": "none", "istioProfile": "ambient"}
    with pytest.raises(ProgramFailedError) as failure:
        run_program("dev", root, {**config, "preflight": False})
    assert failure.value.registrations == []
    assert str(failure.value) == (
        "local-mesh:kubeContext dev cannot be read to choose istio-cni's platform and the Gateway API CRDs "
        "(The connection to the server 127.0.0.1:40123 was refused - did you specify the right host or port?): "
        "check the context with `kubectl --context dev get nodes`"
    )


# ---- pre-flight: the CRDs' URL, before anything is created -----------------------------------------

MIRRORED_BUNDLE = f"/{mirror_path(GATEWAY_API_CRDS_URL)}"


def ambient_plan(**overrides: str) -> Plan:
    return release_plan(settings_for("ambient", "lean", **overrides))


@pytest.fixture
def mirror(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, list[str]]]:
    """The test download mirror pre-flight reads instead of GitHub; yields the file it serves and the paths asked."""
    with serve_directory(tmp_path / "mirror") as (url, root, requests):
        monkeypatch.setattr(download, "download_text", mirrored_reader(url))
        bundle = root / MIRRORED_BUNDLE.lstrip("/")
        bundle.parent.mkdir(parents=True)
        yield bundle, requests


def test_the_crds_url_is_fetched_once_and_must_hold_the_pinned_release(mirror: tuple[Path, list[str]]) -> None:
    bundle, requests = mirror
    bundle.write_text(gateway_api_bundle())
    assert gateway_api_download_problems(ambient_plan()) == []
    assert requests == [MIRRORED_BUNDLE]


def test_nothing_is_fetched_where_nothing_is_installed(mirror: tuple[Path, list[str]]) -> None:
    _, requests = mirror
    assert gateway_api_download_problems(release_plan(settings_for("demo", "lean"))) == []
    existing = settings_for("ambient", "lean", cluster="existing", kubeContext="dev", loadBalancer="none")
    assert gateway_api_download_problems(release_plan(existing, ClusterState(gateway_api_crds=True))) == []
    assert requests == []


@pytest.mark.parametrize(
    ("served", "why"),
    [
        (None, "(HTTP 404 File not found)"),
        ("<html><title>Sign in to the guest Wi-Fi</title></html>", "does not hold the Gateway API v1.6.0 CRDs"),
        ("older", "does not hold the Gateway API v1.6.0 CRDs"),
    ],
    ids=["missing", "portal-page", "another-release"],
)
def test_a_crds_url_that_does_not_answer_with_the_crds_is_one_line(
    mirror: tuple[Path, list[str]], served: str | None, why: str
) -> None:
    bundle, _ = mirror
    if served == "older":
        served = gateway_api_bundle().replace("bundle-version: v1.6.0", "bundle-version: v1.5.1")
    if served is not None:
        bundle.write_text(served)
    (line,) = gateway_api_download_problems(ambient_plan())
    assert why in line
    assert "which local-mesh:istioProfile ambient installs during up" in line
    assert "\n" not in line


def test_a_crds_url_that_never_answers_stops_at_the_time_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(download, "DOWNLOAD_TIMEOUT_SECONDS", 0.3)
    with socket.socket() as silent:  # accepts connections (the backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        monkeypatch.setattr(download, "download_text", mirrored_reader(f"http://127.0.0.1:{silent.getsockname()[1]}"))
        started = time.monotonic()
        (line,) = gateway_api_download_problems(ambient_plan())
    assert time.monotonic() - started < 5
    assert line.startswith(f"cannot download the Gateway API CRDs {GATEWAY_API_CRDS_URL} (")
    assert "(no answer within 0.3 s)" in line


class _Proxy(http.server.BaseHTTPRequestHandler):
    """A forward proxy on loopback: it answers an absolute-URI request itself (RFC 9112 3.2.2)."""

    asked: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        type(self).asked.append(self.path)
        body = gateway_api_bundle().encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_the_crds_url_is_fetched_through_the_proxy_the_environment_names(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    url = "http://downloads.example.invalid/gateway-api/standard-install.yaml"
    with serve_loopback(_Proxy) as proxy:
        monkeypatch.setenv("http_proxy", proxy)
        assert gateway_api_download_problems(ambient_plan(), url) == []
    assert _Proxy.asked == [url]


def test_preflight_stops_before_anything_is_created_when_the_crds_cannot_be_fetched(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(download, "download_text", mirrored_reader(closed_loopback_url()))
    monkeypatch.setattr(preflight, "find_problems", lambda *_: ([], []))
    monkeypatch.setattr(preflight, "gather_facts", lambda _: None)
    monkeypatch.setattr(preflight, "published_chart_problems", lambda _: [])
    stack = settings_for("ambient", "lean")
    refusal = f"cannot download the Gateway API CRDs {re.escape(GATEWAY_API_CRDS_URL)} \\(.*Connection refused"
    with pytest.raises(preflight.PreflightError, match=refusal):
        preflight.run_preflight(stack, release_plan(stack))
