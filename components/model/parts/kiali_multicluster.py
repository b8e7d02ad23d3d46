"""What Kiali in the first cluster needs to show every cluster of a
multicluster mesh (`clusters` > 1): read access to each other cluster, and
the Prometheus of the first cluster holding every cluster's metrics
(components/model/parts/prometheus.py, prometheus_values_federating).

Kiali's multi-cluster docs (kiali/kiali.io content/en/docs/Configuration/
multi-cluster/_index.md): "Kiali needs a single endpoint for metrics"; its
service account needs read access to each remote cluster, through "a
kubeconfig stored in a Kubernetes secret" in Kiali's namespace, one key per
cluster named after the cluster ("the key name must be the name of the remote
cluster"), and the anonymous strategy local-mesh uses is supported. Kiali
reads each mounted secret's files at /kiali-remote-cluster-secrets/<secret>/
<cluster> (kiali/kiali kubernetes, getRemoteClusterInfosFromDir). Pure: the
objects and values.
"""

from __future__ import annotations

from typing import Any

from components.model.multicluster import remote_kubeconfig
from components.model.parts.istio import ISTIO_NAMESPACE
from components.model.release import Values

Object = dict[str, Any]

# kiali/kiali hack/istio/multicluster/kiali-prepare-remote-cluster.sh (master,
# commit 03bbe49; not pinned to 2.27): the secret is named with this prefix and
# the cluster's name, labelled kiali.io/multiCluster "true" and annotated
# kiali.io/cluster with the cluster's name, which must be Istio's name for it.
KIALI_REMOTE_SECRET_PREFIX = "kiali-remote-cluster-secret-"
KIALI_MULTICLUSTER_LABEL = "kiali.io/multiCluster"
KIALI_CLUSTER_ANNOTATION = "kiali.io/cluster"
# The service account kiali-server 2.27.0 makes for the release `kiali`
# (templates/serviceaccount.yaml, named by kiali-server.fullname: the
# instance_name, "kiali"), in the first cluster and in every other one: with
# view_only_mode its ClusterRole `kiali-viewer` only reads (templates/role-viewer.yaml).
KIALI_SERVICE_ACCOUNT = "kiali"
# A long-lived token for it, which the token controller writes into the Secret
# (kubernetes.io docs, "Manually create a long-lived API token for a
# ServiceAccount"; the prepare script makes the same).
KIALI_TOKEN_SECRET = "kiali-remote-access"


def kiali_remote_secret_name(cluster: str) -> str:
    return KIALI_REMOTE_SECRET_PREFIX + cluster


def kiali_values_with_remote_clusters(values: Values, remote_clusters: list[str]) -> Values:
    """The first cluster's Kiali values, naming each remote cluster's secret
    (kiali-server 2.27.0 values.yaml `clustering`: the chart mounts each
    clusters[].secret_name at /kiali-remote-cluster-secrets/<secret>,
    templates/deployment.yaml). Explicit, not autodetected: the chart's
    autodetection is a Helm `lookup` at render time (templates/_helpers.tpl
    kiali-server.remote-cluster-secrets), which misses a secret made after the
    release, and which would mount a labelled secret a second time under the
    same volume name. The pod waits for its secrets (their volumes are not
    optional), and a changed list rolls it out."""
    clusters = [{"name": cluster, "secret_name": kiali_remote_secret_name(cluster)} for cluster in remote_clusters]
    return {**values, "clustering": {"autodetect_secrets": {"enabled": False}, "clusters": clusters}}


def kiali_token_secret() -> Object:
    """In each remote cluster: the Kiali service account's long-lived token."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/service-account-token",
        "metadata": {
            "name": KIALI_TOKEN_SECRET,
            "namespace": ISTIO_NAMESPACE,
            "annotations": {"kubernetes.io/service-account.name": KIALI_SERVICE_ACCOUNT},
        },
    }


def kiali_remote_secret_metadata(cluster: str) -> dict[str, Any]:
    return {
        "name": kiali_remote_secret_name(cluster),
        "namespace": ISTIO_NAMESPACE,
        "labels": {KIALI_MULTICLUSTER_LABEL: "true"},
        "annotations": {KIALI_CLUSTER_ANNOTATION: cluster},
    }


def kiali_remote_cluster_secret(cluster: str, server: str, certificate_authority_data: str, token: str) -> Object:
    """In the first cluster, beside Kiali: how Kiali reads remote `cluster`."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": kiali_remote_secret_metadata(cluster),
        # The same kubeconfig istioctl writes for istiod (Kiali reads it with client-go alike).
        "stringData": {cluster: remote_kubeconfig(cluster, server, certificate_authority_data, token)},
    }
