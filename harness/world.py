"""The stand-in world: the stand-in CLIs' environment and state (profiles,
networks, an existing cluster's nodes and pods), the upstream reference data,
and loopback copies of what the program downloads (chart indexes, Istio's
dashboards, the Gateway API CRDs), read through the program's download door."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import urllib.parse
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from components.checks.dashboards import ISTIO_GRAFANA_SAMPLE
from components.checks.download import download_text
from components.model.parts.grafana import GRAFANA_REPOSITORY, GRAFANA_VERSION
from components.model.parts.istio import GATEWAY_API_CRDS_URL, ISTIO_REPOSITORY
from components.model.parts.kiali import KIALI_REPOSITORY, KIALI_VERSION
from components.model.parts.metallb import METALLB_REPOSITORY
from components.model.parts.prometheus import PROMETHEUS_REPOSITORY, PROMETHEUS_VERSION
from harness.config import REPO, project_defaults

UPSTREAM = Path(os.environ.get("LOCAL_MESH_UPSTREAM", REPO.parent / "shared" / "upstream"))


# The folders of shared/upstream the tests read (its README says where each comes from).
ISTIO_DATA = "istio-1.31.0-rc.0"


METALLB_DATA = "metallb-0.16.1"


GATEWAY_API_DATA = "gateway-api-v1.6.0"


MINIKUBE_DATA = "minikube-1.38.1"


ADDONS_DATA = "addons"


ISTIO_ADDONS_DATA = f"{ADDONS_DATA}/{ISTIO_DATA}"  # Istio's values and files for the addons


ISTIO_GRAFANA_YAML = f"{ISTIO_ADDONS_DATA}/samples-addons/grafana.yaml"  # with Istio's dashboard ConfigMaps


FAKE_BIN = REPO / "tests" / "fakes" / "bin"


def upstream(relative: str) -> Path:
    path = UPSTREAM / relative
    if not path.exists():
        raise FileNotFoundError(
            f"upstream reference data {path} is missing: set LOCAL_MESH_UPSTREAM to the shared/upstream folder"
        )
    return path


def fake_environment(root: Path) -> dict[str, str]:
    """An environment in which `minikube`, `kubectl` and `docker` are the stand-ins
    and every file they keep lives under `root`."""
    root.mkdir(parents=True, exist_ok=True)
    return {
        "PATH": os.pathsep.join([str(FAKE_BIN), str(Path(sys.executable).parent), "/usr/bin", "/bin"]),
        "HOME": str(root),
        # local-mesh's cache folder (components/checks/download.py) is read before HOME.
        "XDG_CACHE_HOME": str(root / "cache"),
        "FAKE_CLI_STATE": str(root),
        "KUBECONFIG": str(root / "kube" / "config"),
        "MINIKUBE_HOME": str(root / "minikube"),
        "FAKE_MINIKUBE_START_FLAGS": str(upstream("minikube-1.38.1/start-flags.txt")),
    }


def fake_state(root: Path) -> dict[str, Any]:
    path = root / "state.json"
    return json.loads(path.read_text()) if path.exists() else {"profiles": {}, "networks": [], "calls": []}


def set_fake_profile(root: Path, profile: str, **fields: Any) -> None:
    """Shape a stand-in profile as the cluster would be (pods in it, a webhook not serving yet)."""
    path = root / "state.json"
    state = json.loads(path.read_text())
    state["profiles"][profile].update(fields)
    path.write_text(json.dumps(state))


def node_object(name: str, internal_ip: str, cpu: str, memory: str) -> dict[str, Any]:
    """A Node as the API server returns it: status.addresses are NodeAddress
    {type, address} and status.allocatable a ResourceList of quantities
    (k8s.io/api core/v1 types.go, NodeStatus)."""
    resources = {"cpu": cpu, "ephemeral-storage": "100Gi", "hugepages-2Mi": "0", "memory": memory, "pods": "110"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux"}},
        "spec": {},
        "status": {
            "addresses": [{"address": internal_ip, "type": "InternalIP"}, {"address": name, "type": "Hostname"}],
            "allocatable": resources,
            "capacity": resources,
        },
    }


def pod_object(name: str, namespace: str, node: str, cpu: str, memory: str, phase: str = "Running") -> dict[str, Any]:
    """A Pod as the API server lists it: one container with requests
    (spec.containers[].resources.requests), the node it was bound to
    (spec.nodeName) and its status.phase (k8s.io/api core/v1 types.go, Pod)."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": name}},
        "spec": {
            "containers": [
                {"name": name, "image": f"{name}:1", "resources": {"requests": {"cpu": cpu, "memory": memory}}}
            ],
            "nodeName": node,
        },
        "status": {"phase": phase},
    }


