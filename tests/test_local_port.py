"""localPort: the ingress gateway on a loopback port of the host (issue 20).

The setting and its refusals, the gateway's fixed NodePort in the rendered
chart, the scripts against the stand-in minikube and docker (--ports, `docker
port`, `docker info`), pre-flight's probe of a fixed port, and the stack's
outputs under the mocks on Linux and on Docker Desktop."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from components.checks.local_port import LocalPortFacts, gather_local_port_facts, local_port_problems
from components.model.network import browsed_host, is_docker_desktop
from components.model.parts.istio import INGRESS_NODE_PORT, INGRESS_RELEASE
from components.model.plan import release_plan
from components.model.settings import ConfigError, declared_defaults, ignored_key_warnings, parse_settings
from components.shell import (
    INTERPRETER,
    access_environment,
    cluster_environment,
    owner_environment,
    parse_minikube_access,
    preview_environment,
    recreate_triggers,
    script,
)
from harness.config import raw_config as raw
from harness.kinds import COMMAND, RELEASE
from harness.program import ProgramFailedError, ProgramRun, owner_of, run_program
from harness.world import fake_state, run_shell, set_fake_profile
from tests.upstream import render, schema_problems

PROFILE = "local-mesh-dev"
LOCAL_PORT_VARIABLES = {"LOCAL_NODE_PORT", "LOCAL_HOST_IP", "LOCAL_HOST_PORT"}
PUBLISHED = f"{INGRESS_NODE_PORT}/tcp"
KUBECONFIG = (
    "apiVersion: v1\nkind: Config\nclusters: []\nusers: []\n"
    f"contexts:\n- name: {PROFILE}\n  context: {{cluster: {PROFILE}, user: {PROFILE}}}\n"
)


@pytest.fixture
def held_port() -> Iterator[int]:
    """A loopback port another process of this host listens on."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


# --- the setting ---


@pytest.mark.parametrize(("text", "port"), [("0", 0), ("8080", 8080), ("1024", 1024), ("65535", 65535), ("off", None)])
def test_local_port_is_0_a_port_or_off(text: str, port: int | None) -> None:
    assert parse_settings(raw(localPort=text), "dev").local_port == port


