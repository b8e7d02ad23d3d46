"""Istio's httpbin sample behind the ingress gateway: proof that the mesh works."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_kubernetes as kubernetes

from components.cluster import MinikubeCluster
from components.settings import Settings
from components.values import (
    HTTPBIN_IMAGE,
    HTTPBIN_PORT,
    HTTPBIN_TARGET_PORT,
    SAMPLE_GATEWAY_NAME,
    SAMPLE_NAMESPACE,
    httpbin_resources,
    sample_gateway_spec,
    sample_namespace_labels,
    sample_virtual_service_spec,
)

LABELS = {"app": "httpbin", "version": "v1"}


class Sample(pulumi.ComponentResource):
    """Namespace `sample` in the mesh (sidecar injection, or ambient's
    dataplane label), httpbin, and an Istio Gateway and VirtualService that
    route `/status` and `/delay` to it."""

    url: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        settings: Settings,
        cluster: MinikubeCluster,
        ingress_ip: pulumi.Output[str],
        after: Sequence[pulumi.Resource],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("local-mesh:sample:Sample", name, None, opts)
        # After the ingress gateway (and so istiod): a pod created before the
        # injection webhook serves would start without its sidecar.
        in_cluster = cluster.in_cluster(self, after)

        def meta(name: str, labels: dict[str, str] | None = None) -> kubernetes.meta.v1.ObjectMetaArgs:
            return kubernetes.meta.v1.ObjectMetaArgs(name=name, namespace=SAMPLE_NAMESPACE, labels=labels)

        namespace = kubernetes.core.v1.Namespace(
            "sample",
            metadata=kubernetes.meta.v1.ObjectMetaArgs(
                name=SAMPLE_NAMESPACE, labels=sample_namespace_labels(settings.istio_profile)
            ),
            opts=in_cluster,
        )
        in_namespace = cluster.in_cluster(self, [*after, namespace])
        account = kubernetes.core.v1.ServiceAccount("httpbin", metadata=meta("httpbin"), opts=in_namespace)
        kubernetes.core.v1.Service(
            "httpbin",
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
            "httpbin",
            metadata=meta("httpbin"),
            spec=kubernetes.apps.v1.DeploymentSpecArgs(
                replicas=1,
                selector=kubernetes.meta.v1.LabelSelectorArgs(match_labels=LABELS),
                template=kubernetes.core.v1.PodTemplateSpecArgs(
                    metadata=kubernetes.meta.v1.ObjectMetaArgs(labels=LABELS),
                    spec=kubernetes.core.v1.PodSpecArgs(
                        service_account_name=account.metadata.name,
                        containers=[
                            kubernetes.core.v1.ContainerArgs(
                                name="httpbin",
                                image=HTTPBIN_IMAGE,
                                image_pull_policy="IfNotPresent",
                                ports=[kubernetes.core.v1.ContainerPortArgs(container_port=HTTPBIN_TARGET_PORT)],
                                resources=(
                                    kubernetes.core.v1.ResourceRequirementsArgs(**requests)
                                    if (requests := httpbin_resources(settings.resources))
                                    else None
                                ),
                            )
                        ],
                    ),
                ),
            ),
            opts=in_namespace,
        )
        for kind, resource_name, spec in (
            ("Gateway", SAMPLE_GATEWAY_NAME, sample_gateway_spec()),
            ("VirtualService", "httpbin", sample_virtual_service_spec()),
        ):
            kubernetes.apiextensions.CustomResource(
                resource_name,
                api_version="networking.istio.io/v1",
                kind=kind,
                metadata=meta(resource_name),
                spec=spec,
                opts=in_namespace,
            )

        self.url = pulumi.Output.concat("http://", ingress_ip, "/status/200")
        self.register_outputs({"sampleUrl": self.url})
