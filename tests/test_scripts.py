"""The Commands' real shell scripts, run in bash against the stand-in CLIs."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from components.metallb import address_pool_manifest
from components.model.network import parse_address_pool
from components.model.settings import parse_settings
from components.shell import (
    INTERPRETER,
    ClusterAccess,
    access_environment,
    cluster_environment,
    existing_access_environment,
    owner_environment,
    parse_cluster_access,
    parse_minikube_access,
    preview_environment,
    script,
)
from harness.config import raw_config as raw
from harness.program import owner_of
from harness.world import (
    FAKE_BIN,
    add_existing_cluster,
    fake_state,
    node_object,
    run_shell,
    set_fake_profile,
)


def run(name: str, machine: dict[str, str], **environment: str) -> subprocess.CompletedProcess[str]:
    return run_shell(script(name), {**machine, **environment}, INTERPRETER)


def cluster_env(profile: str = "local-mesh-dev", owner: str = owner_of("dev"), **overrides: str) -> dict[str, str]:
    return {**cluster_environment(parse_settings(raw(profile=profile, **overrides), "dev")), **owner_environment(owner)}


def access_env(
    profile: str = "", owner: str = owner_of("dev"), preview: bool = False, **overrides: str
) -> dict[str, str]:
    settings = parse_settings(raw(profile=profile, **overrides), "dev")
    return {**access_environment(settings), **owner_environment(owner), **preview_environment(preview)}


def read_access(stdout: str) -> ClusterAccess:
    """cluster-access.sh's answer for the dev stack, which publishes the ingress on a loopback port."""
    return parse_minikube_access(stdout, "local-mesh-dev", publishes_local_port=True)


def state(machine: dict[str, str]) -> dict:
    return fake_state(Path(machine["FAKE_CLI_STATE"]))


def kubeconfig(machine: dict[str, str]) -> dict:
    return yaml.safe_load(Path(machine["KUBECONFIG"]).read_text())


def test_create_starts_the_profile_with_the_configured_size(machine: dict[str, str]) -> None:
    result = run("cluster-create.sh", machine, **cluster_env(cpus="3", memory="6g"))
    assert result.returncode == 0, result.stderr
    profile = state(machine)["profiles"]["local-mesh-dev"]
    assert (profile["status"], profile["cpus"], profile["memory"], profile["driver"]) == ("Running", 3, 6144, "docker")
    assert profile["kubernetesVersion"] == cluster_env()["MINIKUBE_KUBERNETES_VERSION"]
    # minikube's progress reaches the user (on stderr); stdout stays clean.
    assert "To connect to this cluster, use:  --context=local-mesh-dev" in result.stderr
    assert result.stdout == ""


def test_create_pins_the_docker_runtime_that_a_newer_minikube_no_longer_defaults_to(machine: dict[str, str]) -> None:
    # minikube 1.39 defaults to containerd; Istio's platform: minikube expects docker.
    result = run("cluster-create.sh", machine, **cluster_env(), FAKE_MINIKUBE_VERSION="v1.39.0")
    assert result.returncode == 0, result.stderr
    assert state(machine)["profiles"]["local-mesh-dev"]["containerRuntime"] == "docker"


def test_a_restart_keeps_the_runtime_the_profile_was_created_with(machine: dict[str, str]) -> None:
    run("cluster-create.sh", machine, **cluster_env())
    run_shell("minikube stop -p local-mesh-dev", machine)
    result = run("cluster-access.sh", machine, **access_env(), FAKE_MINIKUBE_VERSION="v1.39.0")
    assert result.returncode == 0, result.stderr
    assert state(machine)["profiles"]["local-mesh-dev"]["containerRuntime"] == "docker"


