"""Several clusters, one mesh (multi-primary on different networks): one root
of trust for all, and in each cluster what joins it to the others. Wired by
LocalMesh (plug_in_ca before Istio, expose_services after it) and by
__main__.py (connect_clusters, once every cluster's mesh exists; then
Overview.complete, which gives the first cluster's Kiali and Prometheus the
other clusters)."""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as kubernetes
import pulumi_tls as tls

from components.cluster import Cluster, MinikubeCluster
from components.istio import Istio, load_balancer_address
from components.model.multicluster import (
    CACERTS_SECRET,
    CROSS_NETWORK_GATEWAY,
    EASTWEST_RELEASE,
    NETWORK_LABEL,
    READER_SERVICE_ACCOUNT,
    READER_TOKEN_SECRET,
    api_server_url,
    cluster_name,
    cross_network_gateway_spec,
    network_name,
    remote_kubeconfig,
    remote_secret_metadata,
)
from components.model.parts.istio import ISTIO_NAMESPACE
from components.model.parts.kiali import KIALI_RELEASE
from components.model.parts.kiali_multicluster import (
    kiali_remote_cluster_secret,
    kiali_remote_secret_metadata,
    kiali_remote_secret_name,
    kiali_token_secret,
    kiali_values_with_remote_clusters,
)
from components.model.parts.prometheus import prometheus_values_federating
from components.model.release import Values

# What Istio's own certificate tooling makes (istio/istio tools/certs/common.mk
# at 1.31.0-rc.0): a root "O=Istio, CN=Root CA" and per cluster an intermediate
# "O=Istio, CN=Intermediate CA, L=<cluster>" with the SAN istiod.istio-system.svc,
# both CAs valid 3650 days, with the key usages digitalSignature,
# nonRepudiation (content_commitment), keyEncipherment, keyCertSign.
# Its keys are RSA 4096; 2048 (pulumi-tls's default rsa_bits) is enough for a
# mesh on a laptop and makes each key in a fraction of the time.
CA_ORGANIZATION = "Istio"
CA_VALIDITY_HOURS = 3650 * 24
CA_USES = ["digital_signature", "content_commitment", "key_encipherment", "cert_signing"]
KEY_ALGORITHM = "RSA"
KEY_BITS = 2048
ISTIOD_SAN = f"istiod.{ISTIO_NAMESPACE}.svc"


@dataclass(frozen=True)
class ClusterCa:
    """One cluster's intermediate CA, as Istio's `cacerts` holds it."""

    ca_cert: pulumi.Output[str]
    ca_key: pulumi.Output[str]
    root_cert: pulumi.Output[str]

    def cacerts(self) -> pulumi.Output[dict[str, str]]:
        """The Secret's four files; cert-chain.pem is the intermediate, then the
        root (tools/certs/Makefile.selfsigned.mk: `cat ca-cert.pem root-cert.pem`)."""
        return pulumi.Output.secret(
            pulumi.Output.all(self.ca_cert, self.ca_key, self.root_cert).apply(
                lambda pems: {
                    "ca-cert.pem": pems[0],
                    "ca-key.pem": pems[1],
                    "root-cert.pem": pems[2],
                    "cert-chain.pem": pems[0] + pems[2],
                }
            )
        )