# A one-node kind cluster (`kind create cluster --name dev`: context kind-dev, node
# dev-control-plane on kind's docker network 172.18.0.0/16).
KIND_NODES = (node_object("dev-control-plane", "172.18.0.2", "8", "16318444Ki"),)


# kind's docker network, as `docker network inspect kind` shows it: the IPv4
# subnet Docker picked and the IPv6 subnet kind derives from the name "kind"
# (kind network.go, generateULASubnetFromName; seen in Kuadrant/kuadrant-operator#418).
KIND_NETWORK = {"name": "kind", "subnet": "172.18.0.0/16", "ipv6Subnet": "fc00:f853:ccd:e793::/64"}


def add_existing_cluster(
    root: Path,
    context: str = "kind-dev",
    server: str = "127.0.0.1:40123",
    kubernetes_version: str = "v1.33.1",
    nodes: tuple[dict[str, Any], ...] = KIND_NODES,
    running: bool = True,
    docker_network: dict[str, str] | None = KIND_NETWORK,
    objects: tuple[dict[str, Any], ...] = (),
    pods: tuple[dict[str, Any], ...] = (),
) -> None:
    """A cluster the user already has, as the stand-in kubectl finds it: its
    context in the kubeconfig (beside whatever is there) and its API server,
    which holds `objects` (ConfigMaps, CustomResourceDefinitions) besides its
    nodes and the pods already running there; and, unless `docker_network` is
    None (a remote cluster), its nodes as containers of that docker network of
    this host, as the stand-in docker shows them."""
    kubeconfig_file = Path(fake_environment(root)["KUBECONFIG"])
    config = yaml.safe_load(kubeconfig_file.read_text()) if kubeconfig_file.exists() else {}
    config = {"apiVersion": "v1", "kind": "Config", "preferences": {}, "current-context": "", **(config or {})}
    config["clusters"] = [
        *(config.get("clusters") or []),
        {"cluster": {"certificate-authority-data": "ZmFrZS1jYQ==", "server": f"https://{server}"}, "name": context},
    ]
    config["contexts"] = [
        *(config.get("contexts") or []),
        {"context": {"cluster": context, "user": context}, "name": context},
    ]
    config["users"] = [
        *(config.get("users") or []),
        {"name": context, "user": {"client-certificate-data": "ZmFrZS1jZXJ0", "client-key-data": "ZmFrZS1rZXk="}},
    ]
    kubeconfig_file.parent.mkdir(parents=True, exist_ok=True)
    kubeconfig_file.write_text(yaml.safe_dump(config, sort_keys=False))
    state = fake_state(root)
    state.setdefault("servers", {})[server] = {
        "status": "Running" if running else "Stopped",
        "kubernetesVersion": kubernetes_version,
        "nodes": list(nodes),
        "objects": list(objects),
        "pods": list(pods),
        "webhookRefusals": 0,
    }
    if docker_network is not None:
        name = docker_network["name"]
        if name not in state["networks"]:
            state["networks"].append(name)
        details = state.setdefault("networkDetails", {}).setdefault(
            name, {key: value for key, value in docker_network.items() if key != "name"}
        )
        containers = details.setdefault("containers", {})
        for node in nodes:
            addresses = [a["address"] for a in node["status"]["addresses"] if a["type"] == "InternalIP"]
            containers[node["metadata"]["name"]] = addresses[0]
    (root / "state.json").write_text(json.dumps(state))


def pull_images(root: Path, profile: str, images: list[str], **environment: str) -> list[dict[str, str]]:
    """The node of `profile` pulls `images` (the stand-in `minikube image pull`),
    as its kubelet would for the stack's pods; returns where each came from
    (the stand-in minikube's `pulls`: "upstream", with `via` the cache that
    fetched it, or the name of the host registry that served it)."""
    before = len(fake_state(root)["profiles"][profile]["pulls"])
    command = shlex.join(["minikube", "image", "pull", f"--profile={profile}", *images])
    result = run_shell(command, {**fake_environment(root), **environment})
    if result.returncode != 0:
        raise RuntimeError(f"minikube image pull exited {result.returncode}: {result.stderr.strip()}")
    pulls: list[dict[str, str]] = fake_state(root)["profiles"][profile]["pulls"][before:]
    return pulls


