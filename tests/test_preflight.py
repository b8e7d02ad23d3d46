"""Pre-flight: every check, its message, and that a failure registers nothing."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import yaml

from components.checks.charts import ChartSource, chart_sources, index_problems, published_chart_problems
from components.checks.cluster import (
    ClusterFacts,
    NodeFacts,
    cluster_problems,
    gather_cluster_facts,
    gather_host_networks,
    pod_requests,
    pool_note,
)
from components.checks.host import HostFacts, find_problems, gather_facts, parse_version
from components.checks.preflight import PreflightError
from components.model.footprint import cluster_requests, upgrade_surge
from components.model.network import DockerNetwork, HostNetworks, is_docker_desktop
from components.model.parts.metallb import METALLB_REPOSITORY
from components.model.plan import release_plan
from components.model.release import Requests
from components.model.settings import ISTIO_PROFILES, Settings
from harness.config import settings
from harness.program import ProgramFailedError, as_the_cli_shows, run_program
from harness.servers import closed_loopback_url, serve_directory
from harness.world import add_existing_cluster, fake_environment, fake_state, helm_index, node_object, pod_object
from tests.conftest import SharedRun

GOOD = HostFacts(
    tool_versions={"pulumi": "v3.272.0", "minikube": "v1.38.1", "kubectl": "v1.35.0", "docker": "28.2.2"},
    docker_daemon_error=None,
    memory_mb=16384,
    cpus=8,
)


def host_problems(stack: Settings, facts: HostFacts) -> tuple[list[str], list[str]]:
    """find_problems with the plan the program makes from these settings."""
    return find_problems(stack, release_plan(stack), facts)


def on_kind_network(facts: ClusterFacts) -> HostNetworks:
    """A host whose docker network `kind` (172.18.0.0/16) holds the cluster's nodes."""
    nodes = tuple((node.name, IPv4Address(node.internal_ip)) for node in facts.nodes if node.internal_ip)
    return HostNetworks((DockerNetwork("kind", IPv4Network("172.18.0.0/16"), IPv4Address("172.18.0.1"), nodes),))


def problems_on_cluster(stack: Settings, facts: ClusterFacts, host: HostNetworks | None = None) -> list[str]:
    """cluster_problems with the plan the program makes from these settings, on
    a host whose kind network holds the nodes unless `host` says otherwise."""
    return cluster_problems(stack, release_plan(stack), facts, host or on_kind_network(facts))


def test_a_capable_laptop_passes_quietly() -> None:
    assert host_problems(settings(), GOOD) == ([], [])


@pytest.mark.parametrize("tool", ["pulumi", "minikube", "kubectl", "docker"])
def test_a_missing_tool_is_named_with_where_to_get_it(tool: str) -> None:
    facts = replace(GOOD, tool_versions={**GOOD.tool_versions, tool: None})
    errors, _ = host_problems(settings(), facts)
    assert len(errors) == 1
    assert errors[0].startswith(f"{tool} is not on PATH: install {tool} ")
    assert "https://" in errors[0]


@pytest.mark.parametrize(
    ("tool", "version", "needed"),
    [("minikube", "v1.37.0", "1.38.1"), ("kubectl", "v1.33.4", "1.34.0"), ("docker", "20.10.24", "24.0.0")],
)
def test_an_old_tool_is_refused_with_the_version_needed(tool: str, version: str, needed: str) -> None:
    facts = replace(GOOD, tool_versions={**GOOD.tool_versions, tool: version})
    assert host_problems(settings(), facts)[0] == [f"{tool} {version} is too old: local-mesh needs {needed} or newer"]


def test_a_pulumi_cli_without_the_deleted_with_fix_is_refused_with_where_make_up_gets_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # pulumi #23818 (replace resources deleted_with a replaced one) was merged
    # after 3.259.0 (pulumi CHANGELOG.md; changelog/pending at the merge).
    for key, value in {**fake_environment(tmp_path), "FAKE_PULUMI_VERSION": "3.259.0"}.items():
        monkeypatch.setenv(key, value)
    assert host_problems(settings(), gather_facts(settings()))[0] == [
        "pulumi v3.259.0 is too old: local-mesh needs 3.260.0 or newer: "
        "run it with `make up`, which fetches the pinned pulumi into .tools/bin"
    ]
    monkeypatch.setenv("FAKE_PULUMI_VERSION", "3.260.0")
    assert host_problems(settings(), gather_facts(settings()))[0] == []


def test_docker_is_only_needed_for_the_docker_driver() -> None:
    facts = replace(GOOD, tool_versions={**GOOD.tool_versions, "docker": None}, docker_daemon_error="down")
    assert host_problems(settings(driver="kvm2"), facts)[0] == []


def test_a_silent_docker_daemon_is_reported() -> None:
    facts = replace(GOOD, docker_daemon_error="Cannot connect to the Docker daemon")
    (error,) = host_problems(settings(), facts)[0]
    assert (
        error == "the Docker daemon does not answer (Cannot connect to the Docker daemon): start Docker and try again"
    )


