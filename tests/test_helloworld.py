"""Istio's helloworld split across clusters (issue 21's proof): the objects
each cluster gets, against their real schemas, and the component under
Pulumi's mocks reaching each cluster through that cluster's provider only."""

from __future__ import annotations

import pytest

from components.istio import MESH_GATEWAY
from components.model.parts.helloworld import (
    HELLOWORLD_IMAGES,
    HELLOWORLD_NAMESPACE,
    HELLOWORLD_PATH,
    helloworld_objects,
    helloworld_pods,
    helloworld_version,
    served_versions,
)
from components.model.release import Requests
from harness.kinds import PROVIDER
from harness.program import ProgramRun, Registration, run_program
from harness.world import add_existing_cluster
from tests.upstream import schema_problems

HELLOWORLD = "local-mesh:helloworld:HelloWorld"


def test_the_first_cluster_serves_v1_the_second_v2_and_a_third_v1_again() -> None:
    """Istio's "Verify the installation": V1 to cluster1, V2 to cluster2."""
    assert [helloworld_version(index) for index in range(3)] == ["v1", "v2", "v1"]
    assert served_versions(1) == {"v1"}
    assert served_versions(2) == served_versions(3) == {"v1", "v2"}


@pytest.mark.parametrize("ambient", [False, True])
@pytest.mark.parametrize("lean", [False, True])
def test_every_object_validates_against_its_schema(ambient: bool, lean: bool) -> None:
    objects = [
        item for index in range(3) for item in helloworld_objects(index, ambient, lean, MESH_GATEWAY, caches=False)
    ]
    assert [problem for item in objects for problem in schema_problems(item)] == []


def test_each_cluster_gets_the_service_its_own_version_a_client_and_the_route() -> None:
    for index, version in enumerate(["v1", "v2", "v1"]):
        objects = helloworld_objects(index, ambient=False, lean=True, gateway=MESH_GATEWAY, caches=False)
        assert [(item["kind"], item["metadata"]["name"]) for item in objects] == [
            ("Namespace", HELLOWORLD_NAMESPACE),
            ("Service", "helloworld"),
            ("Deployment", f"helloworld-{version}"),
            ("ServiceAccount", "curl"),
            ("Service", "curl"),
            ("Deployment", "curl"),
            ("VirtualService", "helloworld"),
        ]
        namespace, service, deployment, _, _, curl, route = objects
        assert namespace["metadata"]["labels"] == {"istio-injection": "enabled"}
        pod = deployment["spec"]["template"]
        # The Service selects every version's pods, in every cluster.
        assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
        assert deployment["spec"]["selector"]["matchLabels"] == pod["metadata"]["labels"]
        (container,) = pod["spec"]["containers"]
        assert container["image"] == HELLOWORLD_IMAGES[version]
        assert container["imagePullPolicy"] == "IfNotPresent"
        assert container["resources"]["limits"]
        assert curl["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] == "IfNotPresent"
        assert route["spec"]["gateways"] == [MESH_GATEWAY]
        (http,) = route["spec"]["http"]
        assert http["match"] == [{"uri": {"exact": HELLOWORLD_PATH}}]
        destination = http["route"][0]["destination"]
        assert destination["host"] == f"helloworld.{HELLOWORLD_NAMESPACE}.svc.cluster.local"
        assert destination["port"]["number"] == service["spec"]["ports"][0]["port"]
        assert {port["containerPort"] for port in container["ports"]} == {destination["port"]["number"]}


def test_ambient_puts_the_namespace_in_the_ambient_dataplane() -> None:
    namespace = helloworld_objects(0, ambient=True, lean=False, gateway=MESH_GATEWAY, caches=False)[0]
    assert namespace["metadata"]["labels"] == {"istio.io/dataplane-mode": "ambient"}


def test_without_lean_the_pods_request_what_istios_sample_requests() -> None:
    objects = helloworld_objects(0, ambient=False, lean=False, gateway=MESH_GATEWAY, caches=False)
    helloworld, curl = objects[2], objects[5]
    assert helloworld["spec"]["template"]["spec"]["containers"][0]["resources"] == {"requests": {"cpu": "100m"}}
    assert "resources" not in curl["spec"]["template"]["spec"]["containers"][0]
    sidecar = Requests(100, 128)
    assert helloworld_pods(False, sidecar) == {
        "helloworld": Requests(100, 0),
        "curl": Requests(0, 0),
        "helloworld sidecar": sidecar,
        "curl sidecar": sidecar,
    }


# Two clusters (the dev stack's minikube, then the existing cluster kind-dev),
# each with its share of helloworld, as LocalMesh would add it.
TWO_CLUSTERS = """
import pulumi

from components.checks.discovery import read_cluster_state
from components.cluster import cluster_for, mesh_scope
from components.helloworld import HelloWorld
from components.model.plan import release_plan
from components.model.settings import parse_settings, project_config

config = project_config()
clusters = [
    parse_settings(config, pulumi.get_stack()),
    parse_settings({**config, "cluster": "existing", "kubeContext": "kind-dev"}, pulumi.get_stack()),
]
for index, settings in enumerate(clusters):
    scope = mesh_scope(settings.kube_context, index == 0)
    plan = release_plan(settings, read_cluster_state(settings))
    cluster = cluster_for(scope("cluster"), settings, scope)
    HelloWorld(scope("helloworld"), plan, cluster, index, after=[])
"""


@pytest.fixture(scope="module")
def two_clusters(tmp_path_factory: pytest.TempPathFactory) -> ProgramRun:
    root = tmp_path_factory.mktemp("helloworld")
    machine = root / "machine"
    add_existing_cluster(machine, "kind-dev")
    program = root / "two_clusters.py"
    program.write_text(TWO_CLUSTERS)
    return run_program("dev", machine, program=program)


def objects_of(run: ProgramRun, component: Registration) -> list[Registration]:
    return [r for r in run.registrations if r.parent == component.urn]


def test_under_mocks_each_cluster_gets_its_version_through_its_own_provider(two_clusters: ProgramRun) -> None:
    components = two_clusters.of_type(HELLOWORLD)
    assert [c.name for c in components] == ["helloworld", "kind-dev-helloworld"]
    by_urn = {r.urn: r for r in two_clusters.registrations}
    # Each cluster's one provider, in the clusters' order.
    providers = [
        next(p.urn for p in two_clusters.of_type(PROVIDER) if by_urn[p.parent].name == cluster)
        for cluster in ("cluster", "kind-dev-cluster")
    ]
    for component, version, provider in zip(components, ["v1", "v2"], providers, strict=True):
        registered = objects_of(two_clusters, component)
        deployments = [r.inputs["metadata"]["name"] for r in registered if r.type.endswith(":Deployment")]
        assert sorted(deployments) == sorted(["curl", f"helloworld-{version}"])
        # A provider reference is the provider's URN, "::", its ID.
        assert {r.provider.rsplit("::", 1)[0] for r in registered} == {provider}
        assert [problem for r in registered for problem in schema_problems(r.inputs)] == []
        (namespace,) = [r for r in registered if r.type == "kubernetes:core/v1:Namespace"]
        for registration in registered:
            if registration is not namespace:
                assert namespace.urn in registration.dependencies, registration.name
