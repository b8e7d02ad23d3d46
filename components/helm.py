"""One way to install the plan's Helm releases, shared by the MetalLB and Istio components."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import pulumi
from pulumi_kubernetes.helm.v3 import Release, RepositoryOptsArgs

from components.plan import ChartRelease

# Image pulls on a laptop's first run are the slow part; Helm's 5-minute
# default has been too short for istiod on a cold cache.
RELEASE_TIMEOUT_SECONDS = 900

Steps = Mapping[str, Sequence[pulumi.Resource]]


def install_releases(
    releases: Sequence[ChartRelease],
    waits_for: Steps,
    options: Callable[[Sequence[pulumi.Resource]], pulumi.ResourceOptions],
) -> dict[str, Release]:
    """Install each release in plan order, after what its `after` names: an
    earlier release of these, or a step in `waits_for`. `options` builds a
    release's resource options from what it waits for."""
    installed: dict[str, Release] = {}
    for plan in releases:
        before: list[pulumi.Resource] = []
        for step in plan.after:
            before.extend([installed[step]] if step in installed else waits_for[step])
        installed[plan.name] = chart_release(plan, options(before))
    return installed


def chart_release(plan: ChartRelease, opts: pulumi.ResourceOptions) -> Release:
    """A real Helm release (`helm list` shows it) that Helm waits on until ready.

    atomic: a failed install is rolled back, so a failed `pulumi up` leaves no
    half-installed release behind and the next run starts clean.
    """
    return Release(
        plan.name,
        name=plan.name,
        chart=plan.chart,
        version=plan.version,
        repository_opts=RepositoryOptsArgs(repo=plan.repository),
        namespace=plan.namespace,
        create_namespace=True,
        values=plan.values,
        atomic=True,
        timeout=RELEASE_TIMEOUT_SECONDS,
        opts=opts,
    )