@pytest.mark.parametrize("stopped", [False, True])
def test_create_refuses_a_profile_that_exists_with_another_size(machine: dict[str, str], stopped: bool) -> None:
    # Made by this stack with another size (an older config): minikube would keep its size and only warn.
    made_before = run("cluster-create.sh", machine, **cluster_env(cpus="4", memory="8g"))
    assert made_before.returncode == 0, made_before.stderr
    if stopped:
        run_shell("minikube stop -p local-mesh-dev", machine)
    calls_before = len(state(machine)["calls"])
    result = run("cluster-create.sh", machine, **cluster_env(cpus="2", memory="4g"))
    assert result.returncode != 0
    (line,) = result.stderr.splitlines()
    assert "1 nodes of 4 CPUs and 8192 MB" in line
    assert "1 nodes of 2 CPUs and 4096 MB" in line
    assert "minikube delete -p local-mesh-dev" in line
    assert not any(
        call[:2] in (["minikube", "start"], ["minikube", "delete"]) for call in state(machine)["calls"][calls_before:]
    )
    assert state(machine)["profiles"]["local-mesh-dev"]["cpus"] == 4


def test_create_starts_every_node_and_the_profile_ip_is_the_control_planes(machine: dict[str, str]) -> None:
    result = run("cluster-create.sh", machine, **cluster_env(nodes="3"))
    assert result.returncode == 0, result.stderr
    listed = json.loads(run_shell("minikube profile list -o json --light", machine).stdout)
    (profile,) = listed["valid"]
    nodes = profile["Config"]["Nodes"]
    assert [(node["Name"], node["ControlPlane"]) for node in nodes] == [("", True), ("m02", False), ("m03", False)]
    access = run("cluster-access.sh", machine, **access_env(nodes="3"))
    assert access.returncode == 0, access.stderr
    assert parse_cluster_access(access.stdout, "local-mesh-dev").node_ip == nodes[0]["IP"]


def test_create_refuses_a_profile_that_exists_with_another_node_count(machine: dict[str, str]) -> None:
    # minikube ignores --nodes for an existing profile (cmd/minikube/cmd/start.go:497-505).
    assert run("cluster-create.sh", machine, **cluster_env()).returncode == 0
    result = run("cluster-create.sh", machine, **cluster_env(nodes="3"))
    assert result.returncode != 0
    assert "already exists with 1 nodes" in result.stderr
    assert "asks for 3 nodes" in result.stderr
    assert "local-mesh:nodes to 1" in result.stderr


def test_create_leaves_the_users_current_context_alone(machine: dict[str, str]) -> None:
    assert run("cluster-create.sh", machine, **cluster_env("other")).returncode == 0
    config = kubeconfig(machine)
    config["current-context"] = "users-own-cluster"
    Path(machine["KUBECONFIG"]).write_text(yaml.safe_dump(config))
    assert run("cluster-create.sh", machine, **cluster_env()).returncode == 0
    config = kubeconfig(machine)
    assert config["current-context"] == "users-own-cluster"
    assert {context["name"] for context in config["contexts"]} == {"other", "local-mesh-dev"}


def test_access_prints_node_ip_then_a_self_contained_kubeconfig(machine: dict[str, str]) -> None:
    run("cluster-create.sh", machine, **cluster_env("first"))
    run("cluster-create.sh", machine, **cluster_env())
    result = run("cluster-access.sh", machine, **access_env())
    assert result.returncode == 0, result.stderr
    access = read_access(result.stdout)
    # The second profile got the second docker network, as minikube allocates them.
    assert access.node_ip == "192.168.58.2"
    config = yaml.safe_load(access.kubeconfig)
    # Only this profile's entries: the other cluster's credentials never reach state.
    assert [cluster["name"] for cluster in config["clusters"]] == ["local-mesh-dev"]
    assert [user["name"] for user in config["users"]] == ["local-mesh-dev"]
    assert config["clusters"][0]["cluster"]["server"] == "https://192.168.58.2:8443"
    # --flatten: certificates are embedded, no file paths that only this host has.
    assert "certificate-authority-data" in config["clusters"][0]["cluster"]
    assert set(config["users"][0]["user"]) == {"client-certificate-data", "client-key-data"}


