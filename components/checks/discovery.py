"""What an existing cluster already has that the plan depends on, read through
the stack's one context (never the current one) before the plan is made, so
`pulumi preview` shows the same plan `up` installs: the platform its nodes
report (istio-cni's profile, ambient) and the Gateway API CRDs it has.

Read with kubectl, not the Pulumi provider: the Helm values must be known
when the releases are registered, before any provider exists. Read only with
`cluster: existing` and `istioProfile: ambient` (nothing else depends on it),
also when `preflight` is false. The pure parts (`recognise_node`,
`detect_platform`, `gateway_api_problems`) take the API server's JSON.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi

from components.checks.process import ProcessError, run_process
from components.model.parts.istio import GATEWAY_API_VERSION, ISTIO_NAMESPACE
from components.model.plan import NOTHING_INSTALLED, ClusterState
from components.model.settings import CNI_PLATFORMS, PROJECT, Settings

# The CRDs of the Gateway API release local-mesh installs (v1.6.0, standard
# channel: config/crd/standard; tests/test_discovery.py holds this list
# against shared/upstream's copy). Any of them in the cluster means the
# cluster has its own Gateway API.
GATEWAY_API_CRD_NAMES = tuple(
    f"{plural}.gateway.networking.k8s.io"
    for plural in (
        "backendtlspolicies",
        "gatewayclasses",
        "gateways",
        "grpcroutes",
        "httproutes",
        "listenersets",
        "referencegrants",
        "tcproutes",
        "tlsroutes",
        "udproutes",
    )
)
# Every Gateway API CRD carries its release here (gateway-api config/crd/standard/*.yaml;
# its ValidatingAdmissionPolicy safe-upgrades reads the same annotation).
BUNDLE_VERSION_ANNOTATION = "gateway.networking.k8s.io/bundle-version"
# Istio 1.31 ignores a CRD below this bundle version, or without the annotation,
# and never processes that kind (istio/istio 1.31.0-rc.0
# pkg/config/schema/gatewayapi/minimumversions.go, MinimumCRDVersions, read by
# pkg/kube/kclient/crdwatcher.go minimumVersionFilter, which ignores a
# pre-release suffix).
ISTIO_MINIMUM_GATEWAY_API = {
    "grpcroutes.gateway.networking.k8s.io": (1, 1, 0),
    "backendtlspolicies.gateway.networking.k8s.io": (1, 4, 0),
    "tlsroutes.gateway.networking.k8s.io": (1, 5, 0),
    "tcproutes.gateway.networking.k8s.io": (1, 6, 0),
}
# A ConfigMap local-mesh creates in istio-system before it installs the Gateway
# API CRDs, and deletes on destroy: while it exists, the CRDs in the cluster
# are the ones this stack installed (and keeps in its state), not the cluster's own.
GATEWAY_API_RECEIPT = "local-mesh-gateway-api-crds"


class DiscoveryError(pulumi.RunError):
    """The cluster could not be read, or has what local-mesh cannot work with; one line."""


def recognise_node(node: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(the distribution a Node says it runs, the istio-cni platform profile it
    needs), from what its kubelet reports (k8s.io/api core/v1 types.go:
    spec.providerID, status.nodeInfo); (None, None) when none is recognised.

    - k3s: its kubelet's version is k3s's release tag, e.g. v1.31.4+k3s1
      (k3s-io/k3s scripts/version.sh VERSION=$GIT_TAG; scripts/build sets
      component-base's gitVersion to it). k3d runs k3s in k3s's own image, whose
      /etc/os-release is `PRETTY_NAME="K3s <tag>"` (k3s package/Dockerfile),
      which the kubelet reports as osImage: there the CNI binaries are in /bin
      (istio-cni files/profile-platform-k3d.yaml), elsewhere in k3s's data dir.
    - GKE: its versions carry `-gke.` (v1.30.5-gke.1014001); Istio's istio-cni
      chart looks for `-gke` in the server's version (templates/daemonset.yaml,
      $detectedBinDir). The providerID `gce://` is not used: a self-managed
      cluster on GCE has it too.
    - minikube: it labels its nodes minikube.k8s.io/name (minikube v1.38.1
      pkg/minikube/bootstrapper/kubeadm/kubeadm.go, applyNodeLabels); with the
      docker runtime (the kubelet reports containerRuntimeVersion docker://<version>)
      pod network namespaces are in /var/run/docker/netns (profile-platform-minikube.yaml);
      with containerd or CRI-O the chart's defaults fit.
    - kind: providerID kind://<provider>/<cluster>/<node> (kind
      pkg/cluster/internal/kubeadm/config.go, the kubelet's provider-id); kind
      runs containerd with the usual CNI paths, so it needs no profile.
    """
    spec = node.get("spec") or {}
    info = (node.get("status") or {}).get("nodeInfo") or {}
    labels = (node.get("metadata") or {}).get("labels") or {}
    kubelet = str(info.get("kubeletVersion", ""))
    if "+k3s" in kubelet:
        return ("k3d", "k3d") if str(info.get("osImage", "")).startswith("K3s ") else ("k3s", "k3s")
    if "-gke." in kubelet:
        return "gke", "gke"
    if "minikube.k8s.io/name" in labels:
        if str(info.get("containerRuntimeVersion", "")).startswith("docker://"):
            return "minikube", "minikube"
        return "minikube without docker", None
    if str(spec.get("providerID", "")).startswith("kind://"):
        return "kind", None
    return None, None


