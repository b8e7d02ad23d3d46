"""What the dashboards `observability` installs have in common: Istio's addons,
after istiod, in istio-system, outside the mesh, at the versions Istio pins."""

from __future__ import annotations

from collections.abc import Mapping

from components.model.parts.istio import ISTIO_NAMESPACE
from components.model.release import ChartRelease, Pod, Values

# The config key that installs the dashboards, whose chart versions the plan pins.
OBSERVABILITY_KEY = "observability"


def addon_release(
    name: str,
    chart: str,
    repository: str,
    version: str,
    values: Values,
    pods: tuple[Pod, ...],
    pinned: Mapping[str, str] | None = None,
    images: tuple[str, ...] = (),
) -> ChartRelease:
    # After istiod: the addons are the mesh's dashboards, and nothing on the way to the ingress IP waits for them.
    return ChartRelease(
        name=name,
        chart=chart,
        repository=repository,
        version=version,
        version_key=OBSERVABILITY_KEY,
        addon=True,
        namespace=ISTIO_NAMESPACE,
        values=values,
        after=("istiod",),
        pods=pods,
        pinned=pinned or {},
        images=images,
    )


# Istio's addons run outside the mesh: Prometheus scrapes the sidecars over
# plain HTTP (Istio's values-*.yaml label every addon pod so).
NOT_IN_MESH = {"sidecar.istio.io/inject": "false"}