def test_a_node_too_small_for_the_mesh_is_refused_with_what_it_needs() -> None:
    (error,) = host_problems(settings(istioProfile="ambient", resources="istio", observability="none"), GOOD)[0]
    assert error == (
        "local-mesh:cpus 2 / local-mesh:memory 4096 MB cannot hold istioProfile ambient with resources istio: "
        "it needs at least 3 CPUs and 6372 MB (the mesh requests 900m CPU, 2788Mi, "
        "a rolling upgrade 500m CPU, 2048Mi more, Kubernetes itself about 750m CPU, 1536Mi)"
    )
    fits = settings(istioProfile="ambient", resources="istio", observability="none", cpus="3", memory="6372m")
    assert host_problems(fits, GOOD) == ([], [])


def test_on_several_nodes_the_size_asked_is_each_nodes() -> None:
    # One node of 4g cannot hold ambient with the charts' own requests (above); on
    # three, each node still runs istio-cni and ztunnel, and one of them istiod.
    (error,) = host_problems(settings(istioProfile="ambient", resources="istio", nodes="3"), GOOD)[0]
    assert "cannot hold istioProfile ambient with resources istio on 3 nodes: it needs at least 2 CPUs and " in error
    needed_mb = int(error.split(" CPUs and ", 1)[1].split(" MB per node", 1)[0])
    assert 4096 < needed_mb < 6372
    fits = settings(istioProfile="ambient", resources="istio", nodes="3", memory=f"{needed_mb}m")
    assert host_problems(fits, GOOD) == ([], [])


def test_more_memory_than_the_host_has_is_refused_with_the_numbers() -> None:
    (error,) = host_problems(settings(memory="8g"), replace(GOOD, memory_mb=7900))[0]
    assert error == (
        "local-mesh:memory asks for 8192 MB but the docker driver has 7900 MB: set it between 1800 and 6876 MB"
    )


def test_a_host_too_small_for_minikube_says_so() -> None:
    (error,) = host_problems(settings(), replace(GOOD, memory_mb=2500))[0]
    assert error == (
        "local-mesh:memory asks for 4096 MB but the docker driver has 2500 MB: "
        "minikube needs 1800 MB and the host 1024 MB, so give docker more"
    )


def test_memory_that_leaves_the_host_no_room_is_a_warning_with_the_numbers() -> None:
    # istioctl's demo-sized node (8 GB) asked of a host with little more than that.
    errors, warnings = host_problems(settings(memory="8g"), replace(GOOD, memory_mb=8800))
    assert errors == []
    assert warnings == [
        "local-mesh:memory 8192 MB leaves less than 1024 MB of the host's 8800 MB for the system "
        "(minikube warns about this too): consider 7776 MB or less"
    ]


def test_nodes_times_memory_beyond_the_host_is_refused_with_what_fits() -> None:
    # 3 nodes of 12g ask 36 GiB of a 25 GiB Docker: minikube checks each node alone.
    errors, _ = host_problems(settings(nodes="3", memory="12g"), replace(GOOD, memory_mb=25600))
    assert errors == [
        "local-mesh:nodes 3 x local-mesh:memory 12288 MB ask for 36864 MB but the docker driver has 25600 MB: "
        "set memory between 1800 and 8192 MB"
    ]
    assert host_problems(settings(nodes="3", memory="8192m"), replace(GOOD, memory_mb=25600)) == ([], [])


def test_too_many_nodes_for_the_host_says_how_many_fit() -> None:
    (error,) = host_problems(settings(nodes="8"), replace(GOOD, memory_mb=8000))[0]
    assert error == (
        "local-mesh:nodes 8 x local-mesh:memory 4096 MB ask for 32768 MB but the docker driver has 8000 MB: "
        "minikube needs 1800 MB a node: set nodes to at most 3"
    )


def test_nodes_that_leave_the_host_no_room_are_a_warning_with_the_numbers() -> None:
    errors, warnings = host_problems(settings(nodes="2"), replace(GOOD, memory_mb=8800))
    assert errors == []
    assert warnings == [
        "local-mesh:nodes 2 x local-mesh:memory 4096 MB = 8192 MB leaves less than 1024 MB of the host's 8800 MB "
        "for the system (minikube warns about this too): consider 3888 MB a node or less"
    ]


def test_nodes_times_cpus_beyond_the_host_is_a_warning() -> None:
    # Each node's --cpus is a limit the nodes share, so they start; Kubernetes counts CPUs that are not there.
    errors, warnings = host_problems(settings(nodes="3"), replace(GOOD, cpus=4))
    assert errors == []
    assert warnings == [
        "local-mesh:nodes 3 x local-mesh:cpus 2 = 6 CPUs, but the docker driver has 4: the nodes share them, "
        "so Kubernetes counts 6 CPUs that are not there; consider fewer nodes"
    ]


def test_more_cpus_than_the_host_has_are_refused() -> None:
    (error,) = host_problems(settings(cpus="6"), replace(GOOD, cpus=4))[0]
    assert error == "local-mesh:cpus asks for 6 CPUs but the docker driver has 4: set it between 2 and 4"


