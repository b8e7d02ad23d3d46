"""The host registries check (components/model/images.py): before anything is
created, each container name is free or local-mesh's own, and the port the
user pushes to is free or already the user's registry's. The containers
themselves are made during up (components/scripts/host-registries.sh), which
would otherwise stop half-way, with the cluster already started."""

from __future__ import annotations

import json
from typing import Any

from components.checks.process import ProcessError, loopback_port_is_free, run_process
from components.model import images
from components.model.settings import PROJECT, ClusterSettings

# The registry's own port inside its container (Distribution's `http.addr`).
_CONTAINER_PORT = f"{images.REGISTRY_PORT}/tcp"


def inspect_containers(names: list[str]) -> dict[str, dict[str, Any]]:
    """`docker container inspect` of the names Docker knows, by name: it prints
    the array of those it found, and exits 1 naming the others on stderr
    (docker/cli cli/command/inspect/inspector.go, v28.5.2). Nothing when Docker
    does not answer: the host check reports a missing daemon."""
    try:
        result = run_process(["docker", "container", "inspect", *names])
    except ProcessError:
        return {}
    try:
        found = json.loads(result.stdout or "[]")
    except ValueError:
        return {}
    return {str(container["Name"]).lstrip("/"): container for container in found}


def is_ours(container: dict[str, Any]) -> bool:
    return images.REGISTRY_LABEL in ((container.get("Config") or {}).get("Labels") or {})


def publishes(container: dict[str, Any], port: int) -> bool:
    bindings = ((container.get("HostConfig") or {}).get("PortBindings") or {}).get(_CONTAINER_PORT) or []
    return any(binding.get("HostPort") == str(port) for binding in bindings)


def host_registry_problems(
    settings: ClusterSettings, containers: dict[str, dict[str, Any]], port_taken: bool, port: int
) -> list[str]:
    """Pure: the problems, one line each, given what Docker knows of the host
    registries' names and whether something answers at 127.0.0.1:`port`."""
    if not settings.caches_images:
        return []
    problems = [
        f"a docker container named {name} exists but is not local-mesh's (it has no {images.REGISTRY_LABEL} "
        f"label), and {PROJECT}:imageCache needs that name: rename or remove it, or set {PROJECT}:imageCache to off"
        for name, container in containers.items()
        if not is_ours(container)
    ]
    local = containers.get(images.LOCAL_REGISTRY_NAME)
    if port_taken and not (local is not None and is_ours(local) and publishes(local, port)):
        problems.append(
            f"127.0.0.1:{port}, where {PROJECT}:imageCache puts the registry for your own images "
            f"({images.LOCAL_REGISTRY_NAME}), is taken by another program: stop it, or set {PROJECT}:imageCache to off"
        )
    return problems


def check_host_registries(settings: ClusterSettings, port: int = images.LOCAL_REGISTRY_HOST_PORT) -> list[str]:
    """Ask the host's Docker and the port, then judge."""
    if not settings.caches_images:
        return []
    containers = inspect_containers(list(images.host_registries()))
    return host_registry_problems(settings, containers, not loopback_port_is_free(port), port)
