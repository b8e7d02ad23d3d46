"""Istio: its charts (base, istiod, the gateways; in ambient istio-cni and
ztunnel), from one repository at the `istioVersion` the stack asks for."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from components.model.images import pulled_from
from components.model.multicluster import EASTWEST_RELEASE, istiod_multicluster_values, network_name
from components.model.parts.jaeger import JAEGER_EXTENSION_PROVIDER
from components.model.release import (
    GATEWAY_API_CRDS,
    IMAGE_PULL_POLICY,
    LOAD_BALANCER,
    TRUST_ROOT,
    ChartRelease,
    Pod,
    Requests,
    Values,
    lean_or_chart,
    resources,
)

# From Istio 1.31 on, Istio publishes its charts only here (a classic Helm
# repository holding every older version too) and at oci://ghcr.io/istio/release/charts;
# istio-release.storage.googleapis.com gets no 1.31 chart (Istio 1.31 upgrade
# notes; shared/upstream/README.md, "Where the real artifacts are published").
ISTIO_REPOSITORY = "https://blob.istio.io/istio-release/charts"
ISTIO_NAMESPACE = "istio-system"
# The Gateway API release Istio 1.31 is built against (its go.mod:
# sigs.k8s.io/gateway-api v1.6.0); Istio 1.31 ignores TCPRoute CRDs older than v1.6.0.
GATEWAY_API_VERSION = "v1.6.0"
GATEWAY_API_CRDS_URL = (
    f"https://github.com/kubernetes-sigs/gateway-api/releases/download/{GATEWAY_API_VERSION}/standard-install.yaml"
)
# Istio's release tooling stamps this hub and the release's version as the
# image tag into the published charts' values.yaml, in place of the repository's
# placeholders `hub: registry.istio.io/testing`, `tag: latest` (istio/release-builder
# pkg/build/helm.go, updateValues; release/build.sh DOCKER_HUB=docker.io/istio).
ISTIO_HUB = "docker.io/istio"
# The chart profile that picks an image variant, appended to the tag (istiod,
# istio-cni files/profile-ambient.yaml: global.variant distroless).
IMAGE_VARIANT = {"ambient": "distroless"}
INGRESS_RELEASE = "istio-ingressgateway"
# The NodePort of the ingress gateway's port 80 where the node's container
# publishes it on a loopback port of the host (localPort): fixed, so that
# cluster-create.sh knows which container port to publish before the chart is
# installed. Inside Kubernetes' default NodePort range, 30000-32767
# (kube-apiserver --service-node-port-range).
INGRESS_NODE_PORT = 30080
EGRESS_RELEASE = "istio-egressgateway"

LEAN_ISTIOD = resources("50m", "160Mi", "1000m", "1Gi")
LEAN_GATEWAY = resources("20m", "64Mi", "1000m", "512Mi")
LEAN_SIDECAR = resources("10m", "40Mi", "500m", "256Mi")
LEAN_CNI = resources("10m", "40Mi", "200m", "128Mi")
LEAN_ZTUNNEL = resources("20m", "64Mi", "1000m", "512Mi")
# What the charts request where the plan sets nothing (`resources: istio`):
# istiod's values.yaml (`resources`, `global.proxy.resources`) and its demo
# profile (files/profile-demo.yaml: `pilot.resources`, `global.proxy.resources`),
# the gateway, istio-cni and ztunnel charts' `resources`. MetalLB's chart
# requests nothing. tests/test_render.py holds each against the rendered pods.
ISTIOD_DEFAULT = {"demo": Requests(10, 100), "minimal": Requests(500, 2048), "ambient": Requests(500, 2048)}
SIDECAR_DEFAULT = {"demo": Requests(10, 40), "minimal": Requests(100, 128), "ambient": Requests(100, 128)}
GATEWAY_DEFAULT = Requests(100, 128)
CNI_DEFAULT = Requests(100, 100)
ZTUNNEL_DEFAULT = Requests(200, 512)


def istio_hub(caches: bool) -> str:
    """Where the node pulls Istio's images from: Docker Hub, or its cache."""
    return pulled_from(ISTIO_HUB, caches)


