"""Istio's httpbin sample behind the ingress gateway: proof that the mesh works."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi
import pulumi_kubernetes as kubernetes

from components.cluster import Cluster
from components.istio import MESH_GATEWAY
from components.model.parts.sample import (
    HTTPBIN_LABELS,
    HTTPBIN_PORT,
    HTTPBIN_TARGET_PORT,
    SAMPLE_NAMESPACE,
    SAMPLE_ROUTED_PREFIXES,
    httpbin_image,
    httpbin_resources,
    sample_namespace_labels,
)
from components.model.plan import Plan
from components.model.release import IMAGE_PULL_POLICY


def sample_virtual_service_spec() -> dict[str, Any]:
    # Hostless ("*"), so `curl http://<ingressIp>/status/200` needs no Host header.
    return {
        "hosts": ["*"],
        "gateways": [MESH_GATEWAY],
        "http": [
            {
                "match": [{"uri": {"prefix": prefix}} for prefix in SAMPLE_ROUTED_PREFIXES],
                "route": [
                    {
                        "destination": {
                            "host": f"httpbin.{SAMPLE_NAMESPACE}.svc.cluster.local",
                            "port": {"number": HTTPBIN_PORT},
                        }
                    }
                ],
            }
        ],
    }


class Sample(pulumi.ComponentResource):
    """Namespace `sample` in the mesh (sidecar injection, or ambient's
    dataplane label), httpbin, and a VirtualService on the mesh's Gateway that
    routes `/status` and `/delay` to it."""

    url: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        plan: Plan,
        cluster: Cluster,
        ingress_address: pulumi.Output[str],
        after: Sequence[pulumi.Resource],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """`ingress_address`: the ingress gateway's IP or hostname; `after`: what
        a workload waits for to join the mesh as it starts (Istio.mesh_ready)."""
        super().__init__("local-mesh:sample:Sample", name, None, opts)
        # After the mesh is ready for workloads (istiod, and so istio-base; in
        # ambient the node agents): a pod created before the injection webhook
        # serves would start without its sidecar, and the Gateway and
        # VirtualService need Istio's CRDs. Not after the ingress gateway: the
        # sample rolls out while the gateway does.
        in_cluster = cluster.kubernetes_options(self, after)

        def meta(name: str, labels: dict[str, str] | None = None) -> kubernetes.meta.v1.ObjectMetaArgs:
            return kubernetes.meta.v1.ObjectMetaArgs(name=name, namespace=SAMPLE_NAMESPACE, labels=labels)

        namespace = kubernetes.core.v1.Namespace(
            cluster.scope("sample"),
            metadata=kubernetes.meta.v1.ObjectMetaArgs(
                name=SAMPLE_NAMESPACE, labels=sample_namespace_labels(plan.ambient)
            ),
            opts=in_cluster,
        )
        in_namespace = cluster.kubernetes_options(self, [*after, namespace])
        account = kubernetes.core.v1.ServiceAccount(
            cluster.scope("httpbin"), metadata=meta("httpbin"), opts=in_namespace
        )
        kubernetes.core.v1.Service(
            cluster.scope("httpbin"),
            metadata=meta("httpbin", {"app": "httpbin", "service": "httpbin"}),
            spec=kubernetes.core.v1.ServiceSpecArgs(
                ports=[
                    kubernetes.core.v1.ServicePortArgs(name="http", port=HTTPBIN_PORT, target_port=HTTPBIN_TARGET_PORT)
                ],
                selector={"app": "httpbin"},
            ),
            opts=in_namespace,
        )
        kubernetes.apps.v1.Deployment(
            cluster.scope("httpbin"),
            metadata=meta("httpbin"),
            spec=kubernetes.apps.v1.DeploymentSpecArgs(
                replicas=1,
                selector=kubernetes.meta.v1.LabelSelectorArgs(match_labels=HTTPBIN_LABELS),
                template=kubernetes.core.v1.PodTemplateSpecArgs(
                    metadata=kubernetes.meta.v1.ObjectMetaArgs(labels=HTTPBIN_LABELS),
                    spec=kubernetes.core.v1.PodSpecArgs(
                        service_account_name=account.metadata.name,
                        containers=[
                            kubernetes.core.v1.ContainerArgs(
                                name="httpbin",
                                image=httpbin_image(plan.caches_images),
                                image_pull_policy=IMAGE_PULL_POLICY,
                                ports=[kubernetes.core.v1.ContainerPortArgs(container_port=HTTPBIN_TARGET_PORT)],
                                resources=(
                                    kubernetes.core.v1.ResourceRequirementsArgs(**requests)
                                    if (requests := httpbin_resources(plan.lean))
                                    else None
                                ),
                            )
                        ],
                    ),
                ),
            ),
            opts=in_namespace,
        )
        kubernetes.apiextensions.CustomResource(
            cluster.scope("httpbin"),
            api_version="networking.istio.io/v1",
            kind="VirtualService",
            metadata=meta("httpbin"),
            spec=sample_virtual_service_spec(),
            opts=in_namespace,
        )

        self.url = pulumi.Output.concat("http://", ingress_address, "/status/200")
        self.register_outputs({"sampleUrl": self.url})