def run_shell(
    command: str, environment: Mapping[str, str], interpreter: list[str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*(interpreter or ["bash", "-c"]), command],
        env=dict(environment),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def mirror_path(url: str) -> str:
    """Where a loopback mirror keeps the copy of a download: /<host><path>."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.netloc}{parts.path}"


def mirrored_reader(mirror: str) -> Callable[..., str]:
    """The download door (components/checks/download.py) reading each URL's copy
    on the loopback server at `mirror` instead: the door's own time limit,
    proxy handling and error lines still apply, to the loopback address.
    `download_text` is the real door, imported before any test replaces it in its module."""

    def read(url: str, timeout: float | None = None) -> str:
        return download_text(f"{mirror.rstrip('/')}/{mirror_path(url)}", timeout)

    return read


def helm_index(charts: Mapping[str, list[str]]) -> dict[str, Any]:
    """A chart repository's index.yaml in Helm's shape (helm.sh/helm pkg/repo/index.go:
    IndexFile `apiVersion`/`entries`, each ChartVersion the chart's metadata plus `urls`)."""
    return {
        "apiVersion": "v1",
        "entries": {
            name: [
                {"apiVersion": "v2", "name": name, "version": version, "urls": [f"{name}-{version}.tgz"]}
                for version in versions
            ]
            for name, versions in charts.items()
        },
        "generated": "2026-11-01T00:00:00Z",
    }


def chart_name(folder: str) -> str:
    return str(yaml.safe_load(upstream(f"{folder}/Chart.yaml").read_text())["name"])


def publish_chart_repositories(root: Path) -> Path:
    """Stand-ins for the chart repositories (and for where Istio publishes its
    dashboards): each lists the charts the upstream
    copies hold, under their Chart.yaml names, at the versions Pulumi.yaml (or,
    for the observability addons, the plan) pins."""
    defaults = project_defaults()
    metallb_chart = chart_name(f"{METALLB_DATA}/chart")
    istio_charts = [
        chart_name(chart.parent.relative_to(UPSTREAM).as_posix())
        for chart in sorted(upstream(ISTIO_DATA).glob("*/Chart.yaml"))
    ]
    mirror = root / "chart-repositories"
    for repository, charts in (
        (METALLB_REPOSITORY, {metallb_chart: [defaults["metallbVersion"]]}),
        (ISTIO_REPOSITORY, {chart: [defaults["istioVersion"]] for chart in istio_charts}),
        # The kiali-server chart is stored packaged: its name is in the file name.
        (KIALI_REPOSITORY, {"kiali-server": [KIALI_VERSION]}),
        (PROMETHEUS_REPOSITORY, {chart_name(f"{ADDONS_DATA}/prometheus-{PROMETHEUS_VERSION}"): [PROMETHEUS_VERSION]}),
        (GRAFANA_REPOSITORY, {chart_name(f"{ADDONS_DATA}/grafana-{GRAFANA_VERSION}"): [GRAFANA_VERSION]}),
    ):
        index = mirror / mirror_path(repository) / "index.yaml"
        index.parent.mkdir(parents=True, exist_ok=True)
        index.write_text(yaml.safe_dump(helm_index(charts)))
    # Istio's dashboards of the default istioVersion (components/checks/dashboards.py): its grafana.yaml.
    dashboards = mirror / mirror_path(ISTIO_GRAFANA_SAMPLE.format(version=defaults["istioVersion"]))
    dashboards.parent.mkdir(parents=True, exist_ok=True)
    dashboards.write_bytes(upstream(ISTIO_GRAFANA_YAML).read_bytes())
    # The Gateway API release's standard-install.yaml: its standard channel's files, one after another.
    bundle = mirror / mirror_path(GATEWAY_API_CRDS_URL)
    bundle.parent.mkdir(parents=True, exist_ok=True)
    bundle.write_text(gateway_api_bundle())
    return mirror


@cache
def gateway_api_bundle() -> str:
    """What GATEWAY_API_CRDS_URL serves: the release's standard-channel files as one YAML stream."""
    files = sorted(upstream(f"{GATEWAY_API_DATA}/standard").glob("*.yaml"))
    return "\n---\n".join(path.read_text() for path in files)
