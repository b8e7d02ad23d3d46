"""components/model/footprint.py: what the mesh asks of the node, added up from the
release plan (whose numbers tests/test_render.py holds against the charts)."""

from __future__ import annotations

import pytest

from components.model.footprint import (
    FULL_STACK_BUDGET,
    LEAN_BUDGET_CPU_MILLIS,
    LEAN_BUDGET_MEMORY_MIB,
    NODE_OVERHEAD,
    cluster_requests,
    node_needs,
    total,
    workloads,
)
from components.model.plan import release_plan
from components.model.release import Requests
from components.model.settings import ISTIO_PROFILES
from harness.config import settings_for


@pytest.mark.parametrize("istio_profile", ISTIO_PROFILES)
def test_the_lean_mesh_fits_the_budget(istio_profile: str) -> None:
    settings = settings_for(istio_profile, observability="none")
    plan = release_plan(settings)
    requests = total(settings, plan)
    assert requests.cpu_millis <= LEAN_BUDGET_CPU_MILLIS, workloads(settings, plan)
    assert requests.memory_mib <= LEAN_BUDGET_MEMORY_MIB, workloads(settings, plan)
    # ... so the defaults (2 CPUs, 4 GB) hold it, upgrades included.
    cpus, memory_mb = node_needs(settings, plan)
    assert settings.cpus >= cpus
    assert settings.memory_mb >= memory_mb


@pytest.mark.parametrize("istio_profile", ISTIO_PROFILES)
def test_the_lean_mesh_with_every_dashboard_fits_the_default_node_with_room_to_spare(istio_profile: str) -> None:
    settings = settings_for(istio_profile, observability="full")
    plan = release_plan(settings)
    requests = total(settings, plan)
    assert requests.cpu_millis <= FULL_STACK_BUDGET.cpu_millis, workloads(settings, plan)
    assert requests.memory_mib <= FULL_STACK_BUDGET.memory_mib, workloads(settings, plan)
    cpus, memory_mb = node_needs(settings, plan)
    assert (settings.cpus, settings.memory_mb) >= (cpus, memory_mb)
    # Pre-flight sizes the node from the same plan: the addons are in it.
    bare = settings_for(istio_profile, observability="none")
    assert total(settings, plan).memory_mib > total(bare, release_plan(bare)).memory_mib


def test_the_footprint_counts_every_workload() -> None:
    def of(**overrides: str) -> dict[str, Requests]:
        settings = settings_for(**overrides)
        return workloads(settings, release_plan(settings))

    demo = of(istio_profile="demo")
    assert sorted(demo) == [
        "grafana",
        "httpbin",
        "httpbin sidecar",
        "istio-egressgateway",
        "istio-ingressgateway",
        "istiod",
        "jaeger",
        "kiali",
        "metallb-controller",
        "metallb-speaker",
        "prometheus",
    ]
    assert {"kiali", "prometheus"} <= set(of(observability="kiali"))
    assert {"grafana", "jaeger"}.isdisjoint(of(observability="kiali"))
    assert {"kiali", "prometheus", "grafana", "jaeger"}.isdisjoint(of(observability="none"))
    ambient = of(istio_profile="ambient")
    assert "httpbin sidecar" not in ambient
    assert {"istio-cni-node", "ztunnel"} <= set(ambient)
    assert "httpbin" not in of(sample="false")


@pytest.mark.parametrize("istio_profile", ["minimal", "ambient"])
def test_the_node_has_room_for_a_rolling_upgrade_of_istiods_own_size(istio_profile: str) -> None:
    """istiod's Deployment surges: an upgrade starts a second 500m / 2 GiB pod
    before the old one stops, and stalls until Helm rolls it back if it cannot."""
    settings = settings_for(istio_profile, "istio")
    plan = release_plan(settings)
    (istiod,) = plan.release("istiod").pods
    cpus, memory_mb = node_needs(settings, plan)
    need = total(settings, plan) + istiod.requests + NODE_OVERHEAD
    assert memory_mb >= need.memory_mib
    assert cpus * 1000 >= need.cpu_millis


def test_istios_own_defaults_do_not_fit_the_budget() -> None:
    settings = settings_for("minimal", "istio")
    minimal = total(settings, release_plan(settings))
    assert minimal.memory_mib > LEAN_BUDGET_MEMORY_MIB


@pytest.mark.parametrize("istio_profile", ISTIO_PROFILES)
def test_daemon_sets_run_a_pod_on_every_node_and_the_rest_once(istio_profile: str) -> None:
    settings = settings_for(istio_profile, "istio", nodes="3")
    plan = release_plan(settings)
    pods = [pod for release in plan.releases for pod in release.pods]
    daemon_sets = [pod.workload for pod in pods if pod.kind == "DaemonSet"]
    assert "metallb-speaker" in daemon_sets
    if istio_profile == "ambient":
        assert {"istio-cni-node", "ztunnel"} <= set(daemon_sets)
    once = workloads(settings, plan)
    copies = {name: 3 if name in daemon_sets else 1 for name in once}
    expected = Requests(
        sum(requests.cpu_millis * copies[name] for name, requests in once.items()),
        sum(requests.memory_mib * copies[name] for name, requests in once.items()),
    )
    assert total(settings, plan) == expected
    assert total(settings, plan) == cluster_requests(settings, plan, 3)
    assert cluster_requests(settings, plan, 1) == sum(once.values(), Requests(0, 0))


def test_more_nodes_need_less_each_but_every_node_holds_its_daemon_sets() -> None:
    one = settings_for("ambient", "istio")
    three = settings_for("ambient", "istio", nodes="3")
    plan = release_plan(one)
    cpus_one, memory_one = node_needs(one, plan)
    cpus_three, memory_three = node_needs(three, plan)
    assert memory_three < memory_one
    assert cpus_three <= cpus_one
    (istiod,) = plan.release("istiod").pods
    # A node that runs istiod also runs ztunnel and istio-cni, beside Kubernetes itself.
    ztunnel = plan.release("ztunnel").pods[0].requests + plan.release("istio-cni").pods[0].requests
    assert memory_three >= (istiod.requests + ztunnel + NODE_OVERHEAD).memory_mib