@pytest.mark.parametrize(
    ("operating_system", "desktop"),
    [("Docker Desktop", True), ("Debian GNU/Linux 12 (bookworm)", False), ("Ubuntu 24.04.1 LTS", False), ("", False)],
)
def test_docker_desktop_is_told_apart_by_its_operating_system(operating_system: str, desktop: bool) -> None:
    assert is_docker_desktop(operating_system) is desktop


DESKTOP = replace(GOOD, docker_desktop=True)


def test_on_docker_desktop_too_little_memory_names_its_vm_and_where_to_raise_it() -> None:
    (error,) = host_problems(settings(memory="8g"), replace(DESKTOP, memory_mb=7900))[0]
    assert error == (
        "local-mesh:memory asks for 8192 MB but Docker Desktop's VM (not this computer) has 7900 MB: "
        "set it between 1800 and 6876 MB, or give the VM more in Docker Desktop's Settings > Resources"
    )
    (error,) = host_problems(settings(), replace(DESKTOP, memory_mb=2500))[0]
    assert error == (
        "local-mesh:memory asks for 4096 MB but Docker Desktop's VM (not this computer) has 2500 MB: "
        "minikube needs 1800 MB and the host 1024 MB, so give the VM more memory in "
        "Docker Desktop's Settings > Resources"
    )
    _, (warning,) = host_problems(settings(memory="8g"), replace(DESKTOP, memory_mb=8800))
    assert warning == (
        "local-mesh:memory 8192 MB leaves less than 1024 MB of Docker Desktop's VM's 8800 MB for the system "
        "(minikube warns about this too): consider 7776 MB or less, or give the VM more in Docker Desktop's "
        "Settings > Resources"
    )


def test_on_docker_desktop_too_few_cpus_names_its_vm_and_where_to_raise_them() -> None:
    (error,) = host_problems(settings(cpus="6"), replace(DESKTOP, cpus=4))[0]
    assert error == (
        "local-mesh:cpus asks for 6 CPUs but Docker Desktop's VM (not this computer) has 4: set it between 2 and 4, "
        "or give the VM more in Docker Desktop's Settings > Resources"
    )
    (error,) = host_problems(settings(), replace(DESKTOP, cpus=1))[0]
    assert error == (
        "local-mesh:cpus asks for 2 CPUs but Docker Desktop's VM (not this computer) has 1: "
        "minikube needs 2, so give the VM more CPUs in Docker Desktop's Settings > Resources"
    )


def test_an_istio_minor_without_a_known_range_is_a_warning() -> None:
    errors, warnings = host_problems(settings(istioVersion="1.32.0"), GOOD)
    assert errors == []
    assert warnings == [
        "local-mesh:istioVersion 1.32.0: local-mesh does not know which Kubernetes versions it supports, "
        "so v1.35.1 is not checked"
    ]


@pytest.mark.parametrize(("text", "version"), [("v1.38.1", (1, 38, 1)), ("28.2.2", (28, 2, 2)), ("24.0", (24, 0, 0))])
def test_version_parsing(text: str, version: tuple[int, int, int]) -> None:
    assert parse_version(text) == version


def test_facts_are_read_from_the_real_tools_answers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {**fake_environment(tmp_path), "FAKE_DOCKER_MEMORY_BYTES": str(12 * 1024**3)}.items():
        monkeypatch.setenv(key, value)
    facts = gather_facts(settings())
    assert facts == HostFacts(
        {"pulumi": "v3.272.0", "minikube": "v1.38.1", "kubectl": "v1.35.0", "docker": "28.2.2"}, None, 12288, 8
    )
    # Read-only: nothing was started.
    assert not any(call[:2] == ["minikube", "start"] for call in fake_state(tmp_path)["calls"])


