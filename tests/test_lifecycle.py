"""Re-runs of the real program under mocks on one stand-in laptop: a second run
changes nothing, a stopped cluster comes back, a resize recreates, a cluster
deleted by hand is explained."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pytest
import yaml
from pulumi_command.local import Logging

from components.shell import script
from harness.kinds import COMMAND, PROVIDER
from harness.program import ProgramFailedError, ProgramRun, run_program
from harness.world import fake_environment, fake_state, run_shell


def comparable(run: ProgramRun) -> dict[tuple[str, str], dict]:
    """Every resource's registration, by type and name (the order of registration
    varies with asyncio scheduling and does not matter to the engine)."""
    registrations = {(r.type, r.name): asdict(r) for r in run.registrations}
    assert len(registrations) == len(run.registrations)
    return registrations


def test_a_second_run_with_the_same_config_registers_identical_inputs(tmp_path: Path) -> None:
    first = run_program("dev", tmp_path)
    second = run_program("dev", tmp_path, after=first)
    assert comparable(first) == comparable(second)
    assert first.outputs == second.outputs
    # Only the cluster-access read runs again; no Command has anything to do.
    assert second.mocks.commands_run == ["run"]


def test_a_stopped_cluster_is_started_again_and_reached_on_its_new_port(tmp_path: Path) -> None:
    first = run_program("dev", tmp_path)
    run_shell("minikube stop -p local-mesh-dev", fake_environment(tmp_path))
    second = run_program("dev", tmp_path, machine={"FAKE_MINIKUBE_NEXT_PORT": "32771"}, after=first)
    assert second.outputs["ingressIp"] == first.outputs["ingressIp"]
    provider = second.find(PROVIDER, "minikube").inputs
    assert yaml.safe_load(provider["kubeconfig"])["clusters"][0]["cluster"]["server"] == "https://192.168.49.2:32771"
    # The cluster's identity is unchanged, so no Kubernetes resource is replaced.
    before_provider = first.find(PROVIDER, "minikube").inputs
    assert provider["clusterIdentifier"] == before_provider["clusterIdentifier"]
    before, now = comparable(first), comparable(second)
    assert before.keys() == now.keys()
    changed = sorted(key for key in before if before[key] != now[key])
    assert changed == [(COMMAND, "metallb-webhook-ready"), (PROVIDER, "minikube")]


def test_a_cluster_deleted_by_hand_stops_the_run_with_the_way_out(tmp_path: Path) -> None:
    first = run_program("dev", tmp_path)
    run_shell("minikube delete -p local-mesh-dev", fake_environment(tmp_path))
    with pytest.raises(ProgramFailedError, match=r"no longer exists \(deleted outside Pulumi\): run 'pulumi destroy'"):
        run_program("dev", tmp_path, after=first)


@pytest.mark.parametrize(("key", "value"), [("cpus", 6), ("memory", "6g"), ("kubernetesVersion", "v1.34.2")])
def test_resizing_recreates_the_cluster(tmp_path: Path, key: str, value: object) -> None:
    first = run_program("dev", tmp_path)
    second = run_program("dev", tmp_path, {key: value}, after=first)
    before, after = (run.find(COMMAND, "minikube").inputs for run in (first, second))
    # A changed trigger makes Pulumi replace the Command, deleting first:
    # preview shows the cluster as replaced, never silently kept at its old size.
    assert before["triggers"] != after["triggers"]
    assert second.mocks.commands_run[:2] == ["minikube:delete", "minikube"]
    profile = fake_state(tmp_path)["profiles"]["local-mesh-dev"]
    environment = after["environment"]
    assert (str(profile["cpus"]), f"{profile['memory']}mb", profile["kubernetesVersion"]) == (
        environment["MINIKUBE_CPUS"],
        environment["MINIKUBE_MEMORY"],
        environment["MINIKUBE_KUBERNETES_VERSION"],
    )


def test_the_kubeconfig_read_never_reaches_the_logs(tmp_path: Path) -> None:
    run = run_program("dev", tmp_path)
    (access,) = [args for args in run.mocks.invokes if args["command"] == script("cluster-access.sh")]
    # The access script prints the kubeconfig, client key included, on stdout:
    # pulumi-command may log stderr (minikube's progress), never stdout.
    assert access["logging"] in {Logging.STDERR, Logging.NONE}
    assert "client-key-data" in run.outputs["kubeconfig"]
