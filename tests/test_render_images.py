"""Every image the stack's pods run, and where the node pulls it from.

The plan's releases are rendered with the real charts (shared/upstream, as
Istio publishes them: tests/upstream.py published_chart), for every
istioProfile x resources x observability, with `imageCache` on and off. The
images their workloads name, init containers included, with the gateways'
`image: auto` replaced by the proxy istiod's injector writes there, must be
what each part lists. The program itself, under mocks, must output as
`images` exactly what its releases render, its own objects (Jaeger, httpbin)
run and the injector adds to the sample's pod. With the cache off every image
comes from one of UPSTREAM_REGISTRIES; with it on, every image from the cache
of its registry, so that a Docker Hub image goes through a cache as well
(minikube's --registry-mirror would reach Docker Hub's alone).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from components.model.images import UPSTREAM_REGISTRIES, cache_host, registry_of
from components.model.plan import Plan, release_plan
from components.model.release import ChartRelease
from components.model.settings import OBSERVABILITY_LEVELS
from harness.config import EVERY_COMBINATION, settings_for
from harness.kinds import RELEASE
from harness.program import ProgramRun
from tests.conftest import SharedRun
from tests.test_offline import INJECTED_IMAGE, pod_specs
from tests.test_render import one, selects
from tests.upstream import Object, render, render_chart

CACHE_MODES = ("on", "off")
EVERY_STACK = [
    (profile, resources, observability, cache)
    for profile, resources in EVERY_COMBINATION
    for observability in OBSERVABILITY_LEVELS
    for cache in CACHE_MODES
]
STACK_IDS = ["-".join(stack) for stack in EVERY_STACK]
# Image types Istio publishes, which its injector strips from a tag before it
# appends the variant (istio/istio 1.31.0-rc.0 pkg/kube/inject/inject.go KnownImageTypes).
KNOWN_IMAGE_TYPES = ("distroless", "debug")


def istio_image_url(hub: str, name: str, tag: str, image_type: str) -> str:
    """inject.go imageURL / updateImageTypeIfPresent (istio/istio 1.31.0-rc.0)."""
    if image_type:
        for known in KNOWN_IMAGE_TYPES:
            tag = tag.removesuffix(f"-{known}")
        if image_type != "default":
            tag = f"{tag}-{image_type}"
    return f"{hub}/{name}:{tag}"


def injected_images(istiod: list[Object]) -> set[str]:
    """The images istiod's injector writes into a pod (a sidecar's istio-init
    and istio-proxy, a gateway's istio-proxy), from its rendered values and mesh
    config as inject.go ProxyImage, ProxyInitImage and proxyImageURL read them:
    `global.hub`/`global.proxy(_init).image`:`global.tag`, with the proxy's
    image type from meshConfig defaultConfig.image.imageType, else (and for
    istio-init always) `global.variant`."""
    values = json.loads(one(istiod, "ConfigMap", "istio-sidecar-injector")["data"]["values"])["global"]
    mesh = yaml.safe_load(one(istiod, "ConfigMap", "istio")["data"]["mesh"])
    variant = values.get("variant", "")
    proxy_type = ((mesh.get("defaultConfig") or {}).get("image") or {}).get("imageType") or variant
    images = set()
    for container, image_type in (("proxy", proxy_type), ("proxy_init", variant)):
        name = values[container]["image"]
        # A name with a `/` is used as it stands (files/injection-template.yaml,
        # gateway-injection-template.yaml); local-mesh never sets one.
        assert "/" not in name
        images.add(istio_image_url(values["hub"], name, str(values["tag"]), image_type))
    return images


def container_images(objects: list[Object], proxy: str) -> set[str]:
    """The images every container of every workload names, init containers too;
    a gateway's `image: auto` is the proxy the injector writes there."""
    return {
        proxy if container["image"] == INJECTED_IMAGE else container["image"]
        for _, pod in pod_specs(objects)
        for container in [*(pod.get("initContainers") or []), *pod["containers"]]
    }


def the_proxy(injected: set[str]) -> str:
    """The one proxy image: a sidecar's istio-init runs the same proxyv2 as its istio-proxy."""
    (proxy,) = injected
    return proxy


def where_from(images: set[str] | list[str], caches: bool) -> list[str]:
    """The images that do not come from where the stack's imageCache says."""
    if caches:
        hosts = tuple(f"{cache_host(registry)}/" for registry in UPSTREAM_REGISTRIES)
        return [image for image in images if not image.startswith(hosts)]
    return [image for image in images if registry_of(image) not in UPSTREAM_REGISTRIES]


@pytest.fixture(scope="module", params=EVERY_STACK, ids=STACK_IDS)
def stack(request: pytest.FixtureRequest) -> tuple[Plan, bool]:
    profile, resources, observability, cache = request.param
    plan = release_plan(settings_for(profile, resources, observability=observability, imageCache=cache))
    return plan, cache == "on"


def rendered_images(release: ChartRelease, proxy: str) -> set[str]:
    return container_images(render(release), proxy)