def test_docker_desktop_is_read_from_the_same_docker_info(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    machine = {
        "FAKE_DOCKER_OPERATING_SYSTEM": "Docker Desktop",
        "FAKE_DOCKER_MEMORY_BYTES": str(8 * 1024**3),
        "FAKE_DOCKER_CPUS": "4",
    }
    for key, value in {**fake_environment(tmp_path), **machine}.items():
        monkeypatch.setenv(key, value)
    facts = gather_facts(settings())
    assert (facts.memory_mb, facts.cpus, facts.docker_desktop) == (8192, 4, True)
    assert [call[:2] for call in fake_state(tmp_path)["calls"] if call[0] == "docker"].count(["docker", "info"]) == 1


def test_a_daemon_that_does_not_answer_is_reported_as_exactly_that(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The stand-in docker answers as the real one does without a daemon:
    # `docker version` prints the client version and exits 1.
    for key, value in {**fake_environment(tmp_path), "FAKE_DOCKER_DAEMON_DOWN": "1"}.items():
        monkeypatch.setenv(key, value)
    facts = gather_facts(settings())
    assert facts.tool_versions["docker"] == "28.2.2"
    assert (facts.memory_mb, facts.cpus) == (None, None)
    (error,) = host_problems(settings(), facts)[0]
    assert error.startswith("the Docker daemon does not answer (Cannot connect to the Docker daemon at ")
    assert error.endswith("Is the docker daemon running?): start Docker and try again")


def test_facts_report_missing_tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert gather_facts(settings()).tool_versions == {"pulumi": None, "minikube": None, "kubectl": None, "docker": None}


def test_a_failed_preflight_registers_nothing_and_starts_nothing(tmp_path: Path) -> None:
    with pytest.raises(ProgramFailedError) as failure:
        run_program("dev", tmp_path, machine={"FAKE_DOCKER_CPUS": "1", "FAKE_KUBECTL_VERSION": "v1.30.1"})
    assert isinstance(failure.value.cause, PreflightError)
    assert failure.value.registrations == []
    # What `pulumi up` shows: the lines alone, no "unhandled exception" traceback.
    assert as_the_cli_shows(failure.value.cause).splitlines() == [
        "pre-flight checks failed (set local-mesh:preflight to false to skip them):",
        "  - kubectl v1.30.1 is too old: local-mesh needs 1.34.0 or newer",
        "  - local-mesh:cpus asks for 2 CPUs but the docker driver has 1: minikube needs 2, so give docker more CPUs",
    ]
    assert not any(call[:2] == ["minikube", "start"] for call in fake_state(tmp_path)["calls"])


def test_on_docker_desktop_the_program_stops_naming_its_settings(tmp_path: Path) -> None:
    machine = {"FAKE_DOCKER_OPERATING_SYSTEM": "Docker Desktop", "FAKE_DOCKER_MEMORY_BYTES": str(3 * 1024**3)}
    with pytest.raises(ProgramFailedError) as failure:
        run_program("dev", tmp_path, machine=machine)
    assert isinstance(failure.value.cause, PreflightError)
    assert failure.value.registrations == []
    assert as_the_cli_shows(failure.value.cause).splitlines()[1:] == [
        "  - local-mesh:memory asks for 4096 MB but Docker Desktop's VM (not this computer) has 3072 MB: "
        "set it between 1800 and 2048 MB, or give the VM more in Docker Desktop's Settings > Resources"
    ]


def test_preflight_false_skips_the_checks(tmp_path: Path) -> None:
    # imageCache off: the host registries are Docker containers, made by up itself.
    run = run_program(
        "dev", tmp_path, {"preflight": False, "imageCache": "off"}, machine={"FAKE_DOCKER_DAEMON_DOWN": "1"}
    )
    assert run.outputs["ingressIp"] == "192.168.49.100"
    # Pre-flight's questions to Docker; cluster-access.sh still reads the loopback port (docker port, info).
    preflight_calls = [
        ["docker", "version", "--format={{.Client.Version}}"],
        ["docker", "info", "--format={{.MemTotal}} {{.NCPU}}"],
    ]
    assert not any(call in preflight_calls for call in fake_state(tmp_path)["calls"])


# --- published chart versions ---------------------------------------------------

ISTIO_VERSIONS = ["1.29.4", "1.30.0", "1.30.3", "1.31.0", "1.31.1", "1.31.2-beta.0"]


def index_text(charts: dict[str, list[str]]) -> str:
    return yaml.safe_dump(helm_index(charts))


def wanted(chart: str, version: str = "1.31.1", key: str = "istioVersion") -> ChartSource:
    return ChartSource(key, "https://charts.example", chart, version)


@pytest.mark.parametrize("istio_profile", ISTIO_PROFILES)
def test_the_charts_checked_are_the_charts_the_program_installs(shared_run: SharedRun, istio_profile: str) -> None:
    run = shared_run(istioProfile=istio_profile)
    installed = {
        (release.inputs["repositoryOpts"]["repo"], release.inputs["chart"], release.inputs["version"])
        for release in run.releases().values()
    }
    sources = chart_sources(release_plan(settings(istioProfile=istio_profile)))
    assert {(source.repository, source.chart, source.version) for source in sources} == installed
    assert len(sources) == len(installed)  # each chart once
    keys = {source.chart: source.key for source in sources}
    assert keys.pop("metallb") == "metallbVersion"
    # The addons' versions are the plan's pins; pre-flight names the key that installs them.
    assert {keys.pop(chart) for chart in ("kiali-server", "prometheus", "grafana")} == {"observability"}
    assert set(keys.values()) == {"istioVersion"}


def test_a_published_version_passes() -> None:
    text = index_text({"base": ISTIO_VERSIONS, "istiod": ISTIO_VERSIONS})
    assert index_problems(text, "https://charts.example/index.yaml", [wanted("base"), wanted("istiod")]) == []


def test_a_missing_version_is_one_line_with_the_newest_releases_of_its_minor() -> None:
    text = index_text({"base": ISTIO_VERSIONS, "istiod": ISTIO_VERSIONS, "gateway": ISTIO_VERSIONS})
    sources = [wanted(chart, "1.31.9") for chart in ("base", "istiod", "gateway")]
    assert index_problems(text, "https://charts.example/index.yaml", sources) == [
        "local-mesh:istioVersion = '1.31.9' is not published for base, istiod, gateway in "
        "https://charts.example/index.yaml: the newest 1.31.x releases there are 1.31.1, 1.31.0"
    ]


def test_a_version_of_an_unpublished_minor_lists_the_newest_releases() -> None:
    text = index_text({"metallb": ["0.14.9", "0.15.2", "0.16.1", "0.9.6"]})
    assert index_problems(text, "https://m.example/index.yaml", [wanted("metallb", "0.17.0", "metallbVersion")]) == [
        "local-mesh:metallbVersion = '0.17.0' is not published for metallb in https://m.example/index.yaml: "
        "the newest releases there are 0.16.1, 0.15.2, 0.14.9"
    ]


def test_an_addon_version_the_plan_pins_is_named_as_a_pin_not_as_a_config_value() -> None:
    text = index_text({"grafana": ["9.2.1", "9.3.0"]})
    assert index_problems(text, "https://g.example/index.yaml", [wanted("grafana", "9.2.2", "observability")]) == [
        "version '9.2.2', which local-mesh pins for local-mesh:observability, is not published for grafana in "
        "https://g.example/index.yaml: the newest 9.2.x releases there are 9.2.1"
    ]


def test_only_versions_every_lacking_chart_has_are_suggested() -> None:
    text = index_text({"base": ISTIO_VERSIONS, "cni": ["1.30.3", "1.31.0"]})
    (problem,) = index_problems(text, "u", [wanted("base", "1.31.7"), wanted("cni", "1.31.7")])
    assert problem.endswith("the newest 1.31.x releases there are 1.31.0")


def test_a_missing_chart_is_named() -> None:
    text = index_text({"base": ISTIO_VERSIONS})
    assert index_problems(text, "https://charts.example/index.yaml", [wanted("base"), wanted("ztunnel")]) == [
        "local-mesh:istioVersion = '1.31.1': https://charts.example/index.yaml lists no chart named 'ztunnel'"
    ]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("<html>\n<title>Error: 502: bad gateway</title>\n", "is not a Helm repository index (not YAML: "),
        ("entries: {metallb: [\n", "is not a Helm repository index (not YAML: "),
        ("<html><body>Moved</body></html>", "is not a Helm repository index (no `entries`)"),
        ("apiVersion: v1\nentries: []\n", "is not a Helm repository index (no `entries`)"),
    ],
)
def test_an_answer_that_is_not_an_index_is_one_line(text: str, problem: str) -> None:
    (line,) = index_problems(text, "https://charts.example/index.yaml", [wanted("base")])
    assert line.startswith(f"https://charts.example/index.yaml {problem}")
    assert "\n" not in line


