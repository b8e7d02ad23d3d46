"""Jaeger's objects in the cluster: what components/model/parts/jaeger.py describes."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as kubernetes
import yaml

from components.helm import Scope
from components.model.parts.istio import ISTIO_NAMESPACE
from components.model.parts.jaeger import (
    HEALTH_PORT,
    JAEGER_LABELS,
    JAEGER_SERVICES,
    jaeger_config,
    jaeger_image,
    jaeger_resources,
    telemetry_spec,
)
from components.model.release import IMAGE_PULL_POLICY


def install_jaeger(lean: bool, caches: bool, istio_profile: str, options: pulumi.ResourceOptions, scope: Scope) -> None:
    """Jaeger's objects, each with `options` (parent, provider, deleted with the cluster, what it waits for)
    and named by `scope`; `caches`: its image through the host's cache."""

    def meta(object_name: str) -> kubernetes.meta.v1.ObjectMetaArgs:
        return kubernetes.meta.v1.ObjectMetaArgs(name=object_name, namespace=ISTIO_NAMESPACE, labels=JAEGER_LABELS)

    config = kubernetes.core.v1.ConfigMap(
        scope("jaeger"),
        metadata=meta("jaeger"),
        data={"config.yaml": yaml.safe_dump(jaeger_config(), sort_keys=False)},
        opts=options,
    )
    probe = kubernetes.core.v1.ProbeArgs(
        http_get=kubernetes.core.v1.HTTPGetActionArgs(path="/status", port=HEALTH_PORT)
    )
    kubernetes.apps.v1.Deployment(
        scope("jaeger"),
        metadata=meta("jaeger"),
        spec=kubernetes.apps.v1.DeploymentSpecArgs(
            replicas=1,
            # Traces live in the pod's memory: two pods would split them.
            strategy=kubernetes.apps.v1.DeploymentStrategyArgs(type="Recreate"),
            selector=kubernetes.meta.v1.LabelSelectorArgs(match_labels=JAEGER_LABELS),
            template=kubernetes.core.v1.PodTemplateSpecArgs(
                metadata=kubernetes.meta.v1.ObjectMetaArgs(
                    labels={**JAEGER_LABELS, "sidecar.istio.io/inject": "false"}
                ),
                spec=kubernetes.core.v1.PodSpecArgs(
                    containers=[
                        kubernetes.core.v1.ContainerArgs(
                            name="jaeger",
                            image=jaeger_image(caches),
                            image_pull_policy=IMAGE_PULL_POLICY,
                            args=["--config", "/jaeger-configuration/config.yaml"],
                            liveness_probe=probe,
                            readiness_probe=probe,
                            resources=kubernetes.core.v1.ResourceRequirementsArgs(**jaeger_resources(lean)),
                            volume_mounts=[
                                kubernetes.core.v1.VolumeMountArgs(
                                    name="configuration", mount_path="/jaeger-configuration"
                                )
                            ],
                        )
                    ],
                    volumes=[
                        kubernetes.core.v1.VolumeArgs(
                            name="configuration",
                            config_map=kubernetes.core.v1.ConfigMapVolumeSourceArgs(name=config.metadata.name),
                        )
                    ],
                ),
            ),
        ),
        opts=options,
    )
    for service, ports in JAEGER_SERVICES.items():
        kubernetes.core.v1.Service(
            scope(service),
            metadata=meta(service),
            spec=kubernetes.core.v1.ServiceSpecArgs(
                selector=JAEGER_LABELS,
                ports=[
                    kubernetes.core.v1.ServicePortArgs(name=port_name, port=port, target_port=target)
                    for port_name, port, target in ports
                ],
            ),
            opts=options,
        )
    # After istiod (in `options`), whose webhook validates Istio's custom resources.
    kubernetes.apiextensions.CustomResource(
        scope("mesh-tracing"),
        api_version="telemetry.istio.io/v1",
        kind="Telemetry",
        metadata=kubernetes.meta.v1.ObjectMetaArgs(name="mesh-default", namespace=ISTIO_NAMESPACE),
        spec=telemetry_spec(istio_profile),
        opts=options,
    )