@pytest.mark.parametrize("text", ["80", "1023", "65536", "-1", "auto", "8080.0", ""])
def test_another_local_port_is_one_line_naming_what_is_accepted(text: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_settings(raw(localPort=text), "dev")
    assert str(error.value) == (
        f"local-mesh:localPort = '{text}' is not valid: expected 0 (a free port, picked when the cluster is "
        "created), a port from 1024 to 65535, or off"
    )


def test_a_fixed_port_needs_a_driver_whose_node_is_a_container() -> None:
    with pytest.raises(
        ConfigError, match=r"^local-mesh:localPort = '8080' is not valid: expected 0 or off with driver kvm2"
    ):
        parse_settings(raw(localPort="8080", driver="kvm2"), "dev")
    # 0 on such a driver publishes nothing: the VM's address is the host's to reach.
    assert not parse_settings(raw(driver="kvm2"), "dev").publishes_local_port


def test_a_fixed_port_on_several_nodes_is_refused_since_every_node_would_bind_it() -> None:
    with pytest.raises(ConfigError) as error:
        parse_settings(raw(localPort="8080", nodes="2"), "dev")
    assert str(error.value) == (
        "local-mesh:localPort = '8080' is not valid: expected off with local-mesh:nodes 2 (minikube publishes "
        "--ports on every node, and a second node cannot bind the port the first holds)"
    )


def test_0_on_several_nodes_publishes_nothing_and_says_so() -> None:
    settings = parse_settings(raw(nodes="2"), "dev")
    assert not settings.publishes_local_port
    (warning,) = ignored_key_warnings(settings, declared_defaults(), [])
    assert warning.startswith("local-mesh:localPort = '0' is ignored with local-mesh:nodes 2: minikube publishes")


def test_a_fixed_port_on_an_existing_cluster_is_ignored_with_a_warning() -> None:
    settings = parse_settings(raw(cluster="existing", kubeContext="kind-dev", localPort="8080"), "dev")
    assert not settings.publishes_local_port
    (warning,) = ignored_key_warnings(settings, declared_defaults(), [])
    assert warning.startswith("local-mesh:localPort = '8080' is ignored: with local-mesh:cluster existing")
    # The default and off say nothing there.
    for text in ("0", "off"):
        quiet = parse_settings(raw(cluster="existing", kubeContext="kind-dev", localPort=text), "dev")
        assert ignored_key_warnings(quiet, declared_defaults(), []) == []


def test_changing_the_local_port_recreates_the_cluster_and_off_keeps_the_environment_of_before() -> None:
    """minikube publishes --ports only when it creates the node's container."""
    triggers = {text: recreate_triggers(parse_settings(raw(localPort=text), "dev")) for text in ("0", "8080", "off")}
    assert len({tuple(value) for value in triggers.values()}) == 3
    off = cluster_environment(parse_settings(raw(localPort="off"), "dev"))
    assert not set(off) & LOCAL_PORT_VARIABLES


# --- the gateway's NodePort ---


@pytest.mark.parametrize(("local_port", "node_port"), [("0", INGRESS_NODE_PORT), ("off", None)])
def test_the_rendered_gateway_service_has_the_published_node_port_on_port_80(
    local_port: str, node_port: int | None
) -> None:
    gateway = release_plan(parse_settings(raw(localPort=local_port), "dev")).release(INGRESS_RELEASE)
    objects = render(gateway)
    (service,) = [item for item in objects if item["kind"] == "Service"]
    assert schema_problems(service) == []
    ports = {port["port"]: port for port in service["spec"]["ports"]}
    assert ports[80].get("nodePort") == node_port
    # The chart's other ports are still there (a value replaces its list whole).
    assert set(ports) == {15021, 80, 443}
    assert service["spec"]["type"] == "LoadBalancer"


# --- the scripts against the stand-in minikube and docker ---


def run(name: str, machine: dict[str, str], **environment: str) -> subprocess.CompletedProcess[str]:
    return run_shell(script(name), {**machine, **environment}, INTERPRETER)


def create_env(**overrides: str) -> dict[str, str]:
    return {**cluster_environment(parse_settings(raw(**overrides), "dev")), **owner_environment(owner_of("dev"))}


def access_env(**overrides: str) -> dict[str, str]:
    settings = parse_settings(raw(**overrides), "dev")
    return {**access_environment(settings), **owner_environment(owner_of("dev")), **preview_environment(False)}


def published(machine: dict[str, str]) -> dict[str, str]:
    return dict(fake_state(Path(machine["FAKE_CLI_STATE"]))["profiles"][PROFILE].get("published", {}))


def start_flags(machine: dict[str, str]) -> list[str]:
    calls = fake_state(Path(machine["FAKE_CLI_STATE"]))["calls"]
    return [word for call in calls if call[:2] == ["minikube", "start"] for word in call if word.startswith("--ports")]


def test_create_publishes_the_node_port_on_a_free_loopback_port_only(machine: dict[str, str]) -> None:
    result = run("cluster-create.sh", machine, **create_env())
    assert result.returncode == 0, result.stderr
    (flag,) = start_flags(machine)
    host_ip, host_port, node_port = flag.removeprefix("--ports=").split(":")
    # Never 0.0.0.0: nothing but this host may reach the ingress through it.
    assert (host_ip, node_port) == ("127.0.0.1", str(INGRESS_NODE_PORT))
    # Below every system's ephemeral range, where no other process is handed it meanwhile.
    assert 20000 <= int(host_port) < 30000
    assert published(machine) == {PUBLISHED: f"127.0.0.1:{host_port}"}
    assert f"http://127.0.0.1:{host_port}/" in result.stderr


def test_create_publishes_a_fixed_port_as_asked(machine: dict[str, str]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    assert run("cluster-create.sh", machine, **create_env(localPort=str(free))).returncode == 0
    assert start_flags(machine) == [f"--ports=127.0.0.1:{free}:{INGRESS_NODE_PORT}"]


def test_off_publishes_nothing(machine: dict[str, str]) -> None:
    assert run("cluster-create.sh", machine, **create_env(localPort="off")).returncode == 0
    assert start_flags(machine) == []
    assert published(machine) == {}


def test_a_port_held_when_minikube_starts_fails_the_create_and_leaves_no_profile(
    machine: dict[str, str], held_port: int
) -> None:
    """Docker's bind fails (moby libnetwork), minikube exits 80 (GUEST_PROVISION),
    and the profile this run created is deleted again."""
    result = run("cluster-create.sh", machine, **create_env(localPort=str(held_port)))
    assert result.returncode == 80
    assert f"failed to bind host port for 127.0.0.1:{held_port}" in result.stderr
    assert "address already in use" in result.stderr
    assert "deleting the half-created profile" in result.stderr
    assert PROFILE not in fake_state(Path(machine["FAKE_CLI_STATE"]))["profiles"]


def test_an_existing_profile_gets_no_ports_flag(machine: dict[str, str]) -> None:
    """minikube applies --ports only to a container it creates."""
    assert run("cluster-create.sh", machine, **create_env()).returncode == 0
    first = published(machine)
    run_shell(f"minikube stop -p {PROFILE}", machine)
    assert run("cluster-create.sh", machine, **create_env()).returncode == 0
    assert len(start_flags(machine)) == 1
    assert published(machine) == first


def test_access_reads_the_published_port_and_dockers_operating_system_on_every_run(machine: dict[str, str]) -> None:
    assert run("cluster-create.sh", machine, **create_env()).returncode == 0
    result = run("cluster-access.sh", machine, **access_env())
    assert result.returncode == 0, result.stderr
    access = parse_minikube_access(result.stdout, PROFILE, publishes_local_port=True)
    assert f"127.0.0.1:{access.local_port}" == published(machine)[PUBLISHED]
    assert access.reaches_node_network
    # The container's port is read again, not remembered (a profile remade by hand has another).
    set_fake_profile(Path(machine["FAKE_CLI_STATE"]), PROFILE, published={PUBLISHED: "127.0.0.1:41234"})
    again = run("cluster-access.sh", machine, **access_env(), FAKE_DOCKER_OPERATING_SYSTEM="Docker Desktop")
    access = parse_minikube_access(again.stdout, PROFILE, publishes_local_port=True)
    assert (access.local_port, access.reaches_node_network) == (41234, False)


def test_access_to_a_profile_without_the_port_warns_and_reports_none(machine: dict[str, str]) -> None:
    assert run("cluster-create.sh", machine, **create_env(localPort="off")).returncode == 0
    result = run("cluster-access.sh", machine, **access_env())
    assert result.returncode == 0, result.stderr
    assert f"no public port '{PUBLISHED}' published for {PROFILE}" in result.stderr
    assert "so the stack has no localUrl" in result.stderr
    assert parse_minikube_access(result.stdout, PROFILE, publishes_local_port=True).local_port is None


# --- reading the answer ---


def test_a_binding_on_another_address_than_loopback_is_refused() -> None:
    with pytest.raises(ValueError, match=r"publishes node port 30080 on '0.0.0.0:41234', not on 127.0.0.1:<port>"):
        parse_minikube_access(f"192.168.49.2\n0.0.0.0:41234\n\n{KUBECONFIG}", PROFILE, publishes_local_port=True)


@pytest.mark.parametrize(
    ("operating_system", "desktop"),
    [("Docker Desktop", True), ("Docker Desktop\n", True), ("Ubuntu 24.04.3 LTS", False), ("", False)],
)
def test_docker_desktop_is_told_by_its_operating_system(operating_system: str, desktop: bool) -> None:
    assert is_docker_desktop(operating_system) is desktop


def test_urls_name_the_loopback_port_only_where_the_node_network_is_out_of_reach() -> None:
    assert browsed_host("192.168.49.100", 41234, reaches_node_network=True) == "192.168.49.100"
    assert browsed_host("192.168.49.100", 41234, reaches_node_network=False) == "127.0.0.1:41234"
    assert browsed_host("192.168.49.100", None, reaches_node_network=False) == "192.168.49.100"


# --- pre-flight ---


def test_preflight_refuses_a_fixed_port_another_process_holds(held_port: int, machine: dict[str, str]) -> None:
    settings = parse_settings(raw(localPort=str(held_port)), "dev")
    facts = gather_local_port_facts(settings, held_port)
    assert facts == LocalPortFacts(port_free=False, own_binding=None)
    assert local_port_problems(settings, facts) == [
        f"local-mesh:localPort = '{held_port}': something else on this host already holds 127.0.0.1:{held_port}: "
        "choose another port, or 0 for a free one"
    ]


def test_preflight_lets_the_stacks_own_profile_hold_its_port() -> None:
    settings = parse_settings(raw(localPort="8080"), "dev")
    assert local_port_problems(settings, LocalPortFacts(port_free=False, own_binding="127.0.0.1:8080")) == []
    assert local_port_problems(settings, LocalPortFacts(port_free=True, own_binding=None)) == []
    # 0 is picked free when the cluster is created: nothing to check before.
    assert local_port_problems(parse_settings(raw(), "dev"), LocalPortFacts(False, None)) == []


def test_a_held_fixed_port_stops_the_program_before_anything_is_registered(tmp_path: Path, held_port: int) -> None:
    with pytest.raises(ProgramFailedError) as failure:
        run_program("dev", tmp_path / "machine", {"localPort": str(held_port)})
    assert f"something else on this host already holds 127.0.0.1:{held_port}" in str(failure.value)
    assert failure.value.registrations == []


# --- the stack's outputs under the mocks ---

DASHBOARDS = ("kialiUrl", "prometheusUrl", "grafanaUrl", "jaegerUrl")


def urls(run: ProgramRun) -> dict[str, Any]:
    return {key: value for key, value in run.outputs.items() if key.endswith("Url")}


def kiali_grafana_links(run: ProgramRun) -> str:
    return str(run.releases()["kiali"].inputs["values"]["external_services"]["grafana"]["external_url"])


def test_on_linux_the_metallb_address_stays_primary_and_local_url_is_extra(tmp_path: Path) -> None:
    run = run_program("dev", tmp_path / "machine")
    port = int(published({"FAKE_CLI_STATE": run.mocks.environment["FAKE_CLI_STATE"]})[PUBLISHED].split(":")[1])
    assert urls(run) == {
        "ingressUrl": "http://192.168.49.100",
        "localUrl": f"http://127.0.0.1:{port}/",
        "sampleUrl": "http://192.168.49.100/status/200",
        **{key: f"http://192.168.49.100/{key.removesuffix('Url')}/" for key in DASHBOARDS},
    }
    assert kiali_grafana_links(run) == "http://192.168.49.100"
    assert run.releases()[INGRESS_RELEASE].inputs["values"]["service"]["ports"][1]["nodePort"] == INGRESS_NODE_PORT


def test_on_docker_desktop_every_url_is_on_the_loopback_port(tmp_path: Path) -> None:
    run = run_program("dev", tmp_path / "machine", machine={"FAKE_DOCKER_OPERATING_SYSTEM": "Docker Desktop"})
    port = int(published({"FAKE_CLI_STATE": run.mocks.environment["FAKE_CLI_STATE"]})[PUBLISHED].split(":")[1])
    local = f"http://127.0.0.1:{port}"
    assert urls(run) == {
        "ingressUrl": local,
        "localUrl": f"{local}/",
        "sampleUrl": f"{local}/status/200",
        **{key: f"{local}/{key.removesuffix('Url')}/" for key in DASHBOARDS},
    }
    # Kiali's links to Grafana open where the user browses.
    assert kiali_grafana_links(run) == local
    # The MetalLB address is still the Service's, for what runs inside the node's network.
    assert run.outputs["ingressIp"] == "192.168.49.100"


def test_a_fixed_port_is_the_local_url(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    run = run_program("dev", tmp_path / "machine", {"localPort": str(free)})
    assert run.outputs["localUrl"] == f"http://127.0.0.1:{free}/"


def test_off_has_no_local_url_no_node_port_and_the_cluster_environment_of_before(tmp_path: Path) -> None:
    run = run_program("dev", tmp_path / "machine", {"localPort": "off"})
    assert "localUrl" not in run.outputs
    assert "ports" not in run.releases()[INGRESS_RELEASE].inputs["values"]["service"]
    (minikube,) = [r for r in run.of_type(COMMAND) if r.name == "minikube"]
    assert not set(minikube.inputs["environment"]) & LOCAL_PORT_VARIABLES
    assert all(r.type != RELEASE or "nodePort" not in str(r.inputs["values"]) for r in run.registrations)
