"""A stack starts, uses and deletes only the minikube profile it made, and a
preview changes nothing: the real scripts against the stand-in minikube, and
the real program under mocks on one stand-in laptop."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import pytest

from components.model.settings import default_profile, parse_settings
from components.shell import (
    INTERPRETER,
    access_environment,
    cluster_environment,
    owner_environment,
    preview_environment,
    script,
)
from harness.config import raw_config as raw
from harness.kinds import COMMAND
from harness.program import ProgramFailedError, ProgramRun, owner_of, run_program
from harness.world import fake_environment, fake_state, run_shell


def run(name: str, machine: dict[str, str], environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return run_shell(script(name), {**machine, **environment}, INTERPRETER)


def cluster_env(stack: str = "dev", profile: str = "") -> dict[str, str]:
    settings = parse_settings(raw(profile=profile), stack)
    return {**cluster_environment(settings), **owner_environment(owner_of(stack))}


def access_env(stack: str = "dev", profile: str = "", preview: bool = False) -> dict[str, str]:
    settings = parse_settings(raw(profile=profile), stack)
    return {**access_environment(settings), **owner_environment(owner_of(stack)), **preview_environment(preview)}


def profiles(machine: dict[str, str]) -> dict[str, dict]:
    return dict(fake_state(Path(machine["FAKE_CLI_STATE"]))["profiles"])


def calls(machine: dict[str, str]) -> list[list[str]]:
    return list(fake_state(Path(machine["FAKE_CLI_STATE"]))["calls"])


def starts_and_deletes(machine: dict[str, str], since: int = 0) -> list[list[str]]:
    return [call for call in calls(machine)[since:] if call[:2] in (["minikube", "start"], ["minikube", "delete"])]


def claim_command(message: str) -> str:
    """The command a refusal of an unmarked profile gives, between two double spaces."""
    return message.split("claim it with  ", 1)[1].split("  and run again", 1)[0]


# --- the scripts -------------------------------------------------------------


def test_create_refuses_a_profile_made_by_hand_in_one_line_and_runs_nothing(machine: dict[str, str]) -> None:
    assert run_shell("minikube start -p local-mesh-dev --keep-context", machine).returncode == 0
    before = len(calls(machine))
    result = run("cluster-create.sh", machine, cluster_env())
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith("local-mesh: minikube profile local-mesh-dev exists but no stack's mark is in it")
    assert "nothing was started or deleted" in line
    assert starts_and_deletes(machine, before) == []


def test_a_profile_made_before_marks_is_claimed_with_the_command_the_refusal_gives(machine: dict[str, str]) -> None:
    assert run_shell("minikube start -p local-mesh-dev --keep-context", machine).returncode == 0
    run_shell("minikube stop -p local-mesh-dev", machine)
    refused = run("cluster-access.sh", machine, access_env())
    assert refused.returncode == 1
    assert profiles(machine)["local-mesh-dev"]["status"] == "Stopped"
    claimed = run_shell(claim_command(refused.stderr.strip()), machine)
    assert claimed.returncode == 0, claimed.stderr
    assert run("cluster-create.sh", machine, cluster_env()).returncode == 0
    access = run("cluster-access.sh", machine, access_env())
    assert access.returncode == 0, access.stderr
    assert profiles(machine)["local-mesh-dev"]["status"] == "Running"


def test_another_stacks_profile_is_named_and_never_started_nor_used(machine: dict[str, str]) -> None:
    assert run("cluster-create.sh", machine, cluster_env("alice", "shared")).returncode == 0
    bob = owner_of("bob")
    for name, environment in (
        ("cluster-create.sh", cluster_env("bob", "shared")),
        ("cluster-access.sh", access_env("bob", "shared")),
    ):
        before = len(calls(machine))
        result = run(name, machine, environment)
        assert result.returncode == 1, name
        assert result.stderr.strip() == (
            f"local-mesh: minikube profile shared belongs to stack {owner_of('alice')}, not to this one ({bob}), "
            "so this stack neither starts nor uses it, and nothing was started or deleted: "
            "set local-mesh:profile to another name, or empty for this stack's own"
        )
        assert result.stdout == ""
        assert starts_and_deletes(machine, before) == []
    # Stopped, it stays stopped.
    run_shell("minikube stop -p shared", machine)
    assert run("cluster-access.sh", machine, access_env("bob", "shared")).returncode == 1
    assert profiles(machine)["shared"]["status"] == "Stopped"


def test_the_same_stack_in_another_state_backend_is_another_stack(machine: dict[str, str]) -> None:
    """Two clones of local-mesh, each with its own .pulumi-state and a stack dev."""
    settings = parse_settings(raw(), "dev")
    first, second = (
        {
            **cluster_environment(settings),
            **owner_environment(owner_of("dev", f"file:///home/me/{clone}/.pulumi-state")),
        }
        for clone in ("local-mesh", "local-mesh-2")
    )
    assert run("cluster-create.sh", machine, first).returncode == 0
    result = run("cluster-create.sh", machine, second)
    assert result.returncode == 1
    assert "belongs to stack organization/local-mesh/dev at file:///home/me/local-mesh/.pulumi-state" in result.stderr


def test_delete_leaves_another_stacks_profile_and_its_context_and_network(machine: dict[str, str]) -> None:
    """Alice's profile was deleted by hand and Bob made one of the same name:
    Alice's destroy has nothing of hers left to delete."""
    assert run("cluster-create.sh", machine, cluster_env("alice", "shared")).returncode == 0
    run_shell("minikube delete -p shared", machine)
    assert run("cluster-create.sh", machine, cluster_env("bob", "shared")).returncode == 0
    before = len(calls(machine))
    result = run("cluster-delete.sh", machine, cluster_env("alice", "shared"))
    assert result.returncode == 0, result.stderr
    (line,) = result.stderr.splitlines()
    assert f"belongs to stack {owner_of('bob')}" in line
    assert "destroy deletes nothing and leaves that profile as it is" in line
    assert starts_and_deletes(machine, before) == []
    assert profiles(machine)["shared"]["status"] == "Running"
    state = fake_state(Path(machine["FAKE_CLI_STATE"]))
    assert "shared" in state["networks"]
    assert run_shell("kubectl config get-contexts --output=name shared", machine).returncode == 0
    # Bob's own destroy deletes it.
    assert run("cluster-delete.sh", machine, cluster_env("bob", "shared")).returncode == 0
    assert "shared" not in profiles(machine)


