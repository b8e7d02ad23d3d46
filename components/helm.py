"""One way to install a pinned chart, shared by the MetalLB and Istio components."""

from __future__ import annotations

import pulumi
from pulumi_kubernetes.helm.v3 import Release, RepositoryOptsArgs

from components.values import Values

# Image pulls on a laptop's first run are the slow part; Helm's 5-minute
# default has been too short for istiod on a cold cache.
RELEASE_TIMEOUT_SECONDS = 900


def chart_release(
    resource_name: str,
    *,
    release: str,
    chart: str,
    version: str,
    repository: str,
    namespace: str,
    values: Values,
    opts: pulumi.ResourceOptions,
) -> Release:
    """A real Helm release (`helm list` shows it) that Helm waits on until ready.

    atomic: a failed install is rolled back, so a failed `pulumi up` leaves no
    half-installed release behind and the next run starts clean.
    """
    return Release(
        resource_name,
        name=release,
        chart=chart,
        version=version,
        repository_opts=RepositoryOptsArgs(repo=repository),
        namespace=namespace,
        create_namespace=True,
        values=values,
        atomic=True,
        timeout=RELEASE_TIMEOUT_SECONDS,
        opts=opts,
    )
