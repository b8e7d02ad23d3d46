"""local-mesh's host registries (issue 19, the host side): the pull-through
caches and the registry for the user's own images, which outlive every stack.
The settings that allow them, the Command and ConfigMap the program registers,
the scripts against the stand-in docker and minikube, `make clean-cache`, and a
second cluster after destroy that takes every image from the caches."""

from __future__ import annotations

import http.server
import ipaddress
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.checks.host_registries import check_host_registries, host_registry_problems, inspect_containers
from components.model import images
from components.model.network import check_cluster_pools, default_address_pool, shared_node_address
from components.model.settings import MAX_CLUSTERS, MAX_NODES, ConfigError, parse_settings
from components.shell import (
    INTERPRETER,
    cluster_environment,
    host_registries_environment,
    owner_environment,
    recreate_triggers,
    script,
)
from harness.config import REPO
from harness.config import raw_config as raw
from harness.kinds import COMMAND, PROVIDER
from harness.program import ProgramRun, destroy, owner_of, run_program
from harness.servers import serve_loopback
from harness.world import fake_state, pull_images, run_shell
from tests.conftest import SharedRun

PROFILE = "local-mesh-dev"
LABEL = images.REGISTRY_LABEL
CACHES = [images.cache_name(registry) for registry in images.UPSTREAM_REGISTRIES]
REGISTRIES = [*CACHES, images.LOCAL_REGISTRY_NAME]


def run(name: str, machine: dict[str, str], **environment: str) -> subprocess.CompletedProcess[str]:
    return run_shell(script(name), {**machine, **environment}, INTERPRETER)


def cluster_env(profile: str = PROFILE, **overrides: str) -> dict[str, str]:
    settings = parse_settings(raw(profile=profile, **overrides), "dev")
    return {**cluster_environment(settings), **owner_environment(owner_of("dev"))}


def state(machine: dict[str, str]) -> dict[str, Any]:
    return fake_state(Path(machine["FAKE_CLI_STATE"]))


def docker_calls(machine: dict[str, str], verb: str) -> list[list[str]]:
    return [call for call in state(machine)["calls"] if call[0] == "docker" and verb in call[1:3]]


def start_registries(machine: dict[str, str], network: str = PROFILE) -> subprocess.CompletedProcess[str]:
    return run("host-registries.sh", machine, **host_registries_environment(network))


def new_cluster(machine: dict[str, str], profile: str = PROFILE) -> None:
    created = run("cluster-create.sh", machine, **cluster_env(profile))
    assert created.returncode == 0, created.stderr
    started = start_registries(machine, profile)
    assert started.returncode == 0, started.stderr


# --- settings ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "caches"),
    [
        ({}, True),
        ({"driver": "kvm2"}, False),
        ({"imageCache": "off"}, False),
        ({"cluster": "existing", "kubeContext": "kind-dev"}, False),
    ],
)
def test_auto_caches_only_with_local_meshs_minikube_on_docker(overrides: dict[str, str], caches: bool) -> None:
    assert parse_settings(raw(**overrides), "dev").caches_images is caches