class TrustRoot(pulumi.ComponentResource):
    """The mesh's root CA, made once and kept in the state (its key a secret:
    pulumi-tls marks private_key_pem secret), and an intermediate CA per
    cluster that it signs. Made on the host by the tls provider; nothing in a
    cluster holds the root's key."""

    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("local-mesh:multicluster:TrustRoot", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self._root_key = tls.PrivateKey("root-ca-key", algorithm=KEY_ALGORITHM, rsa_bits=KEY_BITS, opts=child)
        self._root = tls.SelfSignedCert(
            "root-ca",
            private_key_pem=self._root_key.private_key_pem,
            subject=tls.SelfSignedCertSubjectArgs(organization=CA_ORGANIZATION, common_name="Root CA"),
            is_ca_certificate=True,
            validity_period_hours=CA_VALIDITY_HOURS,
            allowed_uses=CA_USES,
            opts=child,
        )
        self.register_outputs({"rootCert": self._root.cert_pem})

    def intermediate(self, cluster: str) -> ClusterCa:
        """The intermediate CA of the cluster Istio names `cluster`."""
        child = pulumi.ResourceOptions(parent=self)
        key = tls.PrivateKey(f"{cluster}-ca-key", algorithm=KEY_ALGORITHM, rsa_bits=KEY_BITS, opts=child)
        request = tls.CertRequest(
            f"{cluster}-ca-request",
            private_key_pem=key.private_key_pem,
            subject=tls.CertRequestSubjectArgs(
                organization=CA_ORGANIZATION, common_name="Intermediate CA", locality=cluster
            ),
            dns_names=[ISTIOD_SAN],
            opts=child,
        )
        cert = tls.LocallySignedCert(
            f"{cluster}-ca",
            cert_request_pem=request.cert_request_pem,
            ca_private_key_pem=self._root_key.private_key_pem,
            ca_cert_pem=self._root.cert_pem,
            is_ca_certificate=True,
            validity_period_hours=CA_VALIDITY_HOURS,
            allowed_uses=CA_USES,
            opts=child,
        )
        return ClusterCa(cert.cert_pem, key.private_key_pem, self._root.cert_pem)


@dataclass(frozen=True)
class MeshMember:
    """What a cluster brings to the multicluster mesh: where its ingress and
    east-west gateway answer, its node on the shared network, and the token
    other clusters' istiods read it with."""

    index: int
    cluster: Cluster
    ingress_address: pulumi.Output[str]
    east_west_address: pulumi.Output[str]
    reader_token: kubernetes.core.v1.Secret
    # Its API server as another cluster's pods reach it (istiod's remote
    # secrets, the first Kiali's): the node on the shared network.
    api_server: pulumi.Output[str]


def plug_in_ca(parent: pulumi.Resource, cluster: Cluster, index: int, ca: ClusterCa) -> pulumi.Resource:
    """istio-system, labelled with the cluster's network, and `cacerts` in it,
    both before any Istio release (istio.io "Plug in CA certificates": the
    secret must exist before istiod starts; "Install Multi-Primary on
    different networks": the namespace's label is the gateways' network).
    Returns the Secret istiod waits for."""
    if not isinstance(cluster, MinikubeCluster):
        raise TypeError("a multicluster mesh is made of local-mesh's own minikube profiles")
    namespace = cluster.own_namespace(ISTIO_NAMESPACE, {NETWORK_LABEL: network_name(index)})
    return kubernetes.core.v1.Secret(
        cluster.scope(CACERTS_SECRET),
        metadata=kubernetes.meta.v1.ObjectMetaArgs(name=CACERTS_SECRET, namespace=ISTIO_NAMESPACE),
        string_data=ca.cacerts(),
        opts=cluster.kubernetes_options(parent, [namespace]),
    )


def expose_services(parent: pulumi.Resource, cluster: Cluster, index: int, istio: Istio) -> MeshMember:
    """After Istio: the Gateway that exposes the cluster's services on its
    east-west gateway, the east-west gateway's address, and the reader
    service account's token (for the other clusters' remote secrets)."""
    after_istiod = cluster.kubernetes_options(parent, [istio.control_plane])
    kubernetes.apiextensions.CustomResource(
        cluster.scope(CROSS_NETWORK_GATEWAY),
        api_version="networking.istio.io/v1",
        kind="Gateway",
        metadata=kubernetes.meta.v1.ObjectMetaArgs(name=CROSS_NETWORK_GATEWAY, namespace=ISTIO_NAMESPACE),
        spec=cross_network_gateway_spec(),
        opts=after_istiod,
    )
    east_west = istio.installed[EASTWEST_RELEASE]
    service = kubernetes.core.v1.Service.get(
        cluster.scope("eastwest-gateway-service"),
        pulumi.Output.concat(east_west.status.namespace, "/", east_west.status.name),
        opts=cluster.read_options(parent),
    )
    # A token that does not expire, for the service account the base chart
    # made (istio-base, before istiod): the token controller fills in `token`
    # and `ca.crt`, and pulumi-kubernetes waits for them (pulumi-kubernetes
    # #2048, an await for service-account-token Secrets).
    reader_token = kubernetes.core.v1.Secret(
        cluster.scope("reader-token"),
        metadata=kubernetes.meta.v1.ObjectMetaArgs(
            name=READER_TOKEN_SECRET,
            namespace=ISTIO_NAMESPACE,
            annotations={"kubernetes.io/service-account.name": READER_SERVICE_ACCOUNT},
        ),
        type="kubernetes.io/service-account-token",
        opts=after_istiod,
    )
    return MeshMember(
        index=index,
        cluster=cluster,
        ingress_address=istio.ingress_address,
        east_west_address=service.status.apply(lambda status: load_balancer_address(status, EASTWEST_RELEASE).host),
        reader_token=reader_token,
        api_server=cluster.node_ip.apply(api_server_url),
    )


def _token_of(token_data: dict[str, str] | None) -> tuple[str, str]:
    """From a service-account-token Secret's `data` (base64): `ca.crt` stays
    base64, as a kubeconfig's certificate-authority-data; `token` is decoded."""
    data = token_data or {}
    return data["ca.crt"], base64.b64decode(data["token"]).decode()


def connect_clusters(meshes: Sequence[tuple[pulumi.Resource, MeshMember]]) -> None:
    """In every cluster, a remote secret for every other cluster, so that each
    istiod discovers the endpoints of all (istio.io "Install Multi-Primary on
    different networks", "Enable Endpoint Discovery": `istioctl
    create-remote-secret --name=cluster1` applied in cluster2, and back). The
    kubeconfig names the other cluster's node on the shared docker network,
    which a pod reaches, not the host's 127.0.0.1 port (istio/istio#31081)."""
    for parent, reader in meshes:
        for member in (other for _, other in meshes if other is not reader):
            _remote_secret(parent, reader, member)


def _remote_secret(parent: pulumi.Resource, reader: MeshMember, member: MeshMember) -> None:
    """In `reader`'s cluster, the Secret through which its istiod reads `member`'s."""
    token = member.reader_token
    name = cluster_name(member.index)

    def kubeconfig(facts: list[Any]) -> str:
        return remote_kubeconfig(name, facts[0], *_token_of(facts[1]))

    contents: pulumi.Output[str] = pulumi.Output.secret(
        pulumi.Output.all(member.api_server, token.data).apply(kubeconfig)
    )
    metadata = remote_secret_metadata(member.index)
    namespace = reader.cluster.release_namespace(ISTIO_NAMESPACE)
    kubernetes.core.v1.Secret(
        reader.cluster.scope(metadata["name"]),
        metadata=kubernetes.meta.v1.ObjectMetaArgs(namespace=ISTIO_NAMESPACE, **metadata),
        string_data={name: contents},
        opts=reader.cluster.kubernetes_options(parent, [token, *([namespace] if namespace else [])]),
    )


class Overview:
    """What the first cluster's Kiali and Prometheus learn of the other
    clusters, known only once those exist: the first Kiali reads each other
    cluster through a kubeconfig Secret beside it, and the first Prometheus
    federates the others' Istio metrics ("Kiali needs a single endpoint for
    metrics", Kiali's multi-cluster docs; components/model/parts/
    kiali_multicluster.py). Made before the first cluster's mesh, whose
    dashboards take `kiali_values` and `prometheus_values`; `complete` once
    every cluster's mesh exists."""

    def __init__(self) -> None:
        self._remote_clusters: pulumi.Output[list[str]]
        self._resolve_clusters: Callable[[pulumi.Output[list[str]]], None]
        self._remote_clusters, self._resolve_clusters = pulumi.deferred_output()
        self._remote_ingresses: pulumi.Output[dict[str, str]]
        self._resolve_ingresses: Callable[[pulumi.Output[dict[str, str]]], None]
        self._remote_ingresses, self._resolve_ingresses = pulumi.deferred_output()

    def kiali_values(self, values: pulumi.Input[Values]) -> pulumi.Output[Values]:
        """The first Kiali's values naming each remote cluster's Secret; the
        release waits for those Secrets (their volumes are not optional)."""
        return pulumi.Output.all(values, self._remote_clusters).apply(
            lambda known: kiali_values_with_remote_clusters(known[0], known[1])
        )

    def prometheus_values(self, values: Values) -> pulumi.Output[Values]:
        """The first Prometheus's values, scraping every other cluster's on its ingress."""
        return self._remote_ingresses.apply(lambda ingresses: prometheus_values_federating(values, ingresses))

    def complete(self, first: Joined, remotes: Sequence[Joined]) -> None:
        """In each remote cluster with a Kiali, a token for its read-only account,
        and in the first cluster the Secret through which its Kiali reads it;
        the remote clusters' ingresses for the first Prometheus."""
        parent, reader, _ = first
        secrets: list[pulumi.Output[str]] = []
        names: list[str] = []
        for remote_parent, member, dashboards in remotes:
            if KIALI_RELEASE in dashboards:
                token = _kiali_token(remote_parent, member, dashboards[KIALI_RELEASE])
                secrets.append(_kiali_remote_secret(parent, reader, member, token).id)
                names.append(cluster_name(member.index))
        # The Secrets' IDs carry them into the first Kiali's values, which so wait for them.
        self._resolve_clusters(pulumi.Output.all(*secrets).apply(lambda _: names))
        self._resolve_ingresses(
            pulumi.Output.all(*[member.ingress_address for _, member, _ in remotes]).apply(
                lambda addresses: {
                    cluster_name(member.index): address
                    for (_, member, _), address in zip(remotes, addresses, strict=True)
                }
            )
        )


# A cluster of the mesh as Overview.complete takes it: its LocalMesh, what it
# brings to the mesh, and its dashboards' releases by release name.
Joined = tuple[pulumi.Resource, MeshMember, Mapping[str, kubernetes.helm.v3.Release]]


def _kiali_token(parent: pulumi.Resource, member: MeshMember, kiali: pulumi.Resource) -> kubernetes.core.v1.Secret:
    """In a remote cluster, after its Kiali (whose chart makes the account), the account's long-lived token."""
    token = kiali_token_secret()
    return kubernetes.core.v1.Secret(
        member.cluster.scope(token["metadata"]["name"]),
        metadata=token["metadata"],
        type=token["type"],
        opts=member.cluster.kubernetes_options(parent, [kiali]),
    )


def _kiali_remote_secret(
    parent: pulumi.Resource, reader: MeshMember, member: MeshMember, token: kubernetes.core.v1.Secret
) -> kubernetes.core.v1.Secret:
    """In the first cluster, beside its Kiali: the kubeconfig through which it
    reads `member`'s cluster, at the API server address istiod's remote secrets use."""
    name = cluster_name(member.index)

    def kubeconfig(facts: list[Any]) -> str:
        return str(kiali_remote_cluster_secret(name, facts[0], *_token_of(facts[1]))["stringData"][name])

    contents: pulumi.Output[str] = pulumi.Output.secret(
        pulumi.Output.all(member.api_server, token.data).apply(kubeconfig)
    )
    namespace = reader.cluster.release_namespace(ISTIO_NAMESPACE)
    return kubernetes.core.v1.Secret(
        reader.cluster.scope(kiali_remote_secret_name(name)),
        metadata=kubernetes.meta.v1.ObjectMetaArgs(**kiali_remote_secret_metadata(name)),
        string_data={name: contents},
        opts=reader.cluster.kubernetes_options(parent, [token, *([namespace] if namespace else [])]),
    )