def istio_image(name: str, version: str, variant: str, caches: bool) -> str:
    """An Istio image as its charts name it: `<hub>/<name>:<tag>[-<variant>]`
    (istiod, istio-cni, ztunnel templates/daemonset.yaml or deployment.yaml)."""
    return f"{istio_hub(caches)}/{name}:{version}{'-' + variant if variant else ''}"


def proxy_image(version: str, profile: str, caches: bool) -> str:
    """The proxy istiod's injector gives every sidecar and gateway pod (the
    gateway chart's `image: auto`): `global.hub`/`global.proxy.image`:`global.tag`
    with the image type of istiod's mesh config (defaultConfig.image.imageType,
    which templates/configmap.yaml sets from `global.variant`), else the variant
    itself (istio/istio 1.31.0-rc.0 pkg/kube/inject/inject.go ProxyImage,
    ProxyInitImage: the sidecar's istio-init runs the same proxyv2)."""
    return istio_image("proxyv2", version, IMAGE_VARIANT.get(profile, ""), caches)


def _istio(name: str, chart: str, version: str, values: Values, after: tuple[str, ...], **extra: Any) -> ChartRelease:
    return ChartRelease(
        name=name,
        chart=chart,
        repository=ISTIO_REPOSITORY,
        version=version,
        version_key="istioVersion",
        namespace=ISTIO_NAMESPACE,
        values=values,
        after=after,
        **extra,
    )


def _istiod(
    version: str,
    profile: str,
    tracing: bool,
    lean: bool,
    caches: bool,
    after: tuple[str, ...],
    cluster_index: int | None,
) -> ChartRelease:
    # `demo` and `ambient` select the chart's own profile files
    # (files/profile-demo.yaml: access logs to stdout, 100% trace sampling;
    # files/profile-ambient.yaml: PILOT_ENABLE_AMBIENT).
    values: Values = {"profile": profile} if profile in ("demo", "ambient") else {}
    # istiod's own container and, through its injector's templates, every sidecar
    # and gateway proxy (files/injection-template.yaml, gateway-injection-template.yaml:
    # `imagePullPolicy` from global.imagePullPolicy).
    values["global"] = {"imagePullPolicy": IMAGE_PULL_POLICY}
    if caches:
        # istiod's image and, through its injector, every proxy's (`global.hub`).
        values["global"]["hub"] = istio_hub(caches)
    if cluster_index is not None:
        values["global"].update(istiod_multicluster_values(cluster_index))
    pinned: dict[str, str] = {}
    if tracing and profile != "demo":
        # The Telemetry that turns tracing on names this provider. demo's chart
        # profile declares it already (with three others a list set here would drop).
        values["meshConfig"] = {"extensionProviders": [JAEGER_EXTENSION_PROVIDER]}
    if lean:
        # Under `pilot` only: the chart merges its profile over its defaults,
        # then copies `pilot.*` over the top level (templates/zzz_profile.yaml,
        # templates/zzy_descope_legacy.yaml), so a top-level copy is overwritten.
        values["pilot"] = {"autoscaleEnabled": False, "resources": LEAN_ISTIOD}
        values["global"]["proxy"] = {"resources": LEAN_SIDECAR}
        agrees = "demo's chart profile (files/profile-demo.yaml) happens to agree"
        pinned["pilot.autoscaleEnabled"] = f"lean runs one istiod in every profile; {agrees}"
        for request in ("cpu", "memory"):
            pinned[f"global.proxy.resources.requests.{request}"] = (
                f"lean sidecars request the same in every profile; {agrees}"
            )
    return _istio(
        "istiod",
        "istiod",
        version,
        values,
        after,
        pods=(Pod("istiod", "Deployment", lean_or_chart(lean, LEAN_ISTIOD, ISTIOD_DEFAULT[profile]), surges=True),),
        pinned=pinned,
        images=(istio_image("pilot", version, IMAGE_VARIANT.get(profile, ""), caches),),
    )