def test_access_starts_a_stopped_profile_and_reads_its_new_port(machine: dict[str, str]) -> None:
    run("cluster-create.sh", machine, **cluster_env())
    run_shell("minikube stop -p local-mesh-dev", machine)
    # Docker publishes the API server on another port after a restart.
    result = run("cluster-access.sh", machine, **access_env(), FAKE_MINIKUBE_NEXT_PORT="32771")
    assert result.returncode == 0, result.stderr
    assert "is not running (minikube status exit 7); starting it again" in result.stderr
    assert state(machine)["profiles"]["local-mesh-dev"]["status"] == "Running"
    access = read_access(result.stdout)
    assert yaml.safe_load(access.kubeconfig)["clusters"][0]["cluster"]["server"] == "https://192.168.49.2:32771"


def test_access_works_again_after_stop_removed_the_kube_context(machine: dict[str, str]) -> None:
    run("cluster-create.sh", machine, **cluster_env())
    run_shell("minikube stop -p local-mesh-dev", machine)
    assert kubeconfig(machine)["contexts"] == []
    result = run("cluster-access.sh", machine, **access_env())
    assert result.returncode == 0, result.stderr
    assert read_access(result.stdout).node_ip == "192.168.49.2"


def test_access_starts_a_profile_whose_container_was_removed_by_hand(machine: dict[str, str]) -> None:
    run("cluster-create.sh", machine, **cluster_env())
    set_fake_profile(Path(machine["FAKE_CLI_STATE"]), "local-mesh-dev", status="Nonexistent")
    result = run("cluster-access.sh", machine, **access_env())
    assert result.returncode == 0, result.stderr
    assert "is not running (minikube status exit 7); starting it again" in result.stderr


def test_access_passes_on_why_minikube_ip_failed(machine: dict[str, str], tmp_path: Path) -> None:
    """The profile goes away between `minikube status` and `minikube ip` (deleted in
    another terminal): minikube ip says why on stdout, and the user must see it."""
    run("cluster-create.sh", machine, **cluster_env())
    racing = tmp_path / "racing-bin"
    racing.mkdir()
    wrapper = racing / "minikube"
    wrapper.write_text(
        "#!/usr/bin/env bash\n"
        'if [ "$1" = ip ]; then "$STAND_IN" delete -p local-mesh-dev >/dev/null 2>&1; fi\n'
        'exec "$STAND_IN" "$@"\n'
    )
    wrapper.chmod(0o755)
    environment = {**machine, "PATH": f"{racing}:{machine['PATH']}", "STAND_IN": str(FAKE_BIN / "minikube")}
    result = run("cluster-access.sh", environment, **access_env())
    assert result.returncode == 85
    assert 'Profile "local-mesh-dev" not found' in result.stderr
    assert "'minikube ip' failed for profile local-mesh-dev (exit 85)" in result.stderr
    assert result.stdout == ""


def test_access_does_not_restart_a_running_profile(machine: dict[str, str]) -> None:
    run("cluster-create.sh", machine, **cluster_env())
    calls_before = len(state(machine)["calls"])
    assert run("cluster-access.sh", machine, **access_env()).returncode == 0
    new_calls = state(machine)["calls"][calls_before:]
    assert [call[:2] for call in new_calls] == [
        ["minikube", "status"],
        ["minikube", "ip"],
        ["kubectl", "config"],
        # The loopback port and whether this host reaches the node's network: read only.
        ["docker", "port"],
        ["docker", "info"],
    ]


def test_access_explains_a_profile_deleted_by_hand(machine: dict[str, str]) -> None:
    result = run("cluster-access.sh", machine, **access_env())
    assert result.returncode == 85
    assert result.stderr.strip() == (
        "local-mesh: minikube profile local-mesh-dev no longer exists (deleted outside Pulumi): "
        "run 'pulumi destroy' (it works without the cluster), then 'pulumi up'"
    )
    assert not any(call[:2] == ["minikube", "start"] for call in state(machine)["calls"])


