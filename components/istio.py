"""Istio as the plan's Helm releases: base, istiod, then the gateways."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as kubernetes

from components.checks.discovery import GATEWAY_API_RECEIPT
from components.cluster import Cluster
from components.helm import Prerequisites
from components.model.parts.istio import GATEWAY_API_CRDS_URL, GATEWAY_API_VERSION, INGRESS_RELEASE, ISTIO_NAMESPACE
from components.model.plan import Plan
from components.model.release import GATEWAY_API_CRDS


@dataclass(frozen=True)
class IngressAddress:
    """Where the ingress gateway's LoadBalancer Service is reached: an IP
    (MetalLB, most load balancers) or a hostname (a cloud load balancer such
    as AWS's ELB); Service status.loadBalancer.ingress[] entries carry `ip`
    or `hostname` (k8s.io/api core/v1 types.go, LoadBalancerIngress)."""

    ip: str | None
    hostname: str | None

    @property
    def host(self) -> str:
        return self.ip or self.hostname or ""


def load_balancer_address(
    status: kubernetes.core.v1.outputs.ServiceStatus | None, service: str = INGRESS_RELEASE
) -> IngressAddress:
    ingress = status.load_balancer.ingress if status and status.load_balancer else None
    if not ingress or not (ingress[0].ip or ingress[0].hostname):
        raise ValueError(
            f"the Service {service} has no LoadBalancer address: with loadBalancer metallb, is MetalLB's "
            "address pool in place? With none, does the cluster give LoadBalancer Services an address?"
        )
    return IngressAddress(ip=ingress[0].ip or None, hostname=ingress[0].hostname or None)


# The one Gateway of the ingress gateway's port 80: two Gateways on the same
# workload, port and host conflict (Istio picks one). The sample and the
# dashboards each bind their own VirtualService to it.
MESH_GATEWAY_NAME = "ingress"
MESH_GATEWAY = f"{ISTIO_NAMESPACE}/{MESH_GATEWAY_NAME}"


def mesh_gateway_spec() -> dict[str, Any]:
    # The Helm gateway listens on 80 itself (istioctl's gateway maps 80 -> 8080).
    return {
        "selector": {"istio": "ingressgateway"},
        "servers": [{"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": ["*"]}],
    }


def peer_authentication_spec() -> dict[str, Any]:
    """Mesh-wide (in the root namespace): workloads accept only mTLS."""
    return {"mtls": {"mode": "STRICT"}}


class Istio(pulumi.ComponentResource):
    """The plan's Istio releases in its order (ambient: base -> Gateway API
    CRDs -> istiod -> istio-cni -> ztunnel -> gateway, Istio's ambient install
    order). `after` gives the steps outside Istio that a release waits for
    (MetalLB's pool, for the ingress gateway). A workload waits for
    `mesh_ready` to join the mesh as it starts (istiod's injection webhook
    and Istio's CRDs; in ambient, the node agents too)."""

    ingress_ip: pulumi.Output[str | None]
    ingress_host: pulumi.Output[str | None]
    # The IP or else the hostname: what a URL to the ingress names.
    ingress_address: pulumi.Output[str]
    istio_version: pulumi.Output[str]
    control_plane: kubernetes.helm.v3.Release
    mesh_ready: kubernetes.helm.v3.Release
    installed: dict[str, kubernetes.helm.v3.Release]

    def __init__(
        self,
        name: str,
        plan: Plan,
        istio_version: str,
        mtls: str,
        cluster: Cluster,
        after: Prerequisites,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("local-mesh:istio:Istio", name, None, opts)
        steps = dict(after)
        if plan.installs_gateway_api_crds:
            steps[GATEWAY_API_CRDS] = [self._gateway_api_crds(cluster)]
        installed = cluster.install(self, plan.mesh_releases(ISTIO_NAMESPACE), steps)
        # Every Istio release, by release name (the east-west gateway's, for components/multicluster.py).
        self.installed = installed
        # istiod: its webhooks validate Istio's objects and inject sidecars.
        self.control_plane = installed["istiod"]
        self.mesh_ready = installed[plan.mesh_ready]
        if mtls == "strict":
            # After istiod, whose webhook validates Istio's custom resources.
            kubernetes.apiextensions.CustomResource(
                cluster.scope("mesh-mtls"),
                api_version="security.istio.io/v1",
                kind="PeerAuthentication",
                metadata=kubernetes.meta.v1.ObjectMetaArgs(name="default", namespace=ISTIO_NAMESPACE),
                spec=peer_authentication_spec(),
                opts=cluster.kubernetes_options(self, [self.control_plane]),
            )

        # After istiod, whose webhook validates it (and istio-base's CRDs define it).
        kubernetes.apiextensions.CustomResource(
            cluster.scope("mesh-gateway"),
            api_version="networking.istio.io/v1",
            kind="Gateway",
            metadata=kubernetes.meta.v1.ObjectMetaArgs(name=MESH_GATEWAY_NAME, namespace=ISTIO_NAMESPACE),
            spec=mesh_gateway_spec(),
            opts=cluster.kubernetes_options(self, [self.control_plane]),
        )

        # The ID comes from the release's outputs, not a constant: a constant ID
        # makes the first preview read a Service that does not exist yet
        # (pulumi/pulumi#16395).
        ingress = installed[INGRESS_RELEASE]
        service = kubernetes.core.v1.Service.get(
            cluster.scope("ingress-gateway-service"),
            pulumi.Output.concat(ingress.status.namespace, "/", ingress.status.name),
            opts=cluster.read_options(self),
        )
        address = service.status.apply(load_balancer_address)
        self.ingress_ip = address.apply(lambda a: a.ip)
        self.ingress_host = address.apply(lambda a: a.hostname)
        self.ingress_address = address.apply(lambda a: a.host)
        self.istio_version = pulumi.Output.from_input(istio_version)

        self.register_outputs(
            {"ingressIp": self.ingress_ip, "ingressHost": self.ingress_host, "istioVersion": self.istio_version}
        )

    def _gateway_api_crds(self, cluster: Cluster) -> pulumi.Resource:
        """The Gateway API CRDs of the release this Istio builds against, fetched
        during up (pre-flight checks the URL). On local-mesh's own minikube they
        go with the cluster. On a cluster that is not local-mesh's (which had
        none: components/checks/discovery.py), they are cluster-wide objects other
        workloads may come to use: destroy leaves them (retain_on_delete, on
        each object the ConfigFile creates), and a receipt in istio-system,
        made first and deleted on destroy, tells the next preview that this
        stack holds them."""
        if cluster.owned:
            return kubernetes.yaml.v2.ConfigFile(
                cluster.scope(GATEWAY_API_CRDS), file=GATEWAY_API_CRDS_URL, opts=cluster.kubernetes_options(self)
            )
        namespace = cluster.release_namespace(ISTIO_NAMESPACE)
        receipt = kubernetes.core.v1.ConfigMap(
            cluster.scope("gateway-api-crds-receipt"),
            metadata=kubernetes.meta.v1.ObjectMetaArgs(name=GATEWAY_API_RECEIPT, namespace=ISTIO_NAMESPACE),
            data={"bundleVersion": GATEWAY_API_VERSION, "url": GATEWAY_API_CRDS_URL},
            opts=cluster.kubernetes_options(self, [namespace] if namespace else []),
        )
        return kubernetes.yaml.v2.ConfigFile(
            cluster.scope(GATEWAY_API_CRDS),
            file=GATEWAY_API_CRDS_URL,
            opts=pulumi.ResourceOptions.merge(
                cluster.kubernetes_options(self, [receipt]),
                pulumi.ResourceOptions(retain_on_delete=True, transforms=[retained_on_delete]),
            ),
        )


def retained_on_delete(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult:
    """Each object a ConfigFile creates stays in the cluster when Pulumi deletes
    it (yaml/v2 passes no option of its own on to them; a transform reaches them)."""
    opts = pulumi.ResourceOptions.merge(args.opts, pulumi.ResourceOptions(retain_on_delete=True))
    return pulumi.ResourceTransformResult(args.props, opts)