def detect_platform(context: str, nodes: Sequence[Mapping[str, Any]]) -> tuple[str | None, str | None]:
    """(the distribution recognised, its istio-cni platform) for these nodes; one
    line naming local-mesh:platform if the nodes disagree."""
    found = {str((node.get("metadata") or {}).get("name")): recognise_node(node) for node in nodes}
    kinds = set(found.values())
    if len(kinds) > 1:
        each = ", ".join(f"{name}: {kind[0] or 'none recognised'}" for name, kind in sorted(found.items()))
        raise DiscoveryError(
            f"{PROJECT}:platform = 'auto' cannot choose: the nodes of kubeContext {context} report different "
            f"platforms ({each}): set {PROJECT}:platform to one of {', '.join(CNI_PLATFORMS)}, or none"
        )
    return kinds.pop() if kinds else (None, None)


def _version(text: str) -> tuple[int, int, int] | None:
    core = text.removeprefix("v").split("-", 1)[0].split("+", 1)[0]
    parts = core.split(".")
    if len(parts) != 3 or not all(part.isdigit() for part in parts):
        return None
    major, minor, patch = (int(part) for part in parts)
    return major, minor, patch


def gateway_api_problems(context: str, crds: Sequence[Mapping[str, Any]], istio_version: str) -> list[str]:
    """One line per Gateway API CRD of the cluster's that Istio would ignore."""
    problems = []
    for crd in crds:
        name = str(crd["metadata"]["name"])
        minimum = ISTIO_MINIMUM_GATEWAY_API.get(name)
        if minimum is None:
            continue
        bundle = ((crd["metadata"].get("annotations") or {}).get(BUNDLE_VERSION_ANNOTATION)) or ""
        version = _version(bundle)
        if version is None or version < minimum:
            found = f"is at {bundle}" if bundle else f"has no {BUNDLE_VERSION_ANNOTATION} annotation"
            problems.append(
                f"kubeContext {context}: the cluster's CRD {name} {found}, older than the "
                f"v{'.'.join(map(str, minimum))} Istio {istio_version} needs (it would ignore it): upgrade the "
                f"cluster's Gateway API CRDs (local-mesh installs {GATEWAY_API_VERSION} only where there are none)"
            )
    return problems


def _kubectl_json(context: str, words: Sequence[str]) -> dict[str, Any] | None:
    """kubectl's JSON answer through this context alone; None when --ignore-not-found
    found nothing (kubectl prints nothing then: kubectl v0.35.0 pkg/cmd/get/get.go,
    printGeneric). --request-timeout: a server that does not answer fails in seconds."""
    command = ["kubectl", *words, f"--context={context}", "--output=json", "--request-timeout=10s"]
    try:
        result = run_process(command)
    except ProcessError as problem:
        raise DiscoveryError(_unreadable(context, str(problem))) from None
    if result.returncode != 0:
        raise DiscoveryError(_unreadable(context, result.complaint))
    return json.loads(result.stdout) if result.stdout.strip() else None


def _unreadable(context: str, reason: str) -> str:
    return (
        f"{PROJECT}:kubeContext {context} cannot be read to choose istio-cni's platform and the Gateway API CRDs "
        f"({reason}): check the context with `kubectl --context {context} get nodes`"
    )


def _items(answer: dict[str, Any] | None) -> list[dict[str, Any]]:
    """A List's items, or the one object kubectl prints for a single name."""
    if answer is None:
        return []
    return list(answer.get("items") or []) if answer.get("kind") == "List" else [answer]


def read_cluster_state(settings: Settings) -> ClusterState:
    """What the plan needs to know of the cluster, read-only. Nothing to read
    on local-mesh's own minikube, or outside ambient."""
    if settings.on_minikube or settings.istio_profile != "ambient":
        return NOTHING_INSTALLED
    context = settings.kube_context
    platform = None
    if settings.platform == "auto":
        recognised, platform = detect_platform(context, _items(_kubectl_json(context, ["get", "nodes"])))
        chosen = f"istio-cni gets platform {platform}" if platform else "istio-cni keeps its chart's defaults"
        pulumi.log.info(
            f"{PROJECT}: the nodes of kubeContext {context} report {recognised or 'no platform local-mesh knows'}: "
            f"{chosen} (set {PROJECT}:platform to choose another)"
        )
    receipt = _kubectl_json(
        context, ["get", "configmap", GATEWAY_API_RECEIPT, f"--namespace={ISTIO_NAMESPACE}", "--ignore-not-found"]
    )
    if receipt is not None:
        # This stack installed them and keeps them in its state.
        return ClusterState(platform=platform, gateway_api_crds=False)
    crds = _items(
        _kubectl_json(context, ["get", "customresourcedefinitions", *GATEWAY_API_CRD_NAMES, "--ignore-not-found"])
    )
    if not crds:
        return ClusterState(platform=platform, gateway_api_crds=False)
    problems = gateway_api_problems(context, crds, settings.istio_version)
    if problems:
        raise DiscoveryError(f"{PROJECT}: " + "; ".join(problems))
    pulumi.log.info(
        f"{PROJECT}: kubeContext {context} has its own Gateway API CRDs: "
        "Istio uses them, local-mesh installs and deletes none"
    )
    return ClusterState(platform=platform, gateway_api_crds=True)