def test_values_reach_minikube_as_data_never_as_shell(machine: dict[str, str], tmp_path: Path) -> None:
    # Settings validation refuses such a profile; the scripts must be safe even so.
    marker = tmp_path / "pwned"
    hostile = f"x$(touch {marker});touch {marker}"
    environment = {**cluster_env(owner=f"o/p/{hostile}'"), "MINIKUBE_PROFILE": hostile}
    result = run("cluster-create.sh", machine, **environment)
    assert result.returncode == 0, result.stderr
    assert not marker.exists()
    assert hostile in state(machine)["profiles"]
    # Another stack's refusal quotes both in its message.
    refused = run("cluster-create.sh", machine, **{**environment, "LOCAL_MESH_OWNER": hostile})
    assert refused.returncode == 1
    assert run("cluster-delete.sh", machine, **environment).returncode == 0
    assert hostile not in state(machine)["profiles"]
    assert not marker.exists()


def test_missing_inputs_stop_the_scripts_before_any_cli_runs(machine: dict[str, str]) -> None:
    for name in ("cluster-create.sh", "cluster-delete.sh", "cluster-access.sh", "metallb-webhook-ready.sh"):
        result = run(name, machine)
        assert result.returncode != 0
        assert "parameter null or not set" in result.stderr
    assert state(machine)["calls"] == []


def test_a_failed_first_start_leaves_no_profile_behind(machine: dict[str, str]) -> None:
    result = run("cluster-create.sh", machine, **cluster_env(), FAKE_MINIKUBE_FAIL_START="80")
    assert result.returncode == 80
    assert "deleting the half-created profile local-mesh-dev" in result.stderr
    assert state(machine)["profiles"] == {}
    assert state(machine)["networks"] == []


@pytest.mark.parametrize("how", ["running", "stopped", "container removed by hand"])
def test_a_failed_restart_keeps_an_existing_profile(machine: dict[str, str], how: str) -> None:
    run("cluster-create.sh", machine, **cluster_env())
    if how == "stopped":
        run_shell("minikube stop -p local-mesh-dev", machine)
    if how == "container removed by hand":
        set_fake_profile(Path(machine["FAKE_CLI_STATE"]), "local-mesh-dev", status="Nonexistent")
    result = run("cluster-create.sh", machine, **cluster_env(), FAKE_MINIKUBE_FAIL_START="80")
    assert result.returncode == 80
    assert "deleting" not in result.stderr
    assert "local-mesh-dev" in state(machine)["profiles"]
    assert not any(call[:2] == ["minikube", "delete"] for call in state(machine)["calls"])


def test_a_restart_minikube_refuses_keeps_the_existing_profile(machine: dict[str, str]) -> None:
    # Docker was given fewer CPUs since the profile was made: minikube checks the
    # CPUs on every start, of an existing profile too, and refuses.
    run("cluster-create.sh", machine, **cluster_env())
    run_shell("minikube stop -p local-mesh-dev", machine)
    result = run("cluster-create.sh", machine, **cluster_env(), FAKE_DOCKER_CPUS="1")
    assert result.returncode == 29
    assert "RSRC_INSUFFICIENT_CORES" in result.stderr
    assert state(machine)["profiles"]["local-mesh-dev"]["status"] == "Stopped"


def test_minikubes_own_refusals_pass_through_with_their_exit_code(machine: dict[str, str]) -> None:
    too_small = {**cluster_env(), "MINIKUBE_MEMORY": "1024mb"}
    result = run("cluster-create.sh", machine, **too_small)
    assert result.returncode == 23
    assert "RSRC_INSUFFICIENT_REQ_MEMORY" in result.stderr
    assert state(machine)["profiles"] == {}