def _gateway_ports(node_port: int) -> list[Values]:
    """The gateway chart's own Service ports (values.yaml service.ports, a list
    that a value replaces whole), its port 80 (`http2`) on a fixed NodePort."""
    return [
        {"name": "status-port", "port": 15021, "protocol": "TCP", "targetPort": 15021},
        {"name": "http2", "port": 80, "protocol": "TCP", "targetPort": 80, "nodePort": node_port},
        {"name": "https", "port": 443, "protocol": "TCP", "targetPort": 443},
    ]


def _gateway(
    name: str,
    service_type: str,
    version: str,
    lean: bool,
    proxy: str,
    after: tuple[str, ...],
    node_port: int | None = None,
    network: str | None = None,
) -> ChartRelease:
    """The gateway chart names its Deployment, Service and `istio=` label after
    the release (minus `istio-`); Istio's samples select `istio: ingressgateway`.
    `proxy`: the image istiod's injector gives its pods (proxy_image);
    `node_port`: port 80's fixed NodePort, if any; `network`: the gateway is that
    network's east-west gateway (the chart's `networkGateway`: the Service's ports
    15021, 15443, 15012 and 15017, the `topology.istio.io/network` label and
    ISTIO_META_REQUESTED_NETWORK_VIEW)."""
    values: Values = {"service": {"type": service_type}}
    if node_port is not None:
        values["service"]["ports"] = _gateway_ports(node_port)
    if network is not None:
        values["networkGateway"] = network
    if lean:
        values.update({"autoscaling": {"enabled": False}, "replicaCount": 1, "resources": LEAN_GATEWAY})
    return _istio(
        name,
        "gateway",
        version,
        values,
        after,
        pods=(Pod(name, "Deployment", lean_or_chart(lean, LEAN_GATEWAY, GATEWAY_DEFAULT), surges=True),),
        pinned=(
            {"service.type": "a LoadBalancer Service with a real IP is the point of local-mesh"}
            if service_type == "LoadBalancer"
            else {}
        ),
        images=(proxy,),
    )


@dataclass(frozen=True)
class Istio:
    """Istio's releases in install order, and what a workload joining the mesh meets."""

    releases: list[ChartRelease]
    # The release after which a workload joins the mesh as it starts: istiod
    # (its webhook injects the sidecar), or in ambient the node agents' last.
    mesh_ready: str
    sidecar: Requests | None  # what istiod's injector gives each sidecar (None: no sidecars)


