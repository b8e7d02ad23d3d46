"""A mesh across several clusters: the names Istio gives them, what each
cluster is, and the objects that join them. Pure.

Istio's multicluster guides name the clusters cluster1, cluster2, their
networks network1, network2 and the one mesh mesh1 (istio.io "Install
Multi-Primary on different networks": `global.meshID=mesh1`,
`global.multiCluster.clusterName=cluster1`, `global.network=network1`).
local-mesh keeps those names, counted from the stack's first cluster.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import yaml

from components.model.network import check_cluster_pools
from components.model.release import Values
from components.model.settings import PROJECT, ConfigError, Settings

# The one mesh every cluster of the stack joins (istiod's `global.meshID`).
MESH_ID = "mesh1"
# The label that puts a namespace's workloads (istio-system's: the gateways)
# on a network (istio.io "Install Multi-Primary on different networks": "Set
# the default network for cluster1").
NETWORK_LABEL = "topology.istio.io/network"
# The Helm release, and so the Deployment and Service, of each cluster's
# east-west gateway (istio.io, the same guide, Helm tab:
# `helm install istio-eastwestgateway istio/gateway -n istio-system
# --set name=istio-eastwestgateway --set networkGateway=network1`); the chart
# names it after the release and labels it `istio: eastwestgateway`
# (gateway chart templates/_helpers.tpl, gateway.name, gateway.selectorLabels).
EASTWEST_RELEASE = "istio-eastwestgateway"
EASTWEST_SELECTOR = {"istio": "eastwestgateway"}
# The port on which an east-west gateway passes mTLS through to the workload
# the SNI names (the gateway chart's networkGatewayPorts.tls, values.yaml).
CROSS_NETWORK_PORT = 15443
CROSS_NETWORK_GATEWAY = "cross-network-gateway"
# The Secret an istiod with a plugged-in CA reads, and its four keys
# (istio/istio security/pkg/pki/ca/ca.go at 1.31.0-rc.0: CACertFile,
# CAPrivateKeyFile, CertChainFile, RootCertFile; istio.io "Plug in CA
# certificates": `kubectl create secret generic cacerts -n istio-system`).
CACERTS_SECRET = "cacerts"
# The service account whose token a remote secret carries: the base chart makes
# it (templates/reader-serviceaccount.yaml), the istiod chart binds it to its
# reader ClusterRole (templates/reader-clusterrolebinding.yaml); istioctl
# create-remote-secret uses it (istioctl/pkg/multicluster, DefaultServiceAccountName).
READER_SERVICE_ACCOUNT = "istio-reader-service-account"
# The token Secret istioctl makes for it on Kubernetes 1.24 and later, where a
# service account gets none of its own (istioctl/pkg/multicluster/remote_secret.go
# at 1.31.0-rc.0, getOrCreateServiceAccountSecret, tokenSecretName).
READER_TOKEN_SECRET = f"{READER_SERVICE_ACCOUNT}-istio-remote-secret-token"
# What istiod's secret controller watches, and the cluster a Secret names
# (remote_secret.go createRemoteServiceAccountSecret; pkg/kube/multicluster
# secretcontroller.go MultiClusterSecretLabel; istioctl options.go
# clusterNameAnnotationKey).
REMOTE_SECRET_PREFIX = "istio-remote-secret-"
MULTICLUSTER_SECRET_LABEL = "istio/multiCluster"
CLUSTER_ANNOTATION = "networking.istio.io/cluster"
# The API server's port inside the node: minikube's constants.APIServerPort
# (pkg/minikube/constants/constants.go:53 at v1.38.1). The host reaches it
# through a published port of 127.0.0.1, which another cluster's pods cannot
# (istio/istio#31081); they reach the node's own address on the shared network,
# which the API server's certificate names (pkg/minikube/bootstrapper/certs.go:264-268).
API_SERVER_PORT = 8443


def cluster_name(index: int) -> str:
    """Istio's name for the stack's cluster number `index` (0 = the first):
    istiod's `global.multiCluster.clusterName`, and the name a remote secret
    gives it."""
    return f"cluster{index + 1}"


def network_name(index: int) -> str:
    """The Istio network of the stack's cluster number `index`: istiod's
    `global.network` and the `topology.istio.io/network` label. Each cluster is
    its own network, reached by the others through its east-west gateway."""
    return f"network{index + 1}"


def cluster_settings(settings: Settings, index: int) -> Settings:
    """The settings of the stack's cluster `index`: the first is the stack's own
    (a one-cluster stack's, unchanged); a later one is the profile `<profile>-<n>`,
    whose kube context minikube names after it."""
    if index == 0:
        return settings
    profile = f"{settings.profile}-{index + 1}"
    return dataclasses.replace(settings, profile=profile, kube_context=profile, cluster_index=index)


# The address of the node minikube gives a profile on the first network it
# makes (192.168.49.0/24: pkg/drivers/kic/oci/network_create.go firstSubnetAddr;
# the node at the gateway + 1, pkg/drivers/kic/kic.go:110-118, at v1.38.1).
# Every cluster's node and pool sit at fixed offsets of whichever /24 the first
# profile gets, so the plan checked on this one holds on any.
MINIKUBE_FIRST_NODE = "192.168.49.2"


def check_address_plan(clusters: int) -> None:
    """Before anything is created: every cluster's MetalLB pool is its own on the
    shared network, clear of the others' and of every node."""
    try:
        check_cluster_pools(MINIKUBE_FIRST_NODE, clusters)
    except ValueError as problem:
        raise ConfigError(f"{PROJECT}:clusters = {clusters} does not fit one /24: {problem}") from None


def istiod_multicluster_values(index: int) -> Values:
    """istiod's values for the stack's cluster `index` (the istiod chart's
    values.yaml: global.meshID, global.multiCluster.clusterName, global.network)."""
    return {"meshID": MESH_ID, "multiCluster": {"clusterName": cluster_name(index)}, "network": network_name(index)}


def cross_network_gateway_spec() -> dict[str, Any]:
    """Every `*.local` service of the cluster, reachable from the other networks
    through the east-west gateway, mTLS passed through to the workload (Istio's
    samples/multicluster/expose-services.yaml, as its multicluster guides apply it)."""
    return {
        "selector": dict(EASTWEST_SELECTOR),
        "servers": [
            {
                "port": {"number": CROSS_NETWORK_PORT, "name": "tls", "protocol": "TLS"},
                "tls": {"mode": "AUTO_PASSTHROUGH"},
                "hosts": ["*.local"],
            }
        ],
    }


def api_server_url(node_ip: str) -> str:
    """The API server of a cluster as another cluster on the shared network reaches it."""
    return f"https://{node_ip}:{API_SERVER_PORT}"


def remote_kubeconfig(name: str, server: str, ca_data: str, token: str) -> str:
    """The kubeconfig istioctl create-remote-secret writes for a cluster:
    one cluster, context and user, all named after it, the user a bearer
    token (remote_secret.go at 1.31.0-rc.0: createBaseKubeconfig,
    createBearerTokenKubeconfig). `ca_data`: the cluster's CA, base64, as a
    service-account token Secret's `ca.crt` holds it in `data`."""
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": name, "cluster": {"certificate-authority-data": ca_data, "server": server}}],
            "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
            "current-context": name,
            "users": [{"name": name, "user": {"token": token}}],
        },
        sort_keys=False,
    )


def remote_secret_metadata(index: int) -> dict[str, Any]:
    """Name, label and annotation of the Secret through which another cluster's
    istiod reads the stack's cluster `index` (remote_secret.go, createRemoteServiceAccountSecret)."""
    name = cluster_name(index)
    return {
        "name": f"{REMOTE_SECRET_PREFIX}{name}",
        "labels": {MULTICLUSTER_SECRET_LABEL: "true"},
        "annotations": {CLUSTER_ANNOTATION: name},
    }
