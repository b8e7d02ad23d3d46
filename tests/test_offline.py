"""Nothing in the cluster downloads from the internet when it starts, and no
container pulls an image the node already has: every pod comes back after
`minikube stop`/`start` (or a Docker restart) without the network.

Every release of the plan is rendered with the real charts, for every
istioProfile x resources x observability, beside every workload the program
writes itself (Jaeger, the httpbin sample) and the proxies istiod's injector
adds to them. Each container fails on a URL outside the cluster in its
command, arguments, environment or the script it runs from a mounted
ConfigMap, and on a pull policy that is not, or does not default to, IfNotPresent
(Always pulls at every start; Never cannot start on a node without the image).
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest

from components.model.parts.istio import ISTIO_NAMESPACE
from components.model.parts.metallb import METALLB_NAMESPACE
from components.model.parts.sample import SAMPLE_NAMESPACE
from components.model.plan import Plan, release_plan
from components.model.release import IMAGE_PULL_POLICY
from components.model.settings import ISTIO_PROFILES, OBSERVABILITY_LEVELS
from harness.config import EVERY_COMBINATION, settings_for
from harness.program import ProgramRun
from tests.conftest import SharedRun
from tests.upstream import Object, render

EVERY_STACK = [
    (profile, resources, observability)
    for profile, resources in EVERY_COMBINATION
    for observability in OBSERVABILITY_LEVELS
]
# The image the gateway charts name; istiod's injection webhook puts the proxy there.
INJECTED_IMAGE = "auto"
# Names that resolve inside the cluster: a Service's DNS names (`<service>.<namespace>`
# through the pod's DNS search path) and the pod itself.
IN_CLUSTER_SUFFIXES = (
    ".svc",
    ".cluster.local",
    *(f".{namespace}" for namespace in (ISTIO_NAMESPACE, METALLB_NAMESPACE, SAMPLE_NAMESPACE)),
)
LOOPBACK = {"localhost", "127.0.0.1", "0.0.0.0", "::1"}
_URL = re.compile(r"\b(?:https?|ftp)://[^\s\"'`,;)\]}>]+", re.IGNORECASE)


def outside_the_cluster(url: str) -> bool:
    """Whether a URL names a host outside the cluster. A name without a dot is
    a Service of the pod's own namespace (Kubernetes DNS search path)."""
    host = urllib.parse.urlsplit(url).hostname or ""
    return not (host in LOOPBACK or host.endswith(IN_CLUSTER_SUFFIXES) or (host and "." not in host))