def istio_releases(
    version: str,
    profile: str,
    tracing: bool,
    lean: bool,
    cni_platform: str | None,
    installs_crds: bool,
    load_balancer: bool,
    caches: bool,
    local_port: bool,
    cluster_index: int | None = None,
) -> Istio:
    """`tracing`: Jaeger is installed; `cni_platform`: istio-cni's platform
    profile (ambient); `installs_crds`: local-mesh installs the Gateway API CRDs
    (ambient, where the cluster has none); `load_balancer`: MetalLB gives the
    ingress its address; `caches`: every image through the host's caches;
    `local_port`: the node publishes INGRESS_NODE_PORT on a loopback port of the host;
    `cluster_index`: which cluster of a multicluster mesh this is (None: the mesh has one cluster)."""
    ambient = profile == "ambient"
    releases = [_istio("istio-base", "base", version, {}, ())]
    istiod_after = ("istio-base", GATEWAY_API_CRDS) if installs_crds else ("istio-base",)
    if cluster_index is not None:
        # istiod starts its CA from the plugged-in cacerts, if there are any when
        # it starts (istio.io "Plug in CA certificates").
        istiod_after = (*istiod_after, TRUST_ROOT)
    releases.append(_istiod(version, profile, tracing, lean, caches, istiod_after, cluster_index))
    mesh_ready = "istiod"
    if ambient:
        # Istio's Helm order for ambient: base, istiod, istio-cni, ztunnel.
        # The platform profile says where the distribution keeps CNI files:
        # on local-mesh's minikube (docker runtime) cni.cniNetnsDir=/var/run/docker/netns
        # (files/profile-platform-minikube.yaml); on k3s the CNI config in
        # /var/lib/rancher/k3s/agent/etc/cni/net.d (profile-platform-k3s.yaml).
        cni: Values = {"profile": "ambient"}
        if cni_platform is not None:
            cni["platform"] = cni_platform
        ztunnel: Values = {}
        if lean:
            cni["resources"] = LEAN_CNI
            ztunnel["resources"] = LEAN_ZTUNNEL
        # Both charts leave the pull policy to Kubernetes' default unless set
        # (istio-cni templates/daemonset.yaml: pullPolicy or global.imagePullPolicy;
        # ztunnel templates/daemonset.yaml: imagePullPolicy).
        cni["global"] = {"imagePullPolicy": IMAGE_PULL_POLICY}
        ztunnel["imagePullPolicy"] = IMAGE_PULL_POLICY
        if caches:
            # istio-cni's image: `hub`, else `global.hub`; ztunnel's: `hub`
            # (templates/daemonset.yaml of each).
            cni["global"]["hub"] = istio_hub(caches)
            ztunnel["hub"] = istio_hub(caches)
        cni_pod = Pod("istio-cni-node", "DaemonSet", lean_or_chart(lean, LEAN_CNI, CNI_DEFAULT), surges=False)
        # ztunnel's chart: updateStrategy.rollingUpdate maxSurge 1, maxUnavailable 0.
        ztunnel_pod = Pod("ztunnel", "DaemonSet", lean_or_chart(lean, LEAN_ZTUNNEL, ZTUNNEL_DEFAULT), surges=True)
        # istio-cni takes the variant from its ambient profile; ztunnel gets no profile, so none.
        cni_image = istio_image("install-cni", version, IMAGE_VARIANT["ambient"], caches)
        ztunnel_image = istio_image("ztunnel", version, "", caches)
        releases.append(_istio("istio-cni", "cni", version, cni, ("istiod",), pods=(cni_pod,), images=(cni_image,)))
        releases.append(
            _istio("ztunnel", "ztunnel", version, ztunnel, ("istio-cni",), pods=(ztunnel_pod,), images=(ztunnel_image,))
        )
        mesh_ready = "ztunnel"
    # Gateway pods use `image: auto`, filled in by istiod's injection webhook.
    # Helm counts a LoadBalancer Service ready once it has an IP: the ingress
    # waits for MetalLB's pool (with loadBalancer none, the cluster's own).
    ingress_after = (mesh_ready, LOAD_BALANCER) if load_balancer else (mesh_ready,)
    proxy = proxy_image(version, profile, caches)
    node_port = INGRESS_NODE_PORT if local_port else None
    releases.append(_gateway(INGRESS_RELEASE, "LoadBalancer", version, lean, proxy, ingress_after, node_port))
    if profile == "demo":
        releases.append(_gateway(EGRESS_RELEASE, "ClusterIP", version, lean, proxy, (mesh_ready,)))
    if cluster_index is not None:
        # The other clusters reach this one's services through it, at its LoadBalancer address.
        releases.append(
            _gateway(
                EASTWEST_RELEASE,
                "LoadBalancer",
                version,
                lean,
                proxy,
                ingress_after,
                network=network_name(cluster_index),
            )
        )
    sidecar = None if ambient else lean_or_chart(lean, LEAN_SIDECAR, SIDECAR_DEFAULT[profile])
    return Istio(releases, mesh_ready, sidecar)