def test_delete_removes_the_profile_its_context_and_network(machine: dict[str, str]) -> None:
    run("cluster-create.sh", machine, **cluster_env())
    assert state(machine)["networks"] == ["local-mesh-dev"]
    result = run("cluster-delete.sh", machine, **cluster_env())
    assert result.returncode == 0, result.stderr
    assert state(machine)["profiles"] == {}
    assert state(machine)["networks"] == []
    assert kubeconfig(machine)["contexts"] == []


def test_delete_removes_a_network_minikube_left_behind(machine: dict[str, str]) -> None:
    # minikube #9776: `minikube delete` does not always remove the docker network.
    run("cluster-create.sh", machine, **cluster_env())
    result = run("cluster-delete.sh", machine, **cluster_env(), FAKE_MINIKUBE_KEEP_NETWORK="1")
    assert result.returncode == 0, result.stderr
    assert "removing the leftover docker network local-mesh-dev" in result.stderr
    assert state(machine)["networks"] == []


def test_a_network_docker_cannot_remove_warns_and_does_not_fail_destroy(machine: dict[str, str]) -> None:
    run("cluster-create.sh", machine, **cluster_env())
    # Another container (a user's own) is still attached to the profile's network.
    path = Path(machine["FAKE_CLI_STATE"]) / "state.json"
    path.write_text(json.dumps({**state(machine), "attached": {"local-mesh-dev": ["users-container"]}}))
    result = run("cluster-delete.sh", machine, **cluster_env(), FAKE_MINIKUBE_KEEP_NETWORK="1")
    assert result.returncode == 0, result.stderr
    assert "network local-mesh-dev has active endpoints" in result.stderr
    assert "warning: the docker network local-mesh-dev stays" in result.stderr
    assert state(machine)["profiles"] == {}
    assert kubeconfig(machine)["contexts"] == []


def test_delete_removes_a_stale_context_and_keeps_the_others(machine: dict[str, str]) -> None:
    run("cluster-create.sh", machine, **cluster_env("other"))
    run("cluster-create.sh", machine, **cluster_env())
    result = run("cluster-delete.sh", machine, **cluster_env(), FAKE_MINIKUBE_KEEP_CONTEXT="1")
    assert result.returncode == 0, result.stderr
    assert "removing the leftover kube context local-mesh-dev" in result.stderr
    assert [context["name"] for context in kubeconfig(machine)["contexts"]] == ["other"]
    assert "other" in state(machine)["profiles"]


def test_delete_succeeds_when_the_profile_is_already_gone(machine: dict[str, str]) -> None:
    run("cluster-create.sh", machine, **cluster_env())
    run_shell("minikube delete -p local-mesh-dev", machine)
    assert run("cluster-delete.sh", machine, **cluster_env()).returncode == 0


def test_delete_succeeds_when_the_profile_is_stopped(machine: dict[str, str]) -> None:
    run("cluster-create.sh", machine, **cluster_env())
    run_shell("minikube stop -p local-mesh-dev", machine)
    assert run("cluster-delete.sh", machine, **cluster_env()).returncode == 0
    assert state(machine)["profiles"] == {}


def test_delete_still_deletes_when_the_docker_daemon_is_down(machine: dict[str, str]) -> None:
    # The docker daemon may be gone by teardown time; the profile must still go.
    run("cluster-create.sh", machine, **cluster_env())
    result = run("cluster-delete.sh", machine, **cluster_env(), FAKE_DOCKER_DAEMON_DOWN="1")
    assert result.returncode == 0, result.stderr


def webhook_gate(machine: dict[str, str], wait: str = "30") -> subprocess.CompletedProcess[str]:
    access = read_access(run("cluster-access.sh", machine, **access_env()).stdout)
    manifest = json.dumps(address_pool_manifest(parse_address_pool("192.168.49.100-192.168.49.120")))
    return run(
        "metallb-webhook-ready.sh",
        machine,
        KUBECONFIG_CONTENT=access.kubeconfig,
        PROBE_MANIFEST=manifest,
        WAIT_SECONDS=wait,
        POLL_SECONDS="0",
    )


