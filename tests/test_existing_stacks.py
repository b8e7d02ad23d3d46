"""`pulumi up` on a stack made before the code moved around replaces nothing.

tests/data/pre-restructure-urns.json is the pre-restructure state of real
stacks: the URN the engine gives every resource the program registered under the mocks,
with a digest of its inputs, for each configuration below, recorded from the
code as it was before issue 18's restructure (commit 471c651). The engine
matches a resource to its old state by URN or by one of its aliases; an equal
URN with equal inputs is no change. So every resource the program registers
now must have its URN, or an alias, among the old ones, with the same inputs,
each old one matched once: the same resources, none created or deleted. The
one exception is LocalMesh, the component that now holds one cluster's mesh:
a component is only a name in the state, and creating it changes nothing.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest

from harness.program import CLUSTER_LOAD_BALANCER, ProgramRun, run_program
from harness.world import add_existing_cluster

# Components the restructure added: nothing in the old state stands for them.
NEW_COMPONENTS = ("local-mesh:mesh:LocalMesh",)
RECORDED = Path(__file__).parent / "data" / "pre-restructure-urns.json"
# The stand-in minikube stamps the kubeconfig it writes with the time (as minikube does).
_LAST_UPDATE = re.compile(r"last-update: [^\\n]*UTC")


def inputs_digest(inputs: dict[str, Any], machine: Path) -> str:
    """The inputs as the engine compares them, without what differs between two runs
    of the same configuration (the stand-in machine's folder, the kubeconfig's time)."""
    text = json.dumps(inputs, sort_keys=True, default=str).replace(str(machine), "<machine>")
    return hashlib.sha256(_LAST_UPDATE.sub("last-update: <time>", text).encode()).hexdigest()


def first_up(overrides: dict[str, Any], machine: Path) -> ProgramRun:
    """A first `pulumi up` of the dev stack; an existing cluster is kind's
    (with MetalLB, or with a load balancer of its own)."""
    environment: dict[str, str] = {}
    if overrides.get("cluster") == "existing":
        add_existing_cluster(machine, "kind-dev")
        if overrides["loadBalancer"] == "none":
            environment = {CLUSTER_LOAD_BALANCER: json.dumps([{"ip": "172.18.0.240"}])}
    return run_program("dev", machine, overrides, machine=environment)


def registered(run: ProgramRun, machine: Path) -> dict[str, str]:
    """Each registered resource's URN and the digest of its inputs."""
    return {r.engine_urn: inputs_digest(r.inputs, machine) for r in run.registrations}


RECORDING: dict[str, Any] = json.loads(RECORDED.read_text())["configurations"]


@pytest.mark.parametrize("configuration", sorted(RECORDING))
def test_a_stack_from_before_the_restructure_replaces_nothing(configuration: str, tmp_path: Path) -> None:
    before = RECORDING[configuration]
    machine = tmp_path / "machine"
    run = first_up(before["config"], machine)
    old: dict[str, str] = before["resources"]
    kept = [r for r in run.registrations if r.type not in NEW_COMPONENTS]
    assert len(run.registrations) - len(kept) == 1, "one LocalMesh for the one cluster"
    assert len(kept) == len(old)
    matched: set[str] = set()
    for registration in kept:
        found = [urn for urn in [registration.engine_urn, *registration.aliases] if urn in old]
        assert found, f"{registration.engine_urn} (aliases {registration.aliases}) is new: up would create it"
        assert old[found[0]] == inputs_digest(registration.inputs, machine), f"{found[0]}'s inputs changed"
        matched.add(found[0])
    assert matched == set(old), f"up would delete {sorted(set(old) - matched)}"
