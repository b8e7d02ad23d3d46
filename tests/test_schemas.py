"""Every object local-mesh sends to the API server, against its real schema:
what the plan's charts render, and what the program creates itself.
Kubernetes kinds against Kubernetes 1.35's schemas (kubernetes-validate,
strict: an unknown field is an error); Istio kinds against Istio 1.31's CRDs;
MetalLB kinds against MetalLB 0.16.1's; Gateway API kinds against v1.6.0's."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from components.metallb import address_pool_manifest
from components.model.network import parse_address_pool
from components.model.plan import release_plan
from components.model.settings import ISTIO_PROFILES
from harness.config import EVERY_COMBINATION, settings_for
from harness.kinds import PROVIDER, RELEASE
from harness.program import ProgramRun
from tests.conftest import SharedRun
from tests.upstream import Object, render, schema_problems

# What the program registers that is not an object of its own: Helm renders
# the releases (checked below), the provider fetches the Gateway API CRDs.
NOT_AN_OBJECT = (RELEASE, "kubernetes:yaml/v2:ConfigFile", PROVIDER)


@pytest.mark.parametrize(("istio_profile", "resources"), EVERY_COMBINATION)
def test_every_rendered_object_validates(istio_profile: str, resources: str) -> None:
    problems = [
        f"{release.name}: {problem}"
        for release in release_plan(settings_for(istio_profile, resources)).releases
        for item in render(release)
        for problem in schema_problems(item)
    ]
    assert problems == []


@pytest.fixture(params=ISTIO_PROFILES)
def program(request: pytest.FixtureRequest, shared_run: SharedRun) -> ProgramRun:
    return shared_run(istioProfile=request.param)


def own_objects(run: ProgramRun) -> list[Object]:
    return [
        r.inputs
        for r in run.registrations
        if r.custom and r.type.startswith("kubernetes:") and r.type not in NOT_AN_OBJECT
    ]


def test_every_object_the_program_creates_validates(program: ProgramRun) -> None:
    objects = own_objects(program)
    kinds = sorted(item["kind"] for item in objects)
    assert kinds == sorted(
        [
            "IPAddressPool",
            "L2Advertisement",
            "PeerAuthentication",
            "Namespace",
            "ServiceAccount",
            "Service",
            "Deployment",
            "Gateway",
            "VirtualService",
            # local-registry-hosting (imageCache: auto, on with minikube)
            "ConfigMap",
            # Jaeger (observability: full, the default)
            "ConfigMap",
            "Deployment",
            "Service",
            "Service",
            "Service",
            "Telemetry",
            # Istio's Grafana dashboards (observability: full)
            "ConfigMap",
            "ConfigMap",
            "VirtualService",
        ]
    )
    assert [problem for item in objects for problem in schema_problems(item)] == []


def test_the_webhook_probe_is_a_valid_pool() -> None:
    assert schema_problems(address_pool_manifest(parse_address_pool("192.168.49.100-192.168.49.120"))) == []


def misspelled(item: Object, path: list[Any], wrong: str) -> Object:
    """A copy with the last key of `path` renamed to `wrong`."""
    result = copy.deepcopy(item)
    parent = result
    for step in path[:-1]:
        parent = parent[step]
    parent[wrong] = parent.pop(path[-1])
    return result


def test_a_misspelled_field_fails_in_every_family(program: ProgramRun, tmp_path: Path) -> None:
    by_kind = {item["kind"]: item for item in own_objects(program)}
    gateway_api = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway",
        "metadata": {"name": "mesh", "namespace": "istio-system"},
        "spec": {"gatewayClassName": "istio", "listeners": [{"name": "http", "port": 80, "protocol": "HTTP"}]},
    }
    assert schema_problems(gateway_api) == []
    for item, path, wrong in (
        (by_kind["Deployment"], ["spec", "replicas"], "replica"),
        (by_kind["Namespace"], ["metadata", "labels"], "label"),
        (by_kind["Gateway"], ["spec", "selector"], "selectr"),
        (by_kind["PeerAuthentication"], ["spec", "mtls"], "mTLS"),
        (by_kind["Telemetry"], ["spec", "tracing", 0, "randomSamplingPercentage"], "samplingPercentage"),
        (by_kind["IPAddressPool"], ["spec", "addresses"], "adresses"),
        (by_kind["L2Advertisement"], ["spec", "ipAddressPools"], "ipAddressPool"),
        (gateway_api, ["spec", "gatewayClassName"], "gatewayClass"),
    ):
        assert schema_problems(misspelled(item, path, wrong)), (item["kind"], wrong)
    assert schema_problems({**by_kind["Gateway"], "apiVersion": "networking.istio.io/v9"})