def refuse_webhook_calls(machine: dict[str, str], times: int) -> None:
    """MetalLB's controller is Ready but its webhook does not serve yet."""
    set_fake_profile(Path(machine["FAKE_CLI_STATE"]), "local-mesh-dev", webhookRefusals=times)


def test_webhook_gate_waits_out_the_race_then_passes(machine: dict[str, str]) -> None:
    run("cluster-create.sh", machine, **cluster_env())
    refuse_webhook_calls(machine, 3)
    result = webhook_gate(machine)
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("waiting for MetalLB's webhook") == 3
    assert "connect: connection refused" in result.stderr
    assert "MetalLB's webhook admits IPAddressPools" in result.stderr
    dry_runs = [call for call in state(machine)["calls"] if "--dry-run=server" in call]
    assert len(dry_runs) == 4


def test_webhook_gate_gives_up_with_the_last_error(machine: dict[str, str]) -> None:
    run("cluster-create.sh", machine, **cluster_env())
    refuse_webhook_calls(machine, 10**6)
    result = webhook_gate(machine, wait="1")
    assert result.returncode == 1
    assert "still refuses an IPAddressPool after 1s" in result.stderr
    assert "connection refused" in result.stderr.splitlines()[-1]


def test_webhook_gate_leaves_no_kubeconfig_copy_behind(machine: dict[str, str], tmp_path: Path) -> None:
    run("cluster-create.sh", machine, **cluster_env())
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    machine["TMPDIR"] = str(tmp)
    assert webhook_gate(machine).returncode == 0
    assert list(tmp.iterdir()) == []


def existing_access(machine: dict[str, str], context: str = "kind-dev") -> subprocess.CompletedProcess[str]:
    return run(
        "existing-cluster-access.sh",
        machine,
        **existing_access_environment(parse_settings(raw(cluster="existing", kubeContext=context), "dev")),
    )


def test_existing_access_prints_the_first_nodes_ip_then_that_one_context(machine: dict[str, str]) -> None:
    root = Path(machine["FAKE_CLI_STATE"])
    add_existing_cluster(
        root,
        "kind-dev",
        nodes=(
            node_object("dev-control-plane", "172.18.0.2", "8", "16Gi"),
            node_object("dev-worker", "172.18.0.3", "8", "16Gi"),
        ),
    )
    add_existing_cluster(root, "prod", server="10.0.0.1:6443")
    result = existing_access(machine)
    assert result.returncode == 0, result.stderr
    access = parse_cluster_access(result.stdout, "kind-dev")
    assert access.node_ip == "172.18.0.2"
    config = yaml.safe_load(access.kubeconfig)
    assert [cluster["cluster"]["server"] for cluster in config["clusters"]] == ["https://127.0.0.1:40123"]
    # Read-only: only kubectl was asked, and nothing but reads.
    calls = state(machine)["calls"]
    assert [call[1:3] for call in calls] == [["config", "view"], ["get", "nodes"]]


def test_existing_access_fails_on_a_context_the_kubeconfig_lacks(machine: dict[str, str]) -> None:
    add_existing_cluster(Path(machine["FAKE_CLI_STATE"]), "kind-dev")
    result = existing_access(machine, "kind-typo")
    assert result.returncode == 1
    assert result.stdout == ""
    assert "cannot locate context kind-typo" in result.stderr


def test_existing_access_fails_when_the_api_server_does_not_answer(machine: dict[str, str]) -> None:
    add_existing_cluster(Path(machine["FAKE_CLI_STATE"]), "kind-dev", running=False)
    result = existing_access(machine)
    assert result.returncode == 1
    assert result.stdout == ""
    # kubectl's own line, alone: nothing parses the answer that never came.
    assert result.stderr.splitlines() == [
        "The connection to the server 127.0.0.1:40123 was refused - did you specify the right host or port?"
    ]