@pytest.mark.parametrize(
    "overrides", [{"driver": "kvm2"}, {"cluster": "existing", "kubeContext": "kind-dev", "nodes": "1"}]
)
def test_image_cache_on_is_refused_where_the_node_cannot_join_the_caches(overrides: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as refusal:
        parse_settings(raw(imageCache="on", **overrides), "dev")
    (line,) = str(refusal.value).splitlines()
    assert "local-mesh:imageCache" in line and "'on'" in line and "auto or off" in line


# --- the minikube Command's environment --------------------------------------


def test_the_node_gets_docker_hubs_mirror_and_every_host_registry_as_insecure() -> None:
    environment = cluster_env()
    assert environment["MINIKUBE_REGISTRY_MIRROR"] == f"http://{images.cache_name('docker.io')}:5000"
    insecure = environment["MINIKUBE_INSECURE_REGISTRY"].split(",")
    assert insecure == [f"{name}:5000" for name in REGISTRIES]
    assert environment["LOCAL_MESH_REGISTRY_NAMES"].split() == REGISTRIES


def test_switching_the_caches_recreates_the_cluster_and_off_leaves_its_inputs_alone() -> None:
    on, off = (parse_settings(raw(imageCache=mode), "dev") for mode in ("on", "off"))
    assert recreate_triggers(on) != recreate_triggers(off)
    assert not any("REGISTR" in key for key in cluster_environment(off))


# --- the scripts against the stand-ins -----------------------------------------


def test_create_hands_the_registry_flags_to_a_new_profile(machine: dict[str, str]) -> None:
    created = run("cluster-create.sh", machine, **cluster_env())
    assert created.returncode == 0, created.stderr
    profile = state(machine)["profiles"][PROFILE]
    assert profile["registryMirrors"] == [f"http://{images.cache_host('docker.io')}"]
    assert profile["insecureRegistries"] == [f"{name}:5000" for name in REGISTRIES]


def test_without_the_caches_minikube_gets_no_registry_flags(machine: dict[str, str]) -> None:
    created = run("cluster-create.sh", machine, **cluster_env(imageCache="off"))
    assert created.returncode == 0, created.stderr
    (start,) = [call for call in state(machine)["calls"] if call[:2] == ["minikube", "start"]]
    assert not any("registry" in word for word in start)


def test_the_registries_are_made_labelled_with_volumes_and_joined_to_the_network(machine: dict[str, str]) -> None:
    run("cluster-create.sh", machine, **cluster_env())
    started = start_registries(machine)
    assert started.returncode == 0, started.stderr
    world = state(machine)
    assert sorted(world["containers"]) == sorted(REGISTRIES)
    for name, container in world["containers"].items():
        assert LABEL in container["labels"], name
        assert container["running"] and container["restart"] == "unless-stopped", name
        assert PROFILE in container["networks"], name
        ((volume, destination),) = container["volumes"].items()
        assert destination == "/var/lib/registry"
        assert LABEL in world["volumes"][volume]["labels"], name
    for registry in images.UPSTREAM_REGISTRIES:
        cache = world["containers"][images.cache_name(registry)]
        assert cache["env"] == [f"REGISTRY_PROXY_REMOTEURL={images.UPSTREAM_URLS[registry]}"]
        assert cache["publish"] == []
    local = world["containers"][images.LOCAL_REGISTRY_NAME]
    assert local["env"] == []
    # Only the user's registry has a host port, on loopback, never 0.0.0.0.
    assert local["publish"] == ["127.0.0.1:5001:5000"]


def test_a_second_stack_reuses_the_running_registries_and_joins_its_own_network(machine: dict[str, str]) -> None:
    new_cluster(machine, PROFILE)
    created = run("cluster-create.sh", machine, **cluster_env("local-mesh-other"))
    assert created.returncode == 0, created.stderr
    again = start_registries(machine, "local-mesh-other")
    assert again.returncode == 0, again.stderr
    assert len(docker_calls(machine, "run")) == len(REGISTRIES)
    for container in state(machine)["containers"].values():
        assert sorted(container["networks"]) == sorted(["bridge", PROFILE, "local-mesh-other"])
    # Run again on the same network: nothing to do.
    connects = len(docker_calls(machine, "connect"))
    assert start_registries(machine, "local-mesh-other").returncode == 0
    assert len(docker_calls(machine, "connect")) == connects


def test_a_stopped_registry_is_started_again(machine: dict[str, str]) -> None:
    new_cluster(machine)
    path = Path(machine["FAKE_CLI_STATE"]) / "state.json"
    world = json.loads(path.read_text())
    world["containers"][images.LOCAL_REGISTRY_NAME]["running"] = False
    path.write_text(json.dumps(world))
    assert start_registries(machine).returncode == 0
    assert state(machine)["containers"][images.LOCAL_REGISTRY_NAME]["running"]
    assert ["docker", "start", images.LOCAL_REGISTRY_NAME] in state(machine)["calls"]


def test_a_container_of_that_name_not_ours_is_refused_in_one_line(machine: dict[str, str]) -> None:
    run("cluster-create.sh", machine, **cluster_env())
    foreign = images.cache_name("quay.io")
    assert run_shell(f"docker run --detach --name {foreign} registry:2", machine).returncode == 0
    refused = start_registries(machine)
    assert refused.returncode == 1
    (line,) = [line for line in refused.stderr.splitlines() if foreign in line]
    assert "not local-mesh's" in line and "local-mesh:imageCache" in line
    # The foreign container is left as it was.
    assert state(machine)["containers"][foreign]["networks"] == ["bridge"]


def test_delete_takes_the_registries_off_the_network_first_and_leaves_them(machine: dict[str, str]) -> None:
    new_cluster(machine)
    deleted = run("cluster-delete.sh", machine, **cluster_env())
    assert deleted.returncode == 0, deleted.stderr
    calls = state(machine)["calls"]
    delete_at = calls.index(["minikube", "delete", f"--profile={PROFILE}"])
    disconnects = [i for i, call in enumerate(calls) if call[1:3] == ["network", "disconnect"]]
    assert len(disconnects) == len(REGISTRIES)
    assert max(disconnects) < delete_at
    world = state(machine)
    # minikube could remove the profile's network, and the registries still run.
    assert PROFILE not in world["networks"]
    assert all(container["running"] for container in world["containers"].values())
    assert not any(call[1:3] == ["network", "rm"] for call in calls)


def test_without_the_disconnect_minikube_would_leave_the_network(machine: dict[str, str]) -> None:
    # The stand-in's side of the test above: a registry still attached keeps the network.
    new_cluster(machine)
    result = run_shell(f"minikube delete --profile={PROFILE}", machine)
    assert result.returncode == 0
    assert PROFILE in state(machine)["networks"]


def test_clean_cache_removes_only_local_meshs_containers_and_volumes(machine: dict[str, str]) -> None:
    new_cluster(machine)
    user = run_shell("docker volume create --label=app=mine mine-data && docker run --detach --name mine app", machine)
    assert user.returncode == 0, user.stderr
    cleaned = subprocess.run(
        ["make", "--no-print-directory", "clean-cache"], cwd=REPO, env=machine, capture_output=True, text=True
    )
    assert cleaned.returncode == 0, cleaned.stderr
    world = state(machine)
    assert sorted(world["containers"]) == ["mine"]
    assert sorted(world["volumes"]) == ["mine-data"]
    removed = [line.split()[-1] for line in cleaned.stdout.splitlines()]
    assert sorted(removed) == sorted([*REGISTRIES, *(f"{name}-data" for name in REGISTRIES)])


def test_clean_cache_with_nothing_to_remove_says_so(machine: dict[str, str]) -> None:
    cleaned = subprocess.run(
        ["make", "--no-print-directory", "clean-cache"], cwd=REPO, env=machine, capture_output=True, text=True
    )
    assert cleaned.returncode == 0, cleaned.stderr
    assert "no image caches or registry" in cleaned.stdout


# --- pulls: a second cluster after destroy takes everything from the caches ----


def test_a_second_cluster_after_destroy_pulls_every_image_from_the_caches(tmp_path: Path) -> None:
    first = run_program("dev", tmp_path)
    root = tmp_path
    # Every image the stack's pods run, as the node names them (the caches' hosts).
    node_pulls = first.outputs["images"]
    fetched = pull_images(root, PROFILE, node_pulls)
    # The first cluster fetches each image from the internet, through its cache.
    assert [pull["from"] for pull in fetched] == ["upstream"] * len(node_pulls)
    assert {pull["via"] for pull in fetched} == set(CACHES)
    destroy(first)
    world = fake_state(root)
    assert PROFILE not in world["profiles"] and PROFILE not in world["networks"]
    # destroy leaves the caches running, with what they hold.
    assert sorted(world["containers"]) == sorted(REGISTRIES)
    assert all(container["running"] for container in world["containers"].values())
    run_program("dev", root)
    # Offline: nothing beyond this host answers, and every image still comes.
    again = pull_images(root, PROFILE, node_pulls, FAKE_OFFLINE="1")
    assert [pull["image"] for pull in again] == node_pulls
    assert {pull["from"] for pull in again} <= set(CACHES)
    assert all("via" not in pull for pull in again)


def test_without_the_caches_a_second_cluster_needs_the_internet(tmp_path: Path) -> None:
    # The test above's counterpart: with imageCache off nothing is kept.
    off = {"imageCache": "off"}
    first = run_program("dev", tmp_path, off)
    docker_hub = [image for image in first.outputs["images"] if image.startswith("docker.io/")]
    assert {pull["from"] for pull in pull_images(tmp_path, PROFILE, docker_hub)} == {"upstream"}
    destroy(first)
    run_program("dev", tmp_path, off)
    with pytest.raises(RuntimeError, match="GUEST_IMAGE_PULL"):
        pull_images(tmp_path, PROFILE, docker_hub, FAKE_OFFLINE="1")


# --- the program under mocks ---------------------------------------------------


@pytest.fixture
def demo(shared_run: SharedRun) -> ProgramRun:
    return shared_run()


def test_the_host_registries_command_has_no_delete_and_runs_after_the_cluster(demo: ProgramRun) -> None:
    cluster = demo.find(COMMAND, "minikube")
    registries = demo.find(COMMAND, "host-registries")
    assert registries.inputs["create"] == script("host-registries.sh")
    assert "delete" not in registries.inputs and "update" not in registries.inputs
    assert not registries.deleted_with
    assert registries.inputs["environment"] == host_registries_environment(PROFILE)
    assert demo.depends_on(registries, cluster)
    # A recreated cluster has a new network to join: the same triggers as the cluster's.
    assert registries.inputs["triggers"] == cluster.inputs["triggers"]


def test_every_release_and_object_waits_for_the_host_registries(demo: ProgramRun) -> None:
    registries = demo.find(COMMAND, "host-registries")
    (provider,) = demo.of_type(PROVIDER)
    # A resource waits for its provider, which waits for the registries.
    assert registries.urn in provider.dependencies
    in_cluster = [r for r in demo.registrations if r.type.startswith("kubernetes:")]
    assert in_cluster
    for resource in in_cluster:
        assert resource.provider.startswith(provider.urn + "::"), resource.name


def test_the_local_registry_is_advertised_as_kep_1755_describes(demo: ProgramRun) -> None:
    config_map = demo.named("local-registry-hosting")
    assert config_map.type == "kubernetes:core/v1:ConfigMap"
    assert config_map.inputs["metadata"] == {"name": "local-registry-hosting", "namespace": "kube-public"}
    hosting = yaml.safe_load(config_map.inputs["data"]["localRegistryHosting.v1"])
    assert hosting == {"host": "localhost:5001", "hostFromContainerRuntime": "local-mesh-registry:5000"}
    assert demo.outputs["registry"] == hosting["host"]
    assert config_map.deleted_with == demo.find(COMMAND, "minikube").urn


def test_with_image_cache_off_there_are_no_host_registries(shared_run: SharedRun) -> None:
    off = shared_run(imageCache="off")
    assert [r.name for r in off.of_type(COMMAND)] == ["minikube", "metallb-webhook-ready"]
    assert not [r for r in off.registrations if r.name == "local-registry-hosting"]
    assert "registry" not in off.outputs


def test_turning_the_caches_on_replaces_the_cluster(tmp_path: Path) -> None:
    first = run_program("dev", tmp_path, {"imageCache": "off"})
    preview = run_program("dev", tmp_path, preview=True, after=first)
    assert preview.find(COMMAND, "minikube").inputs["triggers"] != first.find(COMMAND, "minikube").inputs["triggers"]
    second = run_program("dev", tmp_path, after=first)
    assert second.mocks.commands_run[:2] == ["minikube:delete", "minikube"]
    assert fake_state(tmp_path)["profiles"][PROFILE]["registryMirrors"]


# --- pre-flight ------------------------------------------------------------------


def test_preflight_refuses_a_foreign_container_of_a_registrys_name(machine: dict[str, str]) -> None:
    problems = host_registry_problems(
        parse_settings(raw(), "dev"),
        {images.cache_name("quay.io"): {"Name": "/x", "Config": {"Labels": {}}}},
        port_taken=False,
        port=5001,
    )
    (line,) = problems
    assert images.cache_name("quay.io") in line and "local-mesh:imageCache" in line


def test_preflight_reports_the_push_port_taken_by_another_program(
    machine: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in machine.items():
        monkeypatch.setenv(key, value)
    with serve_loopback(http.server.BaseHTTPRequestHandler) as url:
        port = int(url.rsplit(":", 1)[1])
        (line,) = check_host_registries(parse_settings(raw(), "dev"), port)
    assert f"127.0.0.1:{port}" in line and "taken by another program" in line
    # Nothing listens there any more: free.
    assert check_host_registries(parse_settings(raw(), "dev"), port) == []


def test_preflight_accepts_the_port_when_it_is_our_registrys(machine: dict[str, str]) -> None:
    ours = {
        "Name": f"/{images.LOCAL_REGISTRY_NAME}",
        "Config": {"Labels": {LABEL: "local"}},
        "HostConfig": {"PortBindings": {"5000/tcp": [{"HostIp": "127.0.0.1", "HostPort": "5001"}]}},
    }
    settings = parse_settings(raw(), "dev")
    assert host_registry_problems(settings, {images.LOCAL_REGISTRY_NAME: ours}, port_taken=True, port=5001) == []
    assert host_registry_problems(settings, {images.LOCAL_REGISTRY_NAME: ours}, port_taken=True, port=5002) != []
    assert host_registry_problems(settings, {}, port_taken=False, port=5001) == []
    off = parse_settings(raw(imageCache="off"), "dev")
    assert host_registry_problems(off, {}, port_taken=True, port=5001) == []


def test_preflight_reads_the_stand_in_registry_as_ours(
    machine: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    new_cluster(machine)
    for key, value in machine.items():
        monkeypatch.setenv(key, value)
    containers = inspect_containers(REGISTRIES)
    assert sorted(containers) == sorted(REGISTRIES)
    settings = parse_settings(raw(), "dev")
    assert host_registry_problems(settings, containers, port_taken=True, port=5001) == []


def test_a_recreated_cluster_gets_its_registries_back_on_its_network(tmp_path: Path) -> None:
    first = run_program("dev", tmp_path)
    second = run_program("dev", tmp_path, {"cpus": 6}, after=first)
    # The cluster is replaced (its delete takes the registries off the old
    # network), then the registries' Command runs again and joins the new one.
    ran = second.mocks.commands_run
    assert ran.index("minikube:delete") < ran.index("minikube") < ran.index("host-registries")
    world = fake_state(tmp_path)
    assert all(PROFILE in container["networks"] for container in world["containers"].values())
    assert len([call for call in world["calls"] if call[:2] == ["docker", "run"]]) == len(REGISTRIES)


def test_a_registry_another_run_makes_meanwhile_is_used(machine: dict[str, str], tmp_path: Path) -> None:
    # Two stacks (or two clusters of one stack) start at once: the other run's
    # `docker run` wins between this one's inspect and its own `docker run`.
    racing = tmp_path / "racing-bin"
    racing.mkdir()
    stand_in = REPO / "tests" / "fakes" / "bin" / "docker"
    (racing / "docker").write_text(
        "#!/usr/bin/env bash\n"
        f'if [ "$1" = run ] && [ ! -e "$FAKE_CLI_STATE/raced" ]; then\n'
        f'  touch "$FAKE_CLI_STATE/raced"; "{stand_in}" "$@" >/dev/null\n'
        "fi\n"
        f'exec "{stand_in}" "$@"\n'
    )
    (racing / "docker").chmod(0o755)
    run("cluster-create.sh", machine, **cluster_env())
    started = start_registries({**machine, "PATH": f"{racing}:{machine['PATH']}"})
    assert started.returncode == 0, started.stderr
    assert "already in use" in started.stderr and "made meanwhile by another run" in started.stderr
    world = state(machine)
    assert sorted(world["containers"]) == sorted(REGISTRIES)
    assert all(PROFILE in container["networks"] for container in world["containers"].values())


# --- the registries' addresses on the cluster's network ----------------------


def network_addresses(machine: dict[str, str], network: str = PROFILE) -> dict[str, ipaddress.IPv4Address]:
    """Every endpoint's address as `docker network inspect` shows it."""
    inspected = run_shell(f"docker network inspect {network}", machine, None)
    assert inspected.returncode == 0, inspected.stderr
    (document,) = json.loads(inspected.stdout)
    return {
        endpoint["Name"]: ipaddress.IPv4Interface(endpoint["IPv4Address"]).ip
        for endpoint in document["Containers"].values()
    }


def subnet_of(machine: dict[str, str], network: str = PROFILE) -> ipaddress.IPv4Network:
    return ipaddress.IPv4Network(state(machine)["networkDetails"][network]["subnet"])


def test_every_registry_has_its_own_address_clear_of_nodes_pools_and_reserved_ones() -> None:
    subnet = ipaddress.IPv4Network("192.168.49.0/24")
    addresses = images.registry_addresses(subnet)
    assert sorted(addresses) == sorted(REGISTRIES) and len(set(addresses.values())) == len(REGISTRIES)
    first_node = subnet.network_address + 2
    nodes = {first_node + index for index in range(MAX_NODES)}
    nodes |= {ipaddress.IPv4Address(shared_node_address(str(first_node), index)) for index in range(MAX_CLUSTERS)}
    pools = [default_address_pool(str(first_node), index) for index in range(MAX_CLUSTERS)]
    pools += check_cluster_pools(str(first_node), MAX_CLUSTERS)
    reserved = {subnet.network_address, subnet.network_address + 1, subnet.network_address + 254}
    for name, address in addresses.items():
        assert address in subnet and address != subnet.broadcast_address, name
        assert address not in nodes | reserved, name
        assert not any(address in pool for pool in pools), name


@pytest.mark.parametrize(
    "pool", ["192.168.49.248/30", "192.168.49.253-192.168.49.253", "192.168.49.200-192.168.49.252"]
)
def test_an_explicit_pool_holding_a_registrys_address_is_refused_in_one_line(pool: str) -> None:
    with pytest.raises(ConfigError) as refused:
        parse_settings(raw(addressPool=pool), "dev")
    message = str(refused.value)
    assert "\n" not in message and message.startswith(f"local-mesh:addressPool = '{pool}' is not valid")
    assert "host registries" in message
    # Without the caches the registries are not on the network, and the pool is the user's to choose.
    assert parse_settings(raw(addressPool=pool, imageCache="off"), "dev").address_pool is not None


def test_the_registries_join_at_their_fixed_addresses(machine: dict[str, str]) -> None:
    new_cluster(machine)
    on_network = network_addresses(machine)
    for name, address in images.registry_addresses(subnet_of(machine)).items():
        assert on_network[name] == address, name
    # The address is the endpoint's own (--ip), which Docker asks for again at every start.
    (document,) = json.loads(run_shell(f"docker container inspect {REGISTRIES[0]}", machine, None).stdout)
    endpoint = document["NetworkSettings"]["Networks"][PROFILE]
    assert endpoint["IPAMConfig"]["IPv4Address"] == endpoint["IPAddress"] == str(on_network[REGISTRIES[0]])


def test_a_later_cluster_starts_at_its_address_after_the_registries_joined(machine: dict[str, str]) -> None:
    """A multicluster stack: the first cluster's registries join its network,
    then the second profile starts there at the first node + 1."""
    new_cluster(machine)
    first_node = state(machine)["profiles"][PROFILE]["ip"]
    second = f"{PROFILE}-2"
    joined = run(
        "cluster-create.sh",
        machine,
        **cluster_env(second),
        MINIKUBE_NETWORK=PROFILE,
        MINIKUBE_STATIC_IP=shared_node_address(first_node, 1),
    )
    assert joined.returncode == 0, joined.stdout + joined.stderr
    on_network = network_addresses(machine)
    assert on_network[second] == ipaddress.IPv4Address(first_node) + 1
    assert len(set(on_network.values())) == len(on_network)


def test_docker_restart_starting_the_registries_first_keeps_every_address(machine: dict[str, str]) -> None:
    """After a Docker restart the containers start in any order: a registry
    before the node must not take the node's address."""
    new_cluster(machine)
    before = network_addresses(machine)
    assert run_shell(f"minikube stop -p {PROFILE}", machine, None).returncode == 0
    assert run_shell(f"docker stop {' '.join(REGISTRIES)}", machine, None).returncode == 0
    assert run_shell(f"docker start {' '.join(REGISTRIES)}", machine, None).returncode == 0
    restarted = run_shell(f"minikube start -p {PROFILE}", machine, None)
    assert restarted.returncode == 0, restarted.stdout + restarted.stderr
    assert network_addresses(machine) == before


def test_a_registry_an_older_run_joined_at_the_lowest_free_address_is_moved(machine: dict[str, str]) -> None:
    new_cluster(machine)
    name = REGISTRIES[0]
    assert run_shell(f"docker network disconnect {PROFILE} {name}", machine, None).returncode == 0
    assert run_shell(f"docker network connect {PROFILE} {name}", machine, None).returncode == 0
    node = ipaddress.IPv4Address(state(machine)["profiles"][PROFILE]["ip"])
    assert network_addresses(machine)[name] == node + 1  # the lowest free address
    again = start_registries(machine)
    assert again.returncode == 0, again.stderr
    assert f"moving it to its own address {images.registry_addresses(subnet_of(machine))[name]}" in again.stderr
    assert network_addresses(machine)[name] == images.registry_addresses(subnet_of(machine))[name]


def test_the_stand_in_docker_refuses_a_taken_or_foreign_address_as_docker_does(machine: dict[str, str]) -> None:
    new_cluster(machine)
    node = state(machine)["profiles"][PROFILE]["ip"]
    assert run_shell(f"docker network disconnect {PROFILE} {REGISTRIES[0]}", machine, None).returncode == 0
    taken = run_shell(f"docker network connect --ip {node} {PROFILE} {REGISTRIES[0]}", machine, None)
    assert taken.returncode == 1 and "Address already in use" in taken.stderr
    outside = run_shell(f"docker network connect --ip 10.0.0.5 {PROFILE} {REGISTRIES[0]}", machine, None)
    assert outside.returncode == 1
    assert "no configured subnet or ip-range contain the IP address 10.0.0.5" in outside.stderr
    # And minikube cannot start a node at an address a registry holds.
    held = str(images.registry_addresses(subnet_of(machine))[REGISTRIES[1]])
    clash = run_shell(
        "minikube start -p local-mesh-x --driver=docker",
        {**machine, "MINIKUBE_NETWORK": PROFILE, "MINIKUBE_STATIC_IP": held},
        None,
    )
    assert clash.returncode == 80 and "address already in use" in clash.stdout + clash.stderr
