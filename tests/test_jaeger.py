"""Jaeger all-in-one as the program creates it (observability: full), against
Istio's own jaeger.yaml and against itself: its Services reach ports its
configuration listens on, its storage is bounded, its UI is under /jaeger."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from components.model.images import pulled_from
from components.model.parts.jaeger import JAEGER_IMAGE, JAEGER_LABELS, JAEGER_PATH, JAEGER_SERVICES
from components.model.plan import release_plan
from components.model.settings import ISTIO_PROFILES
from harness.config import settings_for
from harness.program import ProgramRun
from harness.world import ISTIO_ADDONS_DATA, upstream
from tests.conftest import SharedRun
from tests.upstream import render

ISTIO_JAEGER = f"{ISTIO_ADDONS_DATA}/samples-addons/jaeger.yaml"


@pytest.fixture
def run(shared_run: SharedRun) -> ProgramRun:
    return shared_run(observability="full")


def objects(run: ProgramRun) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (r.type.split(":")[-1], r.inputs["metadata"]["name"]): r.inputs
        for r in run.registrations
        if r.type.startswith("kubernetes:") and r.parent.endswith("::observability") and "metadata" in r.inputs
    }


def listening_ports(config: dict[str, Any]) -> set[int]:
    """Every port the configuration binds (`endpoint: host:port` anywhere)."""
    found: set[int] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "endpoint" and isinstance(value, str):
                    found.add(int(value.rsplit(":", 1)[1]))
                walk(value)

    walk(config)
    return found


def test_jaeger_runs_the_image_istio_pins(run: ProgramRun) -> None:
    istio = [item for item in yaml.safe_load_all(upstream(ISTIO_JAEGER).read_text()) if item]
    (istio_deployment,) = [item for item in istio if item["kind"] == "Deployment"]
    (pinned,) = [c["image"] for c in istio_deployment["spec"]["template"]["spec"]["containers"]]
    (container,) = objects(run)[("Deployment", "jaeger")]["spec"]["template"]["spec"]["containers"]
    assert pinned == JAEGER_IMAGE
    # The dev stack (local-mesh's minikube) pulls through the host's cache (imageCache auto).
    assert container["image"] == pulled_from(pinned, caches=True)
    assert set(container["resources"]["requests"]) == set(container["resources"]["limits"]) == {"cpu", "memory"}


def test_every_jaeger_service_reaches_a_port_jaeger_listens_on(run: ProgramRun) -> None:
    found = objects(run)
    config = yaml.safe_load(found[("ConfigMap", "jaeger")]["data"]["config.yaml"])
    pod = found[("Deployment", "jaeger")]["spec"]["template"]
    listening = listening_ports(config)
    assert pod["metadata"]["labels"] == {**JAEGER_LABELS, "sidecar.istio.io/inject": "false"}
    # jaeger_query serves the UI on 16686 without an `endpoint` (Jaeger's default, as Istio's Service targets it).
    query_port = next(target for _, port, target in JAEGER_SERVICES["tracing"] if port == 80)
    for name in JAEGER_SERVICES:
        service = found[("Service", name)]["spec"]
        assert service["selector"].items() <= pod["metadata"]["labels"].items(), name
        for port in service["ports"]:
            assert port["targetPort"] in listening | {query_port}, (name, port)
    # Istio's demo profile sends OpenTelemetry spans to jaeger-collector:4317.
    assert 4317 in {port["port"] for port in found[("Service", "jaeger-collector")]["spec"]["ports"]}


def test_jaeger_keeps_a_bounded_number_of_traces_in_memory_and_serves_under_its_path(run: ProgramRun) -> None:
    found = objects(run)
    config = yaml.safe_load(found[("ConfigMap", "jaeger")]["data"]["config.yaml"])
    extensions = config["extensions"]
    (backend,) = extensions["jaeger_storage"]["backends"].values()
    assert list(backend) == ["memory"] and backend["memory"]["max_traces"] > 0
    assert extensions["jaeger_query"]["base_path"] == JAEGER_PATH
    volumes = found[("Deployment", "jaeger")]["spec"]["template"]["spec"]["volumes"]
    assert [volume["configMap"]["name"] for volume in volumes] == ["jaeger"]
    # Everything the pipeline and service name is defined.
    (pipeline,) = config["service"]["pipelines"].values()
    for section in ("receivers", "processors", "exporters"):
        assert set(pipeline[section]) <= set(config[section]), section
    assert set(config["service"]["extensions"]) == set(extensions)


@pytest.mark.parametrize("level", ["kiali", "none"])
def test_only_full_installs_jaeger(shared_run: SharedRun, level: str) -> None:
    # kiali: only the dashboards' routes (to Kiali and Prometheus); none: nothing at all.
    expected = {("VirtualService", "dashboards")} if level == "kiali" else set()
    assert set(objects(shared_run(observability=level))) == expected


@pytest.mark.parametrize("istio_profile", ISTIO_PROFILES)
def test_every_profile_sends_spans_to_jaegers_collector(shared_run: SharedRun, istio_profile: str) -> None:
    """The Telemetry names a provider istiod's rendered mesh config declares,
    and that provider points at the collector Service and a port it serves."""
    run = shared_run(istioProfile=istio_profile)
    (telemetry,) = [r.inputs for r in run.registrations if r.type.endswith(":Telemetry")]
    assert telemetry["metadata"]["namespace"] == "istio-system"  # the root namespace: mesh-wide
    (tracing,) = telemetry["spec"]["tracing"]
    (provider_name,) = [provider["name"] for provider in tracing["providers"]]
    istiod = release_plan(settings_for(istio_profile, "lean")).release("istiod")
    mesh = yaml.safe_load(one_configmap(render(istiod), "istio")["data"]["mesh"])
    (provider,) = [entry for entry in mesh["extensionProviders"] if entry["name"] == provider_name]
    service, _, namespace = provider["opentelemetry"]["service"].partition(".")
    assert namespace.startswith("istio-system.")
    collector = objects(run)[("Service", service)]["spec"]
    assert provider["opentelemetry"]["port"] in {port["port"] for port in collector["ports"]}
    # Every request in demo, as its profile promises; a small share elsewhere.
    percent = tracing["randomSamplingPercentage"]
    assert percent == 100 if istio_profile == "demo" else 0 < percent <= 5


def test_without_jaeger_istiod_keeps_its_mesh_config() -> None:
    for istio_profile in ISTIO_PROFILES:
        values = release_plan(settings_for(istio_profile, "lean", observability="kiali")).release("istiod").values
        assert "meshConfig" not in values


def one_configmap(items: list[dict[str, Any]], name: str) -> dict[str, Any]:
    (found,) = [item for item in items if item["kind"] == "ConfigMap" and item["metadata"]["name"] == name]
    return found
