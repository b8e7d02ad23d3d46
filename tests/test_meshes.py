"""Two clusters' meshes in one stack (issue 18): each LocalMesh names its
resources apart from the other's, reaches only its own cluster, and the first
keeps the names a one-mesh stack has."""

from __future__ import annotations

from pathlib import Path

from harness.kinds import PROVIDER, RELEASE
from harness.program import ProgramRun, Registration, run_program
from harness.world import add_existing_cluster
from tests.conftest import SharedRun

MESH = "local-mesh:mesh:LocalMesh"

# __main__.py's loop over a list of two clusters: the dev stack's minikube,
# then the existing cluster of context kind-dev (pre-flight left out).
TWO_MESHES = """
import pulumi

from components.checks.dashboards import dashboards_for
from components.checks.discovery import read_cluster_state
from components.mesh import LocalMesh
from components.model.plan import release_plan
from components.model.settings import parse_settings, project_config

config = project_config()
clusters = [
    parse_settings(config, pulumi.get_stack()),
    parse_settings({**config, "cluster": "existing", "kubeContext": "kind-dev"}, pulumi.get_stack()),
]
for index, settings in enumerate(clusters):
    plan = release_plan(settings, read_cluster_state(settings))
    dashboards = dashboards_for(plan, settings.istio_version)
    LocalMesh(settings.kube_context, settings, plan, dashboards, primary=index == 0)
"""


def by_mesh(run: ProgramRun) -> dict[str, list[Registration]]:
    """Every registration under the LocalMesh it belongs to (the mesh included), by mesh name."""
    by_urn = {r.urn: r for r in run.registrations}

    def mesh_of(registration: Registration) -> str:
        while registration.type != MESH:
            registration = by_urn[registration.parent]
        return registration.name

    meshes: dict[str, list[Registration]] = {}
    for registration in run.registrations:
        meshes.setdefault(mesh_of(registration), []).append(registration)
    return meshes


def test_two_meshes_are_named_apart_and_each_reaches_only_its_cluster(tmp_path: Path, shared_run: SharedRun) -> None:
    machine = tmp_path / "machine"
    add_existing_cluster(machine, "kind-dev")
    program = tmp_path / "two_meshes.py"
    program.write_text(TWO_MESHES)
    meshes = by_mesh(run_program("dev", machine, program=program))
    assert sorted(meshes) == ["kind-dev", "local-mesh-dev"]
    first, second = meshes["local-mesh-dev"], meshes["kind-dev"]
    assert {r.engine_urn for r in first}.isdisjoint({r.engine_urn for r in second})
    for registrations in (first, second):
        # A provider reference is the provider's URN, "::", its ID.
        own_providers = {r.urn for r in registrations if r.type == PROVIDER}
        assert len(own_providers) == 1
        assert any(r.provider for r in registrations)
        for registration in registrations:
            if registration.provider:
                assert registration.provider.rsplit("::", 1)[0] in own_providers, registration.engine_urn
    # Only Pulumi's names differ: Helm's release names are the same in both clusters.
    assert {r.inputs["name"] for r in first if r.type == RELEASE} == {
        r.inputs["name"] for r in second if r.type == RELEASE
    }
    one_mesh = by_mesh(shared_run())
    assert sorted(r.engine_urn for r in first) == sorted(r.engine_urn for r in one_mesh["local-mesh-dev"])