def pod_specs(objects: list[Object]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each pod template, with the workload that runs it."""
    for item in objects:
        spec = item.get("spec") or {}
        if item["kind"] == "Pod":
            yield f"Pod/{item['metadata']['name']}", spec
        elif item["kind"] == "CronJob":
            yield f"CronJob/{item['metadata']['name']}", spec["jobTemplate"]["spec"]["template"]["spec"]
        elif "template" in spec and isinstance(spec["template"], dict) and "spec" in spec["template"]:
            yield f"{item['kind']}/{item['metadata']['name']}", spec["template"]["spec"]


def mounted_scripts(objects: list[Object], pod: dict[str, Any], container: dict[str, Any]) -> dict[str, str]:
    """The shell scripts a container sees from the ConfigMaps of its own release, by path."""
    configmaps = {item["metadata"]["name"]: item.get("data") or {} for item in objects if item["kind"] == "ConfigMap"}
    volumes = {volume["name"]: (volume.get("configMap") or {}).get("name") for volume in pod.get("volumes") or []}
    files: dict[str, str] = {}
    for mount in container.get("volumeMounts") or []:
        data = configmaps.get(volumes.get(mount["name"]) or "")
        if data is None:
            continue
        if mount.get("subPath"):
            if mount["subPath"] in data:
                files[mount["mountPath"]] = data[mount["subPath"]]
        else:
            files.update({f"{mount['mountPath'].rstrip('/')}/{key}": value for key, value in data.items()})
    return {path: text for path, text in files.items() if path.endswith(".sh") or text.startswith("#!")}


def downloads(objects: list[Object], pod: dict[str, Any], container: dict[str, Any]) -> list[str]:
    """The URLs outside the cluster a container is told to reach as it starts:
    in its command and arguments, its environment, and any mounted script they run."""
    words = [*(container.get("command") or []), *(container.get("args") or [])]
    texts = [*words, *(str(variable.get("value", "")) for variable in container.get("env") or [])]
    invoked = " ".join(words)
    texts += [text for path, text in mounted_scripts(objects, pod, container).items() if path in invoked]
    return [url for text in texts for url in _URL.findall(text) if outside_the_cluster(url)]


def default_pull_policy(image: str) -> str:
    """Kubernetes' default when a container sets none: Always for the `latest`
    tag, which an image without tag or digest gets, else IfNotPresent
    (k8s.io/kubernetes pkg/apis/core/v1/defaults.go, SetDefaults_Container)."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    tag = last.split(":", 1)[1] if ":" in last else ("" if "@" in image else "latest")
    return "Always" if tag == "latest" else "IfNotPresent"


def pull_policy(container: dict[str, Any], injected: str | None) -> str:
    """The policy the container runs with. A gateway's `image: auto` container
    is the proxy istiod's injector writes (`injected`: its policy)."""
    if container.get("imagePullPolicy"):
        return str(container["imagePullPolicy"])
    if container["image"] == INJECTED_IMAGE and injected is not None:
        return injected
    return default_pull_policy(container["image"])


def injected_pull_policy(plan: Plan) -> str:
    """The policy of the proxies istiod's injector adds (sidecars and gateways):
    its templates write global.imagePullPolicy when set (istiod
    files/injection-template.yaml, gateway-injection-template.yaml), else
    Kubernetes' default for the proxy image."""
    (injector,) = [
        item
        for item in render(plan.release("istiod"))
        if item["kind"] == "ConfigMap" and item["metadata"]["name"] == "istio-sidecar-injector"
    ]
    proxy_global = json.loads(injector["data"]["values"])["global"]
    if proxy_global.get("imagePullPolicy"):
        return str(proxy_global["imagePullPolicy"])
    return default_pull_policy(f"{proxy_global['hub']}/{proxy_global['proxy']['image']}:{proxy_global['tag']}")


def problems(objects: list[Object], injected: str | None, owner: str) -> list[str]:
    found = []
    for workload, pod in pod_specs(objects):
        for container in [*(pod.get("initContainers") or []), *pod["containers"]]:
            where = f"{owner} {workload} container {container['name']}"
            found += [f"{where} downloads {url} at start" for url in downloads(objects, pod, container)]
            policy = pull_policy(container, injected)
            if policy != IMAGE_PULL_POLICY:
                found.append(f"{where} pulls {container['image']} at every start (imagePullPolicy {policy})")
    return found


@pytest.mark.parametrize(("istio_profile", "resources", "observability"), EVERY_STACK)
def test_no_release_downloads_at_start_or_always_pulls(istio_profile: str, resources: str, observability: str) -> None:
    plan = release_plan(settings_for(istio_profile, resources, observability=observability))
    injected = injected_pull_policy(plan)
    found = [f"istiod's injector gives every proxy imagePullPolicy {injected}"] if injected != IMAGE_PULL_POLICY else []
    found += [problem for release in plan.releases for problem in problems(render(release), injected, release.name)]
    assert found == []


@pytest.mark.parametrize("istio_profile", ISTIO_PROFILES)
def test_the_programs_own_workloads_neither_download_nor_always_pull(istio_profile: str, shared_run: SharedRun) -> None:
    run: ProgramRun = shared_run(istioProfile=istio_profile)
    objects = [r.inputs for r in run.registrations if r.type.startswith("kubernetes:") and "kind" in r.inputs]
    assert {item["metadata"]["name"] for item in objects if item["kind"] == "Deployment"} == {"jaeger", "httpbin"}
    assert problems(objects, None, "program") == []


def test_a_download_or_an_always_pull_is_caught() -> None:
    """The checks find what the Grafana chart's own dashboard download and
    Kiali's chart default would do."""
    plan = release_plan(settings_for("demo", "lean", observability="full"))
    grafana = plan.release("grafana")
    url = "https://raw.githubusercontent.com/istio/istio/1.31.1/manifests/addons/dashboards/pilot-dashboard.gen.json"
    downloading = {**grafana.values, "dashboards": {"istio": {"pilot": {"url": url}}}}
    assert problems(render(grafana, downloading), "IfNotPresent", "grafana") == [
        f"grafana Deployment/grafana container download-dashboards downloads {url} at start"
    ]
    kiali = plan.release("kiali")
    always = {**kiali.values, "deployment": {**kiali.values["deployment"], "image_pull_policy": "Always"}}
    assert [problem.split(" (")[1] for problem in problems(render(kiali, always), None, "kiali")] == [
        "imagePullPolicy Always)"
    ]
    assert default_pull_policy("docker.io/istio/pilot") == "Always"
    assert default_pull_policy("docker.io/istio/pilot:latest") == "Always"
    assert default_pull_policy("registry:5000/istio/pilot:1.31.1") == "IfNotPresent"
    assert default_pull_policy("docker.io/istio/pilot@sha256:" + "0" * 64) == "IfNotPresent"
    assert outside_the_cluster("http://grafana.example.com:3000/") is True
    assert outside_the_cluster("http://prometheus.istio-system.svc:9090/prometheus") is False
    assert outside_the_cluster("http://127.0.0.1:9090/prometheus/-/reload") is False
