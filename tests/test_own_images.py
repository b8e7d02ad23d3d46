"""The README's loop for the user's own images (docs/own-images.md): the
one-file manifest docs/examples/hello.yaml is valid for the API server and
Istio, pulls from the registry by the name the node knows it by, joins the
mesh, and its route is bound to the Gateway the program really creates, on a
path the program leaves free."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.model.images import local_registry_host, registry_of
from components.model.parts.sample import sample_namespace_labels
from harness.config import REPO
from harness.kinds import of_kind
from harness.program import ProgramRun
from tests.conftest import SharedRun
from tests.test_agreement import string_matches
from tests.upstream import Object, schema_problems

MANIFEST = REPO / "docs" / "examples" / "hello.yaml"
PAGE = REPO / "docs" / "own-images.md"


def manifest(path: Path = MANIFEST) -> dict[str, Object]:
    """The manifest's objects, by kind (one of each)."""
    objects = [item for item in yaml.safe_load_all(path.read_text()) if item]
    by_kind = {item["kind"]: item for item in objects}
    assert len(by_kind) == len(objects)
    return by_kind


@pytest.fixture(scope="module")
def hello() -> dict[str, Object]:
    return manifest()


@pytest.fixture
def run(shared_run: SharedRun) -> ProgramRun:
    return shared_run()


def test_every_object_of_the_manifest_validates(hello: dict[str, Object]) -> None:
    assert sorted(hello) == ["Deployment", "Namespace", "Service", "VirtualService"]
    assert [problem for item in hello.values() for problem in schema_problems(item)] == []


def test_the_pod_pulls_the_pushed_image_by_the_nodes_name_for_the_registry(hello: dict[str, Object]) -> None:
    (container,) = hello["Deployment"]["spec"]["template"]["spec"]["containers"]
    assert registry_of(container["image"]) == local_registry_host()
    # What the user pushes to: the same repository on the host's name for the registry.
    repository = container["image"].removeprefix(f"{local_registry_host()}/")
    pushed = f"localhost:<port>/{repository}"
    page = PAGE.read_text()
    assert f"docker push {pushed}" in page and f"docker build -t {pushed} ." in page
    assert local_registry_host() in page


def test_the_namespace_joins_the_mesh_as_the_sample_does(hello: dict[str, Object]) -> None:
    namespace = hello["Namespace"]
    assert namespace["metadata"]["labels"] == sample_namespace_labels(ambient=False)
    # The page names the ambient label too.
    ((key, value),) = sample_namespace_labels(ambient=True).items()
    assert f"{key}: {value}" in PAGE.read_text()
    for kind in ("Deployment", "Service", "VirtualService"):
        assert hello[kind]["metadata"]["namespace"] == namespace["metadata"]["name"]


def test_the_service_reaches_the_pod_over_http(hello: dict[str, Object]) -> None:
    pod = hello["Deployment"]["spec"]["template"]
    service = hello["Service"]["spec"]
    assert service["selector"].items() <= pod["metadata"]["labels"].items()
    assert hello["Deployment"]["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    ports = {port["containerPort"] for container in pod["spec"]["containers"] for port in container["ports"]}
    for port in service["ports"]:
        assert port["targetPort"] in ports
        # Istio's protocol selection by port name: `http` or `http-<suffix>`.
        assert re.fullmatch(r"http(-.*)?", port["name"])


def gateway_reference(gateway: Any) -> str:
    return f"{gateway.inputs['metadata']['namespace']}/{gateway.inputs['metadata']['name']}"


def test_the_route_is_bound_to_the_gateway_the_program_creates(hello: dict[str, Object], run: ProgramRun) -> None:
    (gateway,) = of_kind(run, "Gateway")
    route = hello["VirtualService"]["spec"]
    assert route["gateways"] == [gateway_reference(gateway)]
    # The Gateway's servers admit the route's hosts (`*` admits every host).
    gateway_hosts = {host for server in gateway.inputs["spec"]["servers"] for host in server["hosts"]}
    assert "*" in gateway_hosts or set(route["hosts"]) <= gateway_hosts
    service = hello["Service"]
    host = f"{service['metadata']['name']}.{service['metadata']['namespace']}.svc.cluster.local"
    destinations = [d["destination"] for http in route["http"] for d in http.get("route", [])]
    assert destinations
    for destination in destinations:
        assert destination["host"] == host
        assert destination["port"]["number"] in {port["port"] for port in service["spec"]["ports"]}


def uri_matchers(http: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [match["uri"] for rule in http for match in rule.get("match", []) if "uri" in match]


def test_the_path_is_free_on_the_mesh_gateway(hello: dict[str, Object], run: ProgramRun) -> None:
    """No route of the program's own takes the manifest's requests, nor the manifest the program's."""
    ours = uri_matchers(hello["VirtualService"]["spec"]["http"])
    theirs = [m for route in of_kind(run, "VirtualService") for m in uri_matchers(route.inputs["spec"]["http"])]
    assert theirs
    for path in ("/hello", "/hello/", "/hello/get"):
        assert any(string_matches(m, path) for m in ours), path
        assert not any(string_matches(m, path) for m in theirs), path
    for path in ("/status/200", "/delay/1", "/kiali/", "/prometheus/", "/grafana/", "/jaeger/"):
        assert not any(string_matches(m, path) for m in ours), path


def test_a_route_to_another_gateway_or_a_wrong_image_is_caught(tmp_path: Path, run: ProgramRun) -> None:
    text = MANIFEST.read_text()
    wrong = tmp_path / "hello.yaml"
    wrong.write_text(text.replace("istio-system/ingress", "hello/ingress"))
    with pytest.raises(AssertionError):
        test_the_route_is_bound_to_the_gateway_the_program_creates(manifest(wrong), run)
    wrong.write_text(text.replace("image: local-mesh-registry:5000/hello", "image: localhost:5000/hello"))
    with pytest.raises(AssertionError):
        test_the_pod_pulls_the_pushed_image_by_the_nodes_name_for_the_registry(manifest(wrong))