def test_each_part_lists_the_images_its_chart_runs(stack: tuple[Plan, bool]) -> None:
    plan, caches = stack
    assert plan.caches_images is caches
    proxy = the_proxy(injected_images(render(plan.release("istiod"))))
    for release in plan.releases:
        assert set(release.images) == rendered_images(release, proxy), release.name
        assert len(release.images) == len(set(release.images)), release.name


def test_every_image_comes_from_the_cache_or_upstream_as_configured(stack: tuple[Plan, bool]) -> None:
    plan, caches = stack
    proxy = the_proxy(injected_images(render(plan.release("istiod"))))
    rendered = {image for release in plan.releases for image in rendered_images(release, proxy)}
    assert rendered <= set(plan.images)
    assert where_from(set(plan.images), caches) == []
    assert list(plan.images) == sorted(set(plan.images))


def test_a_part_left_upstream_is_caught() -> None:
    """A chart whose image the plan leaves at its default, with the cache on."""
    plan = release_plan(settings_for("demo", "lean", observability="full", imageCache="on"))
    prometheus = plan.release("prometheus")
    values = {**prometheus.values, "server": {k: v for k, v in prometheus.values["server"].items() if k != "image"}}
    images = container_images(render(prometheus, values), "unused")
    assert where_from(images, caches=True) == ["quay.io/prometheus/prometheus:v3.10.0"]
    assert where_from(["docker.io/istio/pilot:1.31.1"], caches=False) == []
    assert where_from(["registry.istio.io/testing/pilot:latest"], caches=False) != []
    assert istio_image_url("h", "proxyv2", "1.31.1-distroless", "") == "h/proxyv2:1.31.1-distroless"
    assert istio_image_url("h", "proxyv2", "1.31.1-debug", "distroless") == "h/proxyv2:1.31.1-distroless"
    assert istio_image_url("h", "proxyv2", "1.31.1-distroless", "default") == "h/proxyv2:1.31.1"


# --- the program's output, against what it installs ---

PROGRAM_STACKS = [
    (profile, observability, cache)
    for profile in ("demo", "minimal", "ambient")
    for observability in OBSERVABILITY_LEVELS
    for cache in CACHE_MODES
]


def namespace_labels(run: ProgramRun) -> dict[str, dict[str, str]]:
    """The namespaces the program creates, by name, with their labels."""
    return {
        r.inputs["metadata"]["name"]: r.inputs["metadata"].get("labels") or {}
        for r in run.registrations
        if r.type == "kubernetes:core/v1:Namespace"
    }


def sidecar_injected(istiod: list[Object], namespace: str, labels: dict[str, str], pod: dict[str, str]) -> bool:
    """Whether istiod's rendered webhook gives this pod a sidecar (the API
    server labels every namespace with kubernetes.io/metadata.name)."""
    namespace_labels = {**labels, "kubernetes.io/metadata.name": namespace}
    return any(
        selects(hook.get("namespaceSelector"), namespace_labels) and selects(hook.get("objectSelector"), pod)
        for hook in one(istiod, "MutatingWebhookConfiguration")["webhooks"]
    )


def installed_images(run: ProgramRun) -> set[str]:
    """What the program's releases render, what its own workloads run, and
    what istiod's injector adds to those it injects."""
    rendered = {
        name: render_chart(
            release.inputs["chart"],
            name,
            release.inputs["namespace"],
            release.inputs.get("values") or {},
            release.inputs["version"],
        )
        for name, release in run.releases().items()
    }
    injected = injected_images(rendered["istiod"])
    proxy = the_proxy(injected)
    images = {image for objects in rendered.values() for image in container_images(objects, proxy)}
    namespaces = namespace_labels(run)
    for registration in run.registrations:
        if registration.type != "kubernetes:apps/v1:Deployment":
            continue
        deployment: dict[str, Any] = registration.inputs
        images |= container_images([{"kind": "Deployment", **deployment}], proxy)
        namespace = deployment["metadata"]["namespace"]
        pod_labels = deployment["spec"]["template"]["metadata"].get("labels") or {}
        if namespace in namespaces and sidecar_injected(
            rendered["istiod"], namespace, namespaces[namespace], pod_labels
        ):
            images |= injected
    return images


@pytest.mark.parametrize(
    ("profile", "observability", "cache"), PROGRAM_STACKS, ids=["-".join(s) for s in PROGRAM_STACKS]
)
def test_the_images_output_is_what_the_stack_runs(
    shared_run: SharedRun, profile: str, observability: str, cache: str
) -> None:
    run = shared_run(istioProfile=profile, observability=observability, imageCache=cache)
    assert RELEASE in {r.type for r in run.registrations}
    assert run.outputs["images"] == sorted(installed_images(run))
    assert where_from(run.outputs["images"], cache == "on") == []


@pytest.mark.parametrize("cache", ["on", "off"])
def test_a_multicluster_stacks_images_output_is_what_every_cluster_runs(shared_run: SharedRun, cache: str) -> None:
    """With `clusters` 2 the clusters run helloworld v1 and v2 and curl beside the releases."""
    run = shared_run(clusters=2, imageCache=cache)
    assert run.outputs["images"] == sorted(installed_images(run))
    assert where_from(run.outputs["images"], cache == "on") == []
