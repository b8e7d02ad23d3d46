"""The localPort check: a fixed loopback port must be free on this host, or
already this stack's own (its profile's container publishes it), before
`minikube start` asks Docker for it; Docker would otherwise fail half-way
through creating the node ("address already in use", minikube exit 80).

`local_port_problems` is pure; `gather_local_port_facts` probes the port and
asks Docker through the one door (components/checks/process.py)."""

from __future__ import annotations

from dataclasses import dataclass

from components.checks.process import ProcessError, loopback_port_is_free, run_process
from components.model.network import LOOPBACK
from components.model.parts.istio import INGRESS_NODE_PORT
from components.model.settings import LOCAL_PORT_ANY, PROJECT, Settings


@dataclass(frozen=True)
class LocalPortFacts:
    port_free: bool
    # What this stack's profile container publishes the NodePort on (docker port's first line), if anything.
    own_binding: str | None


def fixed_local_port(settings: Settings) -> int | None:
    """The fixed port these settings ask to publish, if any (0 is picked free when the cluster is created)."""
    if settings.publishes_local_port and settings.local_port != LOCAL_PORT_ANY:
        return settings.local_port
    return None


def local_port_problems(settings: Settings, facts: LocalPortFacts) -> list[str]:
    port = fixed_local_port(settings)
    if port is None or facts.port_free or facts.own_binding == f"{LOOPBACK}:{port}":
        return []
    return [
        f"{PROJECT}:localPort = '{port}': something else on this host already holds {LOOPBACK}:{port}: "
        f"choose another port, or {LOCAL_PORT_ANY} for a free one"
    ]


def gather_local_port_facts(settings: Settings, port: int) -> LocalPortFacts:
    """Whether the port is free, and if not, whether this stack's own profile
    holds it (`docker port`: docker/cli cli/command/container/port.go, v29.7.2;
    the first node's container is named after the profile). Read-only."""
    if loopback_port_is_free(port):
        return LocalPortFacts(port_free=True, own_binding=None)
    try:
        answer = run_process([settings.driver, "port", settings.profile, f"{INGRESS_NODE_PORT}/tcp"])
    except ProcessError:
        return LocalPortFacts(port_free=False, own_binding=None)
    lines = answer.stdout.strip().splitlines()
    return LocalPortFacts(port_free=False, own_binding=lines[0] if answer.returncode == 0 and lines else None)