@pytest.fixture
def repositories(tmp_path: Path) -> Iterator[tuple[str, Path, list[str]]]:
    with serve_directory(tmp_path / "repositories") as served:
        yield served


def publish_index(root: Path, repository: str, charts: dict[str, list[str]]) -> None:
    (root / repository).mkdir(parents=True)
    (root / repository / "index.yaml").write_text(index_text(charts))


def test_each_repository_index_is_read_once_over_http(repositories: tuple[str, Path, list[str]]) -> None:
    url, root, requests = repositories
    publish_index(root, "istio", {"base": ISTIO_VERSIONS, "istiod": ISTIO_VERSIONS, "gateway": ["1.31.0"]})
    publish_index(root, "metallb", {"metallb": ["0.16.1"]})
    sources = [
        ChartSource("metallbVersion", f"{url}/metallb", "metallb", "0.16.1"),
        *(ChartSource("istioVersion", f"{url}/istio/", chart, "1.31.1") for chart in ("base", "istiod", "gateway")),
    ]
    assert published_chart_problems(sources) == [
        f"local-mesh:istioVersion = '1.31.1' is not published for gateway in {url}/istio/index.yaml: "
        "the newest 1.31.x releases there are 1.31.0"
    ]
    assert sorted(requests) == ["/istio/index.yaml", "/metallb/index.yaml"]


def test_over_http_a_missing_chart_and_an_index_that_is_not_yaml_are_named(
    repositories: tuple[str, Path, list[str]],
) -> None:
    url, root, _ = repositories
    publish_index(root, "istio", {"base": ISTIO_VERSIONS, "istiod": ISTIO_VERSIONS})
    (root / "metallb").mkdir()
    (root / "metallb" / "index.yaml").write_text("<html>\n<title>Error: 502: bad gateway</title>\n")
    sources = [
        ChartSource("metallbVersion", f"{url}/metallb", "metallb", "0.16.1"),
        *(ChartSource("istioVersion", f"{url}/istio", chart, "1.31.1") for chart in ("base", "istiod", "cni")),
    ]
    metallb, istio = published_chart_problems(sources)
    assert metallb.startswith(f"{url}/metallb/index.yaml is not a Helm repository index (not YAML: ")
    assert istio == f"local-mesh:istioVersion = '1.31.1': {url}/istio/index.yaml lists no chart named 'cni'"


