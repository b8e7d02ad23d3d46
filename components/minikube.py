"""What the cluster component hands to the shell, and how it reads the answers. Pure.

The scripts under components/scripts/ receive every value through environment
variables, never pasted into their text, so a config value cannot become shell.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address
from pathlib import Path

import yaml

from components.settings import Settings

SCRIPTS = Path(__file__).parent / "scripts"
# Commands run their scripts with bash (the scripts use bash features), found on PATH.
INTERPRETER = ["bash", "-c"]


def script(name: str) -> str:
    """A script's text. It is passed inline so that Pulumi's state holds the exact
    delete script, which then works even if this checkout has moved or changed."""
    return (SCRIPTS / name).read_text()


def cluster_environment(settings: Settings) -> dict[str, str]:
    return {
        "MINIKUBE_PROFILE": settings.profile,
        "MINIKUBE_DRIVER": settings.driver,
        "MINIKUBE_CPUS": str(settings.cpus),
        "MINIKUBE_MEMORY": f"{settings.memory_mb}mb",
        "MINIKUBE_KUBERNETES_VERSION": settings.kubernetes_version,
    }


def recreate_triggers(settings: Settings) -> list[str]:
    """minikube cannot resize or re-version an existing profile, so any change
    here must recreate the cluster (the Command is delete-before-replace)."""
    environment = cluster_environment(settings)
    return [f"{key}={environment[key]}" for key in sorted(environment)]


@dataclass(frozen=True)
class ClusterAccess:
    node_ip: str
    kubeconfig: str


def parse_cluster_access(stdout: str, context: str) -> ClusterAccess:
    """Read cluster-access.sh's answer: `minikube ip` on the first line, then the
    flattened kubeconfig of the profile's context."""
    first_line, _, kubeconfig = stdout.partition("\n")
    try:
        node_ip = str(IPv4Address(first_line.strip()))
    except ValueError:
        raise ValueError(f"`minikube ip` printed {first_line.strip()!r}, not an IPv4 address") from None
    document = yaml.safe_load(kubeconfig) if kubeconfig.strip() else None
    contexts = [entry.get("name") for entry in (document or {}).get("contexts") or []]
    if contexts != [context]:
        raise ValueError(f"the kubeconfig read for context {context!r} holds contexts {contexts}, not exactly that one")
    return ClusterAccess(node_ip=node_ip, kubeconfig=kubeconfig)