def test_stand_in_kubectl_version_has_the_real_shape_and_streams(machine: dict[str, str]) -> None:
    root = Path(machine["FAKE_CLI_STATE"])
    add_existing_cluster(root, "kind-dev", kubernetes_version="v1.34.2")
    add_existing_cluster(root, "down", server="10.0.0.9:6443", running=False)
    answered = run_shell("kubectl version --output=json --context=kind-dev", machine)
    assert answered.returncode == 0
    server = json.loads(answered.stdout)["serverVersion"]
    assert (server["major"], server["minor"], server["gitVersion"]) == ("1", "34", "v1.34.2")
    # No answer: the client's JSON still on stdout, then the error and exit 1 (version.go:125-180).
    refused = run_shell("kubectl version --output=json --context=down", machine)
    assert refused.returncode == 1
    assert "serverVersion" not in json.loads(refused.stdout)
    assert refused.stderr.startswith("The connection to the server 10.0.0.9:6443 was refused")
    # A missing context: nothing printed, client-go's configuration error, exit 1.
    missing = run_shell("kubectl version --output=json --context=nope", machine)
    assert (missing.returncode, missing.stdout) == (1, "")
    assert missing.stderr.strip() == "Error in configuration: context was not found for specified context: nope"


def test_stand_in_docker_lists_and_inspects_networks_in_the_real_format(machine: dict[str, str]) -> None:
    """`docker network ls --quiet`: 12-digit IDs sorted by name; `docker network
    inspect ID...`: one JSON array of network.Inspect (moby v28.5.2), each
    endpoint's IPv4Address with its prefix. A minikube profile's network holds
    its node while it runs; kind's network its nodes, with an IPv6 subnet too."""
    run("cluster-create.sh", machine, **cluster_env())
    add_existing_cluster(Path(machine["FAKE_CLI_STATE"]), "kind-dev")
    listed = run_shell("docker network ls --quiet", machine)
    assert listed.returncode == 0, listed.stderr
    ids = listed.stdout.split()
    assert len(ids) == 5 and all(len(i) == 12 and int(i, 16) >= 0 for i in ids)
    inspected = run_shell(f"docker network inspect {' '.join(ids)}", machine)
    assert inspected.returncode == 0, inspected.stderr
    networks = {network["Name"]: network for network in json.loads(inspected.stdout)}
    assert list(networks) == ["bridge", "host", "kind", "local-mesh-dev", "none"]
    assert [network["Id"][:12] for network in networks.values()] == ids
    assert networks["kind"]["IPAM"]["Config"] == [
        {"Subnet": "172.18.0.0/16", "Gateway": "172.18.0.1"},
        {"Subnet": "fc00:f853:ccd:e793::/64", "Gateway": "fc00:f853:ccd:e793::1"},
    ]
    ((kind_node),) = networks["kind"]["Containers"].values()
    assert (kind_node["Name"], kind_node["IPv4Address"]) == ("dev-control-plane", "172.18.0.2/16")
    assert networks["local-mesh-dev"]["IPAM"]["Config"] == [{"Subnet": "192.168.49.0/24", "Gateway": "192.168.49.1"}]
    ((minikube_node),) = networks["local-mesh-dev"]["Containers"].values()
    assert (minikube_node["Name"], minikube_node["IPv4Address"]) == ("local-mesh-dev", "192.168.49.2/24")
    assert networks["host"]["IPAM"]["Config"] == []
    # A stopped container has no endpoint on its network.
    run_shell("minikube stop -p local-mesh-dev", machine)
    stopped = json.loads(run_shell("docker network inspect local-mesh-dev", machine).stdout)
    assert stopped[0]["Containers"] == {}