def test_delete_leaves_a_profile_made_by_hand_after_the_stacks_own_was_deleted(machine: dict[str, str]) -> None:
    assert run("cluster-create.sh", machine, cluster_env()).returncode == 0
    run_shell("minikube delete -p local-mesh-dev", machine)
    assert run_shell("minikube start -p local-mesh-dev --keep-context", machine).returncode == 0
    result = run("cluster-delete.sh", machine, cluster_env())
    assert result.returncode == 0
    assert "exists but no stack's mark is in it: this stack's own cluster is gone already" in result.stderr
    assert "local-mesh-dev" in profiles(machine)


def test_minikubes_default_profile_is_never_created_nor_adopted(machine: dict[str, str]) -> None:
    result = run("cluster-create.sh", machine, cluster_env(profile="minikube"))
    assert result.returncode == 1
    assert result.stderr.strip().startswith("local-mesh: minikube profile minikube is minikube's default profile")
    assert profiles(machine) == {}
    assert not any(call[:2] == ["minikube", "start"] for call in calls(machine))
    # The user's own default cluster: refused, and no claim is offered.
    assert run_shell("minikube start --keep-context", machine).returncode == 0
    for name, environment in (
        ("cluster-create.sh", cluster_env(profile="minikube")),
        ("cluster-access.sh", access_env(profile="minikube")),
    ):
        result = run(name, machine, environment)
        assert result.returncode == 1, name
        assert "minikube's default profile" in result.stderr
        assert "claim" not in result.stderr


def test_the_mark_survives_stop_and_start_and_goes_with_the_profile(machine: dict[str, str]) -> None:
    assert run("cluster-create.sh", machine, cluster_env()).returncode == 0
    run_shell("minikube stop -p local-mesh-dev", machine)
    assert run_shell("minikube start -p local-mesh-dev --keep-context", machine).returncode == 0
    assert run("cluster-access.sh", machine, access_env()).returncode == 0
    assert run("cluster-delete.sh", machine, cluster_env()).returncode == 0
    # A profile made by hand under the same name afterwards carries no mark.
    assert run_shell("minikube start -p local-mesh-dev --keep-context", machine).returncode == 0
    assert run("cluster-access.sh", machine, access_env()).returncode == 1


def test_a_failed_first_start_leaves_no_mark_behind(machine: dict[str, str]) -> None:
    result = run("cluster-create.sh", machine, {**cluster_env(), "FAKE_MINIKUBE_FAIL_START": "80"})
    assert result.returncode == 80
    # Another stack may now make the profile: nothing of this one's is left in it.
    assert run("cluster-create.sh", machine, cluster_env("other", "local-mesh-dev")).returncode == 0


def test_a_preview_leaves_a_stopped_profile_stopped_and_says_up_starts_it(machine: dict[str, str]) -> None:
    assert run("cluster-create.sh", machine, cluster_env()).returncode == 0
    run_shell("minikube stop -p local-mesh-dev", machine)
    before = len(calls(machine))
    result = run("cluster-access.sh", machine, access_env(preview=True))
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert result.stderr.strip() == (
        "local-mesh: minikube profile local-mesh-dev is stopped (minikube status exit 7); "
        "a preview leaves it so, and 'pulumi up' starts it again"
    )
    assert starts_and_deletes(machine, before) == []
    assert profiles(machine)["local-mesh-dev"]["status"] == "Stopped"


# --- the program -------------------------------------------------------------


def minikube_command(run: ProgramRun) -> dict:
    return run.find(COMMAND, "minikube").inputs


