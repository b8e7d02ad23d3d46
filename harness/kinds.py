"""The resource types tests look for, and finders over a run's registrations."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from harness.program import ProgramRun, Registration

RELEASE = "kubernetes:helm.sh/v3:Release"
COMMAND = "command:local:Command"
PROVIDER = "pulumi:providers:kubernetes"


def of_kind(run: ProgramRun, kind: str) -> list[Registration]:
    """The Kubernetes objects of this kind (its last type part: Service, Release, ...)."""
    return [r for r in run.registrations if r.type.startswith("kubernetes:") and r.type.split(":")[-1] == kind]


def the_one(run: ProgramRun, kind: str, namespace: str | None = None) -> Registration:
    """The one object of this kind (in this namespace, if given)."""
    (resource,) = [r for r in of_kind(run, kind) if namespace is None or namespace_of(r) == namespace]
    return resource


def namespace_of(resource: Registration) -> str | None:
    """Where a resource lands: a release's `namespace`, an object's metadata.namespace."""
    if resource.type == RELEASE:
        return str(resource.inputs["namespace"])
    return (resource.inputs.get("metadata") or {}).get("namespace")
