"""The release plan: every part local-mesh installs on one cluster, in order,
made from the settings by one function (release_plan), which also decides
once what `observability` installs. Pure.

The MetalLB and Istio components install from the plan, components/model/footprint.py
sums it, and tests/test_render.py renders every release with the real charts
in shared/upstream: the values must change what the chart renders, and the
requests listed here must be what the rendered pods ask for.
"""

from __future__ import annotations

from dataclasses import dataclass

from components.model.parts.grafana import GRAFANA_DASHBOARD, grafana_release
from components.model.parts.helloworld import helloworld_images
from components.model.parts.istio import istio_releases, proxy_image
from components.model.parts.jaeger import JAEGER_DASHBOARD, jaeger_image
from components.model.parts.kiali import KIALI_DASHBOARD, kiali_links_to_grafana, kiali_release
from components.model.parts.metallb import metallb_release
from components.model.parts.prometheus import PROMETHEUS_DASHBOARD, prometheus_release
from components.model.parts.sample import sample_images
from components.model.release import GATEWAY_API_CRDS, ChartRelease, Dashboard, Requests
from components.model.settings import ClusterSettings, Settings


@dataclass(frozen=True)
class ClusterState:
    """What the cluster already has that the plan depends on, read through the
    stack's context before the plan is made (components/checks/discovery.py). The
    default is a cluster that reports nothing of it (local-mesh's own minikube)."""

    # The istio-cni platform profile its nodes report (CNI_PLATFORMS); None: none recognised.
    platform: str | None = None
    # Gateway API CRDs that local-mesh did not install: Istio uses them and local-mesh installs none.
    gateway_api_crds: bool = False


NOTHING_INSTALLED = ClusterState()


def cni_platform(settings: ClusterSettings, cluster: ClusterState) -> str | None:
    """istio-cni's `global.platform` (files/profile-platform-<name>.yaml): the
    `platform` key, or with `auto` local-mesh's own minikube's (docker runtime,
    cluster-create.sh), or what the existing cluster's nodes report. None: the
    chart's defaults (/etc/cni/net.d, /opt/cni/bin, /var/run/netns)."""
    if settings.platform == "none":
        return None
    if settings.platform != "auto":
        return settings.platform
    return "minikube" if settings.on_minikube else cluster.platform


@dataclass(frozen=True)
class Plan:
    releases: tuple[ChartRelease, ...]
    ambient: bool  # sidecar-less: workloads join by namespace label, istio-cni and ztunnel run
    sidecar: Requests | None  # what istiod's injector gives each sidecar (None: no sidecars)
    # The release after which a workload joins the mesh as it starts: istiod
    # (its webhook injects the sidecar), or in ambient the node agents' last.
    mesh_ready: str
    # Jaeger (`observability: full`), which is not a chart: components/jaeger.py.
    jaeger: bool
    # What the ingress may route, of what `observability` installs, in route order.
    dashboards: tuple[Dashboard, ...]
    # `resources: lean`: every pod of every part (charts or not) gets its lean resources.
    lean: bool
    # `imageCache`: every part's images through the host's caches (components/model/images.py).
    caches_images: bool
    # Every image the stack's pods run, sorted: the releases', Jaeger's, the sample's, helloworld's (output `images`).
    images: tuple[str, ...]

    def release(self, name: str) -> ChartRelease:
        (found,) = [release for release in self.releases if release.name == name]
        return found

    def mesh_releases(self, namespace: str) -> list[ChartRelease]:
        """The mesh's releases in this namespace (the dashboards aside: `addons`)."""
        return [release for release in self.releases if release.namespace == namespace and not release.addon]

    def addons(self) -> list[ChartRelease]:
        """The dashboards `observability` asks for."""
        return [release for release in self.releases if release.addon]

    @property
    def installs_gateway_api_crds(self) -> bool:
        """Whether a release waits for the Gateway API CRDs local-mesh installs from GATEWAY_API_CRDS_URL."""
        return any(GATEWAY_API_CRDS in release.after for release in self.releases)


def release_plan(settings: Settings, cluster: ClusterState = NOTHING_INSTALLED) -> Plan:
    """Every Helm release for these settings on this cluster, in install order."""
    lean = settings.resources == "lean"
    # What `observability` installs: Kiali and Prometheus, with `full` Grafana and Jaeger too.
    dashboards = settings.observability != "none"
    full = settings.observability == "full"
    caches = settings.caches_images
    releases = [metallb_release(settings.metallb_version, lean, caches)] if settings.metallb else []
    istio = istio_releases(
        settings.istio_version,
        settings.istio_profile,
        full,
        lean,
        cni_platform(settings, cluster),
        # Ambient's istiod waits for the Gateway API CRDs local-mesh installs; a
        # cluster that has its own keeps them (components/checks/discovery.py).
        installs_crds=settings.istio_profile == "ambient" and not cluster.gateway_api_crds,
        load_balancer=settings.metallb,
        caches=caches,
        local_port=settings.publishes_local_port,
        cluster_index=settings.cluster_index if settings.multicluster_mesh else None,
    )
    releases.extend(istio.releases)
    routed: list[Dashboard] = []
    if dashboards:
        links = kiali_links_to_grafana(full, settings.routes_dashboards, settings.metallb)
        releases.append(kiali_release(full, links, settings.routes_dashboards, settings.profile, lean, caches))
        releases.append(prometheus_release(lean, caches))
        routed.extend([KIALI_DASHBOARD, PROMETHEUS_DASHBOARD])
    if full:
        releases.append(grafana_release(full, lean, caches))
        routed.extend([GRAFANA_DASHBOARD, JAEGER_DASHBOARD])
    ambient = settings.istio_profile == "ambient"
    images = {image for release in releases for image in release.images}
    if full:
        images.add(jaeger_image(caches))
    sidecar_proxy = None if ambient else proxy_image(settings.istio_version, settings.istio_profile, caches)
    if settings.sample:
        images.update(sample_images(caches, sidecar_proxy))
    if settings.multicluster_mesh:
        images.update(helloworld_images(settings.clusters, caches, sidecar_proxy))
    return Plan(
        tuple(releases),
        ambient,
        istio.sidecar,
        istio.mesh_ready,
        full,
        tuple(routed),
        lean,
        caches,
        tuple(sorted(images)),
    )
