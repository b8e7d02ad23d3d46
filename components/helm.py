"""One way to install the plan's Helm releases, shared by the MetalLB and Istio components."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import pulumi
import pulumi_kubernetes as kubernetes
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
    own_namespaces: bool,
) -> dict[str, Release]:
    """Install each release in plan order, after what its `after` names: an
    earlier release of these, or a step in `waits_for`. `options` builds a
    release's resource options from what it waits for.

    With `own_namespaces`, each release's namespace is a Namespace of the
    program's, made before the release and deleted after it: Helm's
    --create-namespace makes a namespace that `helm uninstall` leaves behind
    (helm/helm#1464), and on a cluster that is not local-mesh's to delete,
    destroy must leave none. An existing namespace of that name is refused,
    not adopted: pulumi-kubernetes creates with a client-side create since
    v4.29.0 and gets AlreadyExists (pulumi-kubernetes #2926; upsertExistingObjects
    stays off). Otherwise Helm makes the namespace, which goes with the cluster."""
    installed: dict[str, Release] = {}
    namespaces: dict[str, kubernetes.core.v1.Namespace] = {}
    for plan in releases:
        before: list[pulumi.Resource] = []
        if own_namespaces:
            if plan.namespace not in namespaces:
                namespaces[plan.namespace] = kubernetes.core.v1.Namespace(
                    plan.namespace, metadata=kubernetes.meta.v1.ObjectMetaArgs(name=plan.namespace), opts=options([])
                )
            before.append(namespaces[plan.namespace])
        for step in plan.after:
            before.extend([installed[step]] if step in installed else waits_for[step])
        installed[plan.name] = chart_release(plan, options(before), create_namespace=not own_namespaces)
    return installed


def chart_release(plan: ChartRelease, opts: pulumi.ResourceOptions, create_namespace: bool) -> Release:
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
        create_namespace=create_namespace,
        values=plan.values,
        atomic=True,
        timeout=RELEASE_TIMEOUT_SECONDS,
        opts=opts,
    )
