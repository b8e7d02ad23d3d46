"""One way to install the plan's Helm releases, shared by the MetalLB and Istio components."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pulumi
from pulumi_kubernetes.helm.v3 import Release, RepositoryOptsArgs

from components.model.release import ChartRelease

# Image pulls on a laptop's first run are the slow part; Helm's 5-minute
# default has been too short for istiod on a cold cache.
RELEASE_TIMEOUT_SECONDS = 900

# A resource's Pulumi name in its mesh, from the name it has in every mesh
# (components/cluster.py, mesh_scope).
Scope = Callable[[str], str]

# What a release may wait for besides another release of the plan, by the name
# its `after` gives it (components/model/release.py: LOAD_BALANCER, ...).
Prerequisites = Mapping[str, Sequence[pulumi.Resource]]


def install_releases(
    releases: Sequence[ChartRelease],
    prerequisites: Prerequisites,
    options: Callable[[Sequence[pulumi.Resource]], pulumi.ResourceOptions],
    namespace: Callable[[str], pulumi.Resource | None],
    scope: Scope,
    values: Mapping[str, pulumi.Input[Mapping[str, Any]]] | None = None,
) -> dict[str, Release]:
    """Install each release in plan order, after what its `after` names: an
    earlier release of these, or one of `prerequisites`. `options` builds a
    release's resource options from what it waits for. `namespace` gives the
    Namespace a release lands in where the program owns it (the release waits
    for it, and destroy deletes it after the release), or None where Helm is
    to make it (Cluster.release_namespace). `values` replaces a release's
    plan values where they take something known only while the stack runs.
    `scope` gives each release's Pulumi name in its mesh (Helm's stays the plan's)."""
    installed: dict[str, Release] = {}
    for plan in releases:
        owned = namespace(plan.namespace)
        before: list[pulumi.Resource] = [owned] if owned else []
        for step in plan.after:
            before.extend([installed[step]] if step in installed else prerequisites[step])
        installed[plan.name] = chart_release(
            plan,
            options(before),
            create_namespace=owned is None,
            resource_name=scope(plan.name),
            values=(values or {}).get(plan.name),
        )
    return installed


def chart_release(
    plan: ChartRelease,
    opts: pulumi.ResourceOptions,
    create_namespace: bool,
    resource_name: str,
    values: pulumi.Input[Mapping[str, Any]] | None = None,
) -> Release:
    """A real Helm release (`helm list` shows it) that Helm waits on until ready.

    atomic: a failed install is rolled back, so a failed `pulumi up` leaves no
    half-installed release behind and the next run starts clean.
    """
    return Release(
        resource_name,
        name=plan.name,
        chart=plan.chart,
        version=plan.version,
        repository_opts=RepositoryOptsArgs(repo=plan.repository),
        namespace=plan.namespace,
        create_namespace=create_namespace,
        values=plan.values if values is None else values,
        atomic=True,
        timeout=RELEASE_TIMEOUT_SECONDS,
        opts=opts,
    )
