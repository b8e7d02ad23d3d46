"""The real upstream artifacts in shared/upstream, for tests: the charts
rendered with Helm's own Go SDK (helm-python-sdk), and every object validated
against its real schema (Kubernetes kinds with kubernetes-validate, custom
kinds with their CRDs).
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import helm_python
import jsonschema
import kubernetes_validate
import yaml

from components.model.parts.grafana import GRAFANA_VERSION
from components.model.parts.kiali import KIALI_VERSION
from components.model.parts.prometheus import PROMETHEUS_VERSION
from components.model.release import ChartRelease
from harness.world import ADDONS_DATA, GATEWAY_API_DATA, ISTIO_DATA, METALLB_DATA, upstream

# The Kubernetes version objects are validated for: minikube 1.38.1's default,
# inside Istio 1.31's support range (1.32 to 1.36).
KUBERNETES_SCHEMA_VERSION = "1.35.0"
CHART_FOLDERS = {
    "base": f"{ISTIO_DATA}/base",
    "istiod": f"{ISTIO_DATA}/istiod",
    "gateway": f"{ISTIO_DATA}/gateway",
    "cni": f"{ISTIO_DATA}/istio-cni",
    "ztunnel": f"{ISTIO_DATA}/ztunnel",
    "metallb": f"{METALLB_DATA}/chart",
    # helm_python.Chart.load reads a packaged chart (.tgz) as well as a folder.
    "kiali-server": f"{ADDONS_DATA}/kiali-server-{KIALI_VERSION}.tgz",
    "prometheus": f"{ADDONS_DATA}/prometheus-{PROMETHEUS_VERSION}",
    "grafana": f"{ADDONS_DATA}/grafana-{GRAFANA_VERSION}",
}
# Where the custom kinds' schemas come from.
CRD_FILES = (
    f"{ISTIO_DATA}/base/files/crd-all.gen.yaml",
    f"{METALLB_DATA}/crd-ipaddresspools.yaml",
    f"{METALLB_DATA}/crd-l2advertisements.yaml",
    *(f"{GATEWAY_API_DATA}/standard/gateway.networking.k8s.io_{kind}.yaml" for kind in ("gateways", "httproutes")),
)

Object = dict[str, Any]

# Istio's charts in shared/upstream carry the repository's image placeholders;
# Istio's release tooling stamps each published chart's values.yaml with its hub
# and the release's version as the tag, by plain text replacement
# (istio/release-builder pkg/build/helm.go updateValues: `hub: registry.istio.io/testing`
# -> `hub: <manifest.Docker>`, `tag: latest` -> `tag: <manifest.Version>`;
# release/build.sh DOCKER_HUB=docker.io/istio).
ISTIO_CHARTS = ("base", "istiod", "gateway", "cni", "ztunnel")
PUBLISHED_ISTIO_HUB = "docker.io/istio"
_STAMPED = tempfile.TemporaryDirectory(prefix="published-charts-")


@cache
def published_chart(chart: str, version: str) -> Path:
    """A copy of Istio's `chart` as Istio publishes it at `version`."""
    target = Path(_STAMPED.name) / version / chart
    shutil.copytree(upstream(CHART_FOLDERS[chart]), target)
    values = target / "values.yaml"
    text = values.read_text().replace("hub: registry.istio.io/testing", f"hub: {PUBLISHED_ISTIO_HUB}")
    values.write_text(text.replace("tag: latest", f"tag: {version}"))
    return target


def load_yaml(relative: str) -> Any:
    return yaml.safe_load(upstream(relative).read_text())


# libyaml's loader where PyYAML has it: the rendered CRDs and injection templates are large.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@cache
def _render(chart: str, name: str, namespace: str, values_json: str, version: str | None) -> str:
    folder = published_chart(chart, version) if version and chart in ISTIO_CHARTS else upstream(CHART_FOLDERS[chart])
    # A fresh handle per render: a render can change the loaded chart in place.
    with helm_python.Chart.load(str(folder)) as loaded:
        manifests = loaded.render(json.loads(values_json), name=name, namespace=namespace)
    texts = [text for path, text in sorted(manifests.items()) if not path.endswith("NOTES.txt")]
    documents = [document for text in texts for document in yaml.load_all(text, Loader=_LOADER) if document]
    return json.dumps(documents)


def render_chart(
    chart: str, name: str, namespace: str, values: dict[str, Any], version: str | None = None
) -> list[Object]:
    """The objects Helm installs for a release of `chart` (a chart name, as a
    Release names it); with `version`, an Istio chart as published at that
    version (published_chart), else as in the repository. Cached per (chart,
    release, values, version) within a run; each call returns fresh copies."""
    return list(json.loads(_render(chart, name, namespace, json.dumps(values, sort_keys=True), version)))