def test_a_repository_without_an_index_is_one_line_with_the_url_and_why(
    repositories: tuple[str, Path, list[str]],
) -> None:
    url, _, _ = repositories
    sources = [wanted("base"), wanted("istiod")]
    sources = [replace(source, repository=f"{url}/moved") for source in sources]
    assert published_chart_problems(sources) == [
        f"cannot read the chart index {url}/moved/index.yaml (HTTP 404 File not found), "
        "so local-mesh:istioVersion cannot be checked: check the network and try again"
    ]


def test_an_index_that_is_not_text_is_one_line(repositories: tuple[str, Path, list[str]]) -> None:
    url, root, _ = repositories
    (root / "index.yaml").write_bytes(b"\x1f\x8b\x08\x00\xff\xfe")  # a gzip header, as a misconfigured server sends
    assert published_chart_problems([ChartSource("metallbVersion", url, "metallb", "0.16.1")]) == [
        f"cannot read the chart index {url}/index.yaml (the answer is not UTF-8 text), "
        "so local-mesh:metallbVersion cannot be checked: check the network and try again"
    ]


def test_an_unreachable_repository_is_one_line_with_the_url_and_why() -> None:
    closed = closed_loopback_url()
    sources = [ChartSource("metallbVersion", closed, "metallb", "0.16.1")]
    (line,) = published_chart_problems(sources)
    assert line.startswith(f"cannot read the chart index {closed}/index.yaml (")
    assert "Connection refused" in line
    assert line.endswith("so local-mesh:metallbVersion cannot be checked: check the network and try again")


def test_an_unpublished_version_stops_the_program_before_anything_is_registered(tmp_path: Path) -> None:
    # The stand-in repositories publish the versions Pulumi.yaml pins (harness/world.py).
    with pytest.raises(ProgramFailedError) as failure:
        run_program("dev", tmp_path, {"metallbVersion": "0.16.7"})
    assert isinstance(failure.value.cause, PreflightError)
    assert failure.value.registrations == []
    (problem,) = str(failure.value).splitlines()[1:]
    assert problem.startswith(
        f"  - local-mesh:metallbVersion = '0.16.7' is not published for metallb in {METALLB_REPOSITORY}/index.yaml: "
    )
    assert problem.endswith("the newest 0.16.x releases there are 0.16.1")


# ---- an existing cluster, through its context alone -------------------------------------------


def existing_settings(**overrides: str) -> Settings:
    return settings(cluster="existing", kubeContext="kind-dev", **overrides)


def cluster_machine(tmp_path: Path, **cluster: Any) -> dict[str, str]:
    root = tmp_path / "machine"
    add_existing_cluster(root, "kind-dev", **cluster)
    return fake_environment(root)


def facts_on(machine: dict[str, str], context: str = "kind-dev") -> ClusterFacts:
    with mock.patch.dict(os.environ, machine):
        return gather_cluster_facts(context)


