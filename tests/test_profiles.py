"""Every istioProfile x resources combination under mocks: the releases, their
order and values, ambient's extras, mTLS, and the lean footprint budget."""

from __future__ import annotations

import itertools

import pulumi
import pytest

from components.model.footprint import (
    node_needs,
)
from components.model.parts.istio import GATEWAY_API_CRDS_URL, LEAN_ISTIOD, LEAN_SIDECAR, LEAN_ZTUNNEL
from components.model.parts.metallb import LEAN_METALLB
from components.model.plan import release_plan
from components.model.settings import ISTIO_PROFILES
from harness.config import EVERY_COMBINATION, settings_for
from harness.kinds import COMMAND
from harness.program import ProgramRun
from tests.conftest import SharedRun

MESH_RELEASES = {
    "demo": ["istio-base", "istio-egressgateway", "istio-ingressgateway", "istiod", "metallb"],
    "minimal": ["istio-base", "istio-ingressgateway", "istiod", "metallb"],
    "ambient": ["istio-base", "istio-cni", "istio-ingressgateway", "istiod", "metallb", "ztunnel"],
}
# observability: full, the default, in every profile.
DASHBOARD_RELEASES = ["grafana", "kiali", "prometheus"]


Combination = tuple[str, str, ProgramRun]


@pytest.fixture(params=EVERY_COMBINATION, ids=lambda c: f"{c[0]}-{c[1]}")
def combination(request: pytest.FixtureRequest, shared_run: SharedRun) -> Combination:
    profile, resources = request.param
    settings = settings_for(profile, resources)
    # A node as large as pre-flight asks for this mesh (tests/test_preflight.py),
    # and the defaults wherever they hold it.
    cpus, memory_mb = node_needs(settings, release_plan(settings))
    too_small = cpus > settings.cpus or memory_mb > settings.memory_mb
    sizes = {"cpus": cpus, "memory": f"{memory_mb}m"} if too_small else {}
    return profile, resources, shared_run(istioProfile=profile, resources=resources, **sizes)


def test_each_combination_installs_its_releases_and_exports_the_ingress(combination: Combination) -> None:
    profile, _, run = combination
    assert sorted(run.releases()) == sorted(MESH_RELEASES[profile] + DASHBOARD_RELEASES)
    assert run.outputs["ingressIp"] == "192.168.49.100"


def test_each_combination_keeps_istios_order(combination: Combination) -> None:
    profile, _, run = combination
    by_name = run.releases()
    chain = [
        "istio-base",
        "istiod",
        *(["istio-cni", "ztunnel"] if profile == "ambient" else []),
        "istio-ingressgateway",
    ]
    for before, after in itertools.pairwise(chain):
        assert run.depends_on(by_name[after], by_name[before]), f"{after} must wait for {before}"


def test_lean_sets_small_requests_and_one_replica_and_istio_sets_none(combination: Combination) -> None:
    _, resources, run = combination
    by_name = run.releases()
    istiod = by_name["istiod"].inputs["values"]
    ingress = by_name["istio-ingressgateway"].inputs["values"]
    metallb = by_name["metallb"].inputs["values"]
    if resources == "lean":
        # Under `pilot` only: the chart copies pilot.* over the top level
        # (templates/zzy_descope_legacy.yaml), so a top-level copy is dead.
        assert istiod["pilot"] == {"autoscaleEnabled": False, "resources": LEAN_ISTIOD}
        assert "autoscaleEnabled" not in istiod and "resources" not in istiod
        assert istiod["global"]["proxy"]["resources"] == LEAN_SIDECAR
        assert ingress["autoscaling"] == {"enabled": False}
        assert ingress["replicaCount"] == 1
        assert metallb["controller"]["resources"] == LEAN_METALLB
        assert metallb["speaker"]["resources"] == LEAN_METALLB
    else:
        assert "pilot" not in istiod and "resources" not in istiod
        assert "proxy" not in istiod["global"]  # only the pull policy (tests/test_offline.py)
        assert "resources" not in ingress and "autoscaling" not in ingress
        assert "resources" not in metallb.get("controller", {}) and "resources" not in metallb["speaker"]


@pytest.fixture
def ambient(shared_run: SharedRun) -> ProgramRun:
    return shared_run(istioProfile="ambient")


def test_ambient_installs_gateway_api_crds_before_istiod(ambient: ProgramRun) -> None:
    run = ambient
    (crds,) = run.of_type("kubernetes:yaml/v2:ConfigFile")
    assert crds.inputs["file"] == GATEWAY_API_CRDS_URL
    istiod = run.releases()["istiod"]
    assert run.depends_on(istiod, crds)
    assert run.depends_on(istiod, run.releases()["istio-base"])
    cni, ztunnel = (run.releases()[name].inputs["values"] for name in ("istio-cni", "ztunnel"))
    assert (cni["profile"], cni["platform"]) == ("ambient", "minikube")
    assert istiod.inputs["values"]["profile"] == "ambient"
    assert ztunnel["resources"] == LEAN_ZTUNNEL


def test_ambient_crds_children_are_deleted_with_the_cluster(ambient: ProgramRun) -> None:
    run = ambient
    (crds,) = run.of_type("kubernetes:yaml/v2:ConfigFile")
    (cluster,) = [r for r in run.of_type(COMMAND) if r.name == "minikube"]
    assert crds.deleted_with == cluster.urn
    (transform,) = run.mocks.transforms["gateway-api-crds"]
    # What the engine does for each CRD the provider creates inside the ConfigFile.
    child = pulumi.ResourceTransformArgs(
        True, "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition", "gateways", {}, pulumi.ResourceOptions()
    )
    result = transform(child)
    assert result.opts.deleted_with is not None


def test_ambient_sample_joins_the_mesh_by_label_not_sidecar(ambient: ProgramRun) -> None:
    run = ambient
    (namespace,) = run.of_type("kubernetes:core/v1:Namespace")
    assert namespace.inputs["metadata"]["labels"] == {"istio.io/dataplane-mode": "ambient"}


@pytest.mark.parametrize("istio_profile", ISTIO_PROFILES)
def test_strict_mtls_is_one_mesh_wide_peer_authentication_after_istiod(
    shared_run: SharedRun, istio_profile: str
) -> None:
    run = shared_run(istioProfile=istio_profile)
    (policy,) = run.of_type("kubernetes:security.istio.io/v1:PeerAuthentication")
    assert policy.inputs["metadata"] == {"name": "default", "namespace": "istio-system"}
    assert policy.inputs["spec"] == {"mtls": {"mode": "STRICT"}}
    assert run.depends_on(policy, run.releases()["istiod"])


def test_permissive_leaves_istios_default(shared_run: SharedRun) -> None:
    run = shared_run(mtls="permissive")
    assert run.of_type("kubernetes:security.istio.io/v1:PeerAuthentication") == []


def test_the_ambient_sample_waits_for_the_node_agents_not_the_gateway(ambient: ProgramRun) -> None:
    """An ambient pod is redirected by istio-cni into ztunnel: the sample starts
    once both run, beside the ingress gateway rather than after it."""
    httpbin = ambient.find("kubernetes:apps/v1:Deployment", "httpbin")
    releases = ambient.releases()
    assert ambient.depends_on(httpbin, releases["ztunnel"])
    assert not ambient.depends_on(httpbin, releases["istio-ingressgateway"])
