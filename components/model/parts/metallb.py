"""MetalLB: the chart that gives LoadBalancer Services addresses (loadBalancer metallb)."""

from __future__ import annotations

from components.model.images import pulled_from
from components.model.release import NO_REQUESTS, ChartRelease, Pod, Values, lean_or_chart, resources

METALLB_REPOSITORY = "https://metallb.github.io/metallb"
METALLB_NAMESPACE = "metallb-system"
LEAN_METALLB = resources("10m", "32Mi", "100m", "128Mi")
# The chart's images: `<component>.image.repository`, tagged with the chart's
# appVersion, which MetalLB's release process sets to `v<version>` (chart
# values.yaml controller.image, speaker.image; Chart.yaml appVersion; templates/
# controller.yaml, speaker.yaml). The speaker's FRR containers are off with L2.
METALLB_IMAGES = {"controller": "quay.io/metallb/controller", "speaker": "quay.io/metallb/speaker"}


def metallb_release(version: str, lean: bool, caches: bool) -> ChartRelease:
    """`caches`: every image through the host's caches."""
    speaker: Values = {
        # MetalLB >= 0.14 skips nodes labelled
        # node.kubernetes.io/exclude-from-external-load-balancers, which kubeadm
        # puts on minikube's control-plane node: without this an IP is assigned
        # but nobody answers ARP for it (chart values.yaml: speaker.ignoreExcludeLB).
        "ignoreExcludeLB": True,
    }
    values: Values = {
        "speaker": speaker,
        # MetalLB 0.16's chart enables the frr-k8s BGP backend by default; L2 needs none.
        "frrk8s": {"enabled": False},
    }
    controller: Values = {}
    if lean:
        controller["resources"] = LEAN_METALLB
        speaker["resources"] = LEAN_METALLB
    if caches:
        controller["image"] = {"repository": pulled_from(METALLB_IMAGES["controller"], caches)}
        speaker["image"] = {"repository": pulled_from(METALLB_IMAGES["speaker"], caches)}
    if controller:
        values["controller"] = controller
    each = lean_or_chart(lean, LEAN_METALLB, NO_REQUESTS)
    return ChartRelease(
        name="metallb",
        chart="metallb",
        repository=METALLB_REPOSITORY,
        version=version,
        version_key="metallbVersion",
        namespace=METALLB_NAMESPACE,
        values=values,
        pods=(
            Pod("metallb-controller", "Deployment", each, surges=True),
            Pod("metallb-speaker", "DaemonSet", each, surges=False),
        ),
        images=tuple(f"{pulled_from(image, caches)}:v{version}" for image in METALLB_IMAGES.values()),
    )