def destroy(run: ProgramRun, machine: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """What `pulumi destroy` runs for the cluster: the delete script and environment in the state."""
    command = minikube_command(run)
    return run_shell(command["delete"], {**machine, **command["environment"]}, command["interpreter"])


def test_two_stacks_whose_names_normalise_alike_get_two_clusters_and_neither_deletes_the_other(tmp_path: Path) -> None:
    machine = fake_environment(tmp_path)
    underscore = run_program("my_stack", tmp_path)
    dash = run_program("my-stack", tmp_path)
    assert underscore.outputs["profile"] != dash.outputs["profile"]
    assert set(profiles(machine)) == {underscore.outputs["profile"], dash.outputs["profile"]}
    assert underscore.outputs["nodeIp"] != dash.outputs["nodeIp"]
    assert destroy(underscore, machine).returncode == 0
    assert set(profiles(machine)) == {dash.outputs["profile"]}
    assert profiles(machine)[dash.outputs["profile"]]["status"] == "Running"


def test_a_stack_naming_another_stacks_profile_is_refused_before_it_starts_anything(tmp_path: Path) -> None:
    machine = fake_environment(tmp_path)
    run_program("alice", tmp_path)
    alices = default_profile("alice")
    before = len(calls(machine))
    with pytest.raises(
        ProgramFailedError, match=rf"minikube profile {alices} belongs to stack organization/local-mesh/alice"
    ):
        run_program("bob", tmp_path, {"profile": alices})
    assert starts_and_deletes(machine, before) == []
    assert profiles(machine)[alices]["status"] == "Running"


def test_a_stack_made_before_marks_is_refused_until_claimed_then_runs_on(tmp_path: Path) -> None:
    machine = fake_environment(tmp_path)
    first = run_program("dev", tmp_path)
    # As an older local-mesh left it: the same profile, no mark.
    mark = Path(machine["MINIKUBE_HOME"]) / ".minikube" / "profiles" / "local-mesh-dev" / "local-mesh-owner"
    mark.unlink()
    with pytest.raises(ProgramFailedError, match="exists but no stack's mark is in it") as refused:
        run_program("dev", tmp_path, after=first)
    assert run_shell(claim_command(str(refused.value)), machine).returncode == 0
    again = run_program("dev", tmp_path, after=first)
    assert again.outputs["nodeIp"] == first.outputs["nodeIp"]


def test_the_stacks_backend_is_part_of_its_owner_line(tmp_path: Path) -> None:
    backend = {"PULUMI_BACKEND_URL": "file:///home/me/local-mesh/.pulumi-state"}
    run = run_program("dev", tmp_path, machine=backend)
    environment = minikube_command(run)["environment"]
    assert environment["LOCAL_MESH_OWNER"] == owner_of("dev", backend["PULUMI_BACKEND_URL"])
    # The owner line is no trigger: it never recreates the cluster.
    assert not any("LOCAL_MESH_OWNER" in trigger for trigger in minikube_command(run)["triggers"])


def test_a_preview_of_a_stopped_cluster_leaves_it_stopped(tmp_path: Path) -> None:
    machine = fake_environment(tmp_path)
    first = run_program("dev", tmp_path)
    run_shell("minikube stop -p local-mesh-dev", machine)
    before = len(calls(machine))
    preview = run_program("dev", tmp_path, preview=True, after=first)
    assert starts_and_deletes(machine, before) == []
    assert profiles(machine)["local-mesh-dev"]["status"] == "Stopped"
    # The access read ran (a preview reads) and stopped short of starting.
    assert preview.mocks.commands_run == ["run"]
    # What only a running cluster tells is unknown until `up`, as on a first preview.
    assert "kubeconfig" not in preview.outputs
    assert "nodeIp" not in preview.outputs
    assert preview.outputs["profile"] == "local-mesh-dev"
    # The next up starts it.
    run_program("dev", tmp_path, after=first)
    assert profiles(machine)["local-mesh-dev"]["status"] == "Running"


def test_a_preview_of_a_running_cluster_reads_it_as_before(tmp_path: Path) -> None:
    first = run_program("dev", tmp_path)
    preview = run_program("dev", tmp_path, preview=True, after=first)
    assert preview.outputs["nodeIp"] == first.outputs["nodeIp"]
    assert preview.outputs["kubeconfig"] == first.outputs["kubeconfig"]


def test_the_claim_command_is_quoted_for_the_shell(machine: dict[str, str]) -> None:
    assert run_shell("minikube start -p local-mesh-dev --keep-context", machine).returncode == 0
    owner = "organization/local-mesh/dev at file:///home/me/my clone's/.pulumi-state"
    environment = {**cluster_env(), **owner_environment(owner)}
    refused = run("cluster-create.sh", machine, environment)
    command = claim_command(refused.stderr.strip())
    assert shlex.split(command)[2] == owner
    assert run_shell(command, machine).returncode == 0
    assert run("cluster-create.sh", machine, environment).returncode == 0