def render(release: ChartRelease, values: dict[str, Any] | None = None) -> list[Object]:
    """The objects Helm installs for this release of the plan (with other
    `values`, if given), from the chart as published at the release's version."""
    return render_chart(
        release.chart, release.name, release.namespace, release.values if values is None else values, release.version
    )


def path_parts(path: str) -> list[str]:
    """The keys of a dotted path; a key that holds a dot is quoted (`podLabels."sidecar.istio.io/inject"`)."""
    return [quoted or plain for quoted, plain in re.findall(r'"([^"]+)"|([^.]+)', path)]


def without_value(tree: dict[str, Any], path: str) -> dict[str, Any]:
    """A deep copy of `tree` without the value at the dotted `path` (and without
    the maps that become empty, so the chart sees the key as never set).
    Copied through JSON: a map the plan uses twice must not lose the value in both places."""
    result = json.loads(json.dumps(tree))
    parts = path_parts(path)
    parents = [result]
    for part in parts[:-1]:
        parents.append(parents[-1][part])
    del parents[-1][parts[-1]]
    for depth in range(len(parts) - 1, 0, -1):
        if not parents[depth]:
            del parents[depth - 1][parts[depth - 1]]
    return result


def leaf_paths(tree: dict[str, Any], prefix: str = "") -> list[str]:
    """The dotted paths of every value that is not a map (a whole list is one value)."""
    paths = []
    for key, value in tree.items():
        name = f'"{key}"' if "." in key else key
        if isinstance(value, dict) and value:
            paths += leaf_paths(value, f"{prefix}{name}.")
        else:
            paths.append(f"{prefix}{name}")
    return paths


def comparable(objects: list[Object]) -> list[Object]:
    """What the cluster would run: istiod's `values` ConfigMap echoes the
    values as given under `original-values`, for debugging only ("modifying
    these values has no effect", templates/configmap-values.yaml)."""
    result = copy.deepcopy(objects)
    for item in result:
        if item.get("kind") == "ConfigMap" and "original-values" in (item.get("data") or {}):
            del item["data"]["original-values"]
    return result


def closed(schema: Any) -> Any:
    """An OpenAPI v3 schema in which an object with listed properties rejects
    others, as the API server's pruning would drop them."""
    if isinstance(schema, dict):
        result = {key: closed(value) for key, value in schema.items()}
        if (
            "properties" in schema
            and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")
        ):
            result["additionalProperties"] = False
        return result
    if isinstance(schema, list):
        return [closed(item) for item in schema]
    return schema


OBJECT_ROOT = {"apiVersion": {"type": "string"}, "kind": {"type": "string"}, "metadata": {"type": "object"}}


@cache
def custom_kind_schemas() -> dict[tuple[str, str], Any]:
    """(apiVersion, kind) -> the CRD's closed schema for that served version."""
    schemas = {}
    for relative in CRD_FILES:
        for crd in yaml.safe_load_all(upstream(relative).read_text()):
            if not crd or crd.get("kind") != "CustomResourceDefinition":
                continue
            group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
            for version in crd["spec"]["versions"]:
                if version.get("served", True):
                    schema = copy.deepcopy(version["schema"]["openAPIV3Schema"])
                    # The API server gives every custom object these, whatever the CRD lists.
                    schema.setdefault("properties", {}).update(OBJECT_ROOT)
                    schemas[(f"{group}/{version['name']}", kind)] = closed(schema)
    return schemas


def schema_problems(item: Object) -> list[str]:
    """Why the API server would refuse (or silently prune part of) this object:
    Kubernetes kinds against Kubernetes' schemas, strictly; custom kinds
    against their CRDs. An unknown custom kind is a problem too."""
    return list(_schema_problems(json.dumps(item, sort_keys=True)))


@cache
def _schema_problems(item_json: str) -> tuple[str, ...]:
    item = json.loads(item_json)
    api_version, kind = item.get("apiVersion", ""), item.get("kind", "")
    where = f"{kind} {item.get('metadata', {}).get('name')}"
    group = api_version.rpartition("/")[0]
    if ("." in group and not group.endswith(".k8s.io")) or group == "gateway.networking.k8s.io":
        schema = custom_kind_schemas().get((api_version, kind))
        if schema is None:
            return (f"{where}: no CRD in shared/upstream defines {api_version} {kind}",)
        return tuple(f"{where}: {error.message}" for error in jsonschema.Draft7Validator(schema).iter_errors(item))
    try:
        kubernetes_validate.validate(item, KUBERNETES_SCHEMA_VERSION, strict=True)
    except kubernetes_validate.ValidationError as error:
        return (f"{where}: {str(error).splitlines()[0]}",)
    except kubernetes_validate.SchemaNotFoundError:
        return (f"{where}: Kubernetes {KUBERNETES_SCHEMA_VERSION} has no kind {api_version} {kind}",)
    return ()