def test_an_existing_cluster_is_read_through_its_context(tmp_path: Path) -> None:
    facts = facts_on(cluster_machine(tmp_path))
    assert (facts.error, facts.server_version) == (None, "v1.33.1")
    # 8 CPUs and 16318444Ki, as the stand-in kind node reports them; a part MiB is not counted.
    assert facts.nodes == (NodeFacts("dev-control-plane", "172.18.0.2", Requests(8000, 16318444 // 1024)),)
    assert problems_on_cluster(existing_settings(), facts) == []


def test_a_context_that_is_not_in_the_kubeconfig_is_one_line(tmp_path: Path) -> None:
    facts = facts_on(cluster_machine(tmp_path), "kind-typo")
    (problem,) = problems_on_cluster(settings(cluster="existing", kubeContext="kind-typo"), facts)
    assert problem == (
        "local-mesh:kubeContext kind-typo cannot be reached (Error in configuration: context was not found "
        "for specified context: kind-typo): check the context with `kubectl --context kind-typo get nodes`"
    )


def test_an_api_server_that_does_not_answer_is_one_line(tmp_path: Path) -> None:
    (problem,) = problems_on_cluster(existing_settings(), facts_on(cluster_machine(tmp_path, running=False)))
    assert "local-mesh:kubeContext kind-dev cannot be reached (The connection to the server 127.0.0.1:40123" in problem
    assert "\n" not in problem


@pytest.mark.parametrize(
    ("version", "fits"), [("v1.31.9", False), ("v1.32.0", True), ("v1.36.4+k3s1", True), ("v1.37.0", False)]
)
def test_the_servers_own_kubernetes_version_must_be_in_istios_range(tmp_path: Path, version: str, fits: bool) -> None:
    problems = problems_on_cluster(existing_settings(), facts_on(cluster_machine(tmp_path, kubernetes_version=version)))
    if fits:
        assert problems == []
    else:
        (problem,) = problems
        assert problem.startswith(
            f"local-mesh:kubeContext kind-dev runs Kubernetes {version}, but Istio 1.31.1 supports v1.32.x to v1.36.x"
        )


def test_nodes_that_cannot_allocate_the_mesh_are_refused_with_the_numbers(tmp_path: Path) -> None:
    small = (
        node_object("dev-control-plane", "172.18.0.2", "1500m", "2Gi"),
        node_object("dev-worker", "172.18.0.3", "1", "1Gi"),
    )
    mesh = existing_settings(istioProfile="ambient", resources="istio")
    (problem,) = problems_on_cluster(mesh, facts_on(cluster_machine(tmp_path, nodes=small)))
    plan = release_plan(mesh)
    # Two nodes: istio-cni and ztunnel twice.
    needs = cluster_requests(mesh, plan, 2) + upgrade_surge(plan)
    assert problem == (
        f"local-mesh:kubeContext kind-dev: its 2 nodes can allocate 2500m CPU, 3072Mi, but istioProfile ambient "
        f"with resources istio and observability full requests {needs} (a rolling upgrade included): "
        "set resources lean, or add nodes"
    )
    assert problems_on_cluster(existing_settings(), facts_on(cluster_machine(tmp_path / "lean", nodes=small))) == []


def test_the_pool_is_checked_against_the_first_nodes_network_before_anything_is_created(tmp_path: Path) -> None:
    facts = facts_on(cluster_machine(tmp_path))
    (problem,) = problems_on_cluster(existing_settings(addressPool="192.168.49.100-192.168.49.120"), facts)
    assert problem.startswith("local-mesh:addressPool = '192.168.49.100-192.168.49.120' is not valid")
    assert "is not inside docker network kind (172.18.0.0/16), which holds node 172.18.0.2" in problem
    # Without MetalLB there is no pool to carve.
    assert (
        problems_on_cluster(existing_settings(loadBalancer="none", addressPool="192.168.49.100-192.168.49.120"), facts)
        == []
    )


def test_pre_flight_reads_the_docker_network_holding_the_node_and_says_which_slice(tmp_path: Path) -> None:
    machine = cluster_machine(tmp_path)
    facts = facts_on(machine)
    with mock.patch.dict(os.environ, machine):
        host = gather_host_networks()
    assert host.unavailable is None
    assert [(network.name, str(network.subnet)) for network in host.networks] == [
        ("bridge", "172.17.0.0/16"),
        ("kind", "172.18.0.0/16"),
    ]
    assert problems_on_cluster(existing_settings(), facts, host) == []
    assert pool_note(existing_settings(), facts, host) == (
        "local-mesh: MetalLB's addresses: 172.18.255.240-172.18.255.254, slice 0 (of 16 addresses, counted from "
        "the top) of docker network kind (172.18.0.0/16), the one of node 172.18.0.2; every container there has its own"
    )
    explicit = existing_settings(addressPool="172.18.200.0/28")
    assert pool_note(explicit, facts, host) == (
        "local-mesh: MetalLB's addresses: 172.18.200.0-172.18.200.15, from addressPool, on docker network kind "
        "(172.18.0.0/16)"
    )
    # Reads only.
    docker_calls = [call[1:3] for call in fake_state(tmp_path / "machine")["calls"] if call[0] == "docker"]
    assert docker_calls == [["network", "ls"], ["network", "inspect"]]


@pytest.mark.parametrize(
    ("environment", "why"),
    [
        ({"FAKE_DOCKER_DAEMON_DOWN": "1"}, "Cannot connect to the Docker daemon at unix:///var/run/docker.sock."),
        ({"PATH": "/usr/bin:/bin"}, "docker is not on PATH"),
    ],
)
def test_without_docker_pre_flight_asks_for_an_explicit_pool_in_one_line(
    tmp_path: Path, environment: dict[str, str], why: str
) -> None:
    machine = cluster_machine(tmp_path)
    facts = facts_on(machine)
    with mock.patch.dict(os.environ, {**machine, **environment}):
        host = gather_host_networks()
    assert host.networks == ()
    assert host.unavailable is not None and host.unavailable.startswith(why)
    (problem,) = problems_on_cluster(existing_settings(), facts, host)
    assert problem.startswith("local-mesh:addressPool = '' is not valid: expected free addresses on the network ")
    assert f"or set local-mesh:loadBalancer none: local-mesh cannot tell which are free there (Docker: {why}" in problem
    assert "\n" not in problem
    assert pool_note(existing_settings(), facts, host) is None
    # An explicit pool, or no MetalLB, needs no Docker.
    assert problems_on_cluster(existing_settings(addressPool="172.18.0.200-172.18.0.210"), facts, host) == []
    assert problems_on_cluster(existing_settings(loadBalancer="none"), facts, host) == []


def test_an_existing_cluster_needs_neither_minikube_nor_docker(tmp_path: Path) -> None:
    machine = cluster_machine(tmp_path)
    with mock.patch.dict(os.environ, machine):
        facts = gather_facts(existing_settings())
    assert (facts.tool_versions["minikube"], facts.tool_versions["docker"]) == (None, None)
    assert host_problems(existing_settings(), facts) == ([], [])
    calls = fake_state(tmp_path / "machine")["calls"]
    assert {call[0] for call in calls} == {"kubectl"}


def test_a_missing_context_stops_the_program_before_anything_is_registered(tmp_path: Path) -> None:
    root = tmp_path / "machine"
    add_existing_cluster(root, "kind-dev")
    with pytest.raises(ProgramFailedError, match=r"pre-flight checks failed") as failure:
        run_program("dev", root, {"cluster": "existing", "kubeContext": "kind-typo"})
    assert "local-mesh:kubeContext kind-typo cannot be reached" in str(failure.value)
    assert failure.value.registrations == []


def mesh_needs(stack: Settings, nodes: int = 1) -> Requests:
    plan = release_plan(stack)
    return cluster_requests(stack, plan, nodes) + upgrade_surge(plan)


def test_a_one_node_cluster_too_small_for_every_dashboard_suggests_fewer(tmp_path: Path) -> None:
    full, kiali = mesh_needs(existing_settings()), mesh_needs(existing_settings(observability="kiali"))
    assert kiali.memory_mib < full.memory_mib
    # Room for Kiali and Prometheus, not for Grafana and Jaeger too.
    node = node_object("dev-control-plane", "172.18.0.2", "8", f"{kiali.memory_mib}Mi")
    (problem,) = problems_on_cluster(existing_settings(), facts_on(cluster_machine(tmp_path, nodes=(node,))))
    assert problem == (
        f"local-mesh:kubeContext kind-dev: its 1 node can allocate 8000m CPU, {kiali.memory_mib}Mi, but istioProfile "
        f"demo with resources lean and observability full requests {full} (a rolling upgrade included): "
        "set observability kiali or observability none, or add nodes"
    )


def test_a_cluster_nothing_lighter_fits_says_add_nodes(tmp_path: Path) -> None:
    node = node_object("dev-control-plane", "172.18.0.2", "100m", "256Mi")
    (problem,) = problems_on_cluster(existing_settings(), facts_on(cluster_machine(tmp_path, nodes=(node,))))
    assert problem.endswith("(a rolling upgrade included): add nodes, or larger ones")


def test_what_already_runs_on_the_cluster_is_counted(tmp_path: Path) -> None:
    need = mesh_needs(existing_settings())
    # The kind node allocates 8 CPUs and 16318444Ki; the user's own workloads request most of its memory.
    allocatable_mib = 16318444 // 1024
    theirs = allocatable_mib - need.memory_mib + 1
    pods = (
        pod_object("shop", "default", "dev-control-plane", "500m", f"{theirs}Mi"),
        # Not counted: a finished Job's pod, a pod not yet bound to a node, and the mesh's own namespaces.
        pod_object("migrate", "default", "dev-control-plane", "4", "8Gi", phase="Succeeded"),
        pod_object("pending", "default", "", "4", "8Gi", phase="Pending"),
        pod_object("istiod", "istio-system", "dev-control-plane", "4", "8Gi"),
    )
    facts = facts_on(cluster_machine(tmp_path, pods=pods))
    assert facts.running == Requests(500, theirs)
    (problem,) = problems_on_cluster(existing_settings(), facts)
    assert problem.startswith(
        f"local-mesh:kubeContext kind-dev: its 1 node can allocate 8000m CPU, {allocatable_mib}Mi, of which the "
        f"pods already running there request 500m CPU, {theirs}Mi, but istioProfile demo"
    )
    fits = facts_on(
        cluster_machine(
            tmp_path / "fits", pods=(pod_object("shop", "default", "dev-control-plane", "500m", f"{theirs - 1}Mi"),)
        )
    )
    assert problems_on_cluster(existing_settings(), fits) == []


def test_a_pods_requests_are_counted_as_the_scheduler_counts_them() -> None:
    def container(cpu: str, memory: str, **fields: str) -> dict[str, Any]:
        return {"name": f"c{cpu}", "resources": {"requests": {"cpu": cpu, "memory": memory}}, **fields}

    pod = {
        "spec": {
            # An init container runs alone (beside the sidecars started before it);
            # a sidecar (restartPolicy Always) keeps running beside the containers.
            "initContainers": [
                container("2", "64Mi"),
                container("100m", "128Mi", restartPolicy="Always"),
                container("50m", "1Gi"),
            ],
            "containers": [container("250m", "256Mi"), container("250m", "0")],
            "overhead": {"cpu": "10m", "memory": "16Mi"},
        }
    }
    # CPU: max(2, 100m + 500m) = 2; memory: max(128Mi + 1Gi, 256Mi + 128Mi) = 1152Mi; plus the overhead.
    assert pod_requests(pod) == Requests(2010, 1168)


def test_a_context_with_shell_characters_is_quoted_in_the_command_suggested(tmp_path: Path) -> None:
    context = "team dev;rm -rf ~"
    facts = facts_on(cluster_machine(tmp_path), context)
    (problem,) = problems_on_cluster(settings(cluster="existing", kubeContext=context), facts)
    assert problem.startswith("local-mesh:kubeContext 'team dev;rm -rf ~' cannot be reached (")
    assert problem.endswith("check the context with `kubectl --context 'team dev;rm -rf ~' get nodes`")
