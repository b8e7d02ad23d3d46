"""Pre-flight: every check, its message, and that a failure registers nothing."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from components.preflight import HostFacts, PreflightError, find_problems, gather_facts, parse_version
from components.settings import Settings, parse_settings
from tests.harness import ProgramFailedError, fake_environment, fake_state, run_program
from tests.harness import raw_config as raw

GOOD = HostFacts(
    tool_versions={"minikube": "v1.38.1", "kubectl": "v1.35.0", "docker": "28.2.2"},
    docker_daemon_error=None,
    memory_mb=16384,
    cpus=8,
)


def settings(**overrides: str) -> Settings:
    return parse_settings(raw(**overrides), "dev")


def test_a_capable_laptop_passes_quietly() -> None:
    assert find_problems(settings(), GOOD) == ([], [])


@pytest.mark.parametrize("tool", ["minikube", "kubectl", "docker"])
def test_a_missing_tool_is_named_with_where_to_get_it(tool: str) -> None:
    facts = replace(GOOD, tool_versions={**GOOD.tool_versions, tool: None})
    errors, _ = find_problems(settings(), facts)
    assert len(errors) == 1
    assert errors[0].startswith(f"{tool} is not on PATH: install {tool} ")
    assert "https://" in errors[0]


@pytest.mark.parametrize(
    ("tool", "version", "needed"),
    [("minikube", "v1.37.0", "1.38.1"), ("kubectl", "v1.33.4", "1.34.0"), ("docker", "20.10.24", "24.0.0")],
)
def test_an_old_tool_is_refused_with_the_version_needed(tool: str, version: str, needed: str) -> None:
    facts = replace(GOOD, tool_versions={**GOOD.tool_versions, tool: version})
    assert find_problems(settings(), facts)[0] == [f"{tool} {version} is too old: local-mesh needs {needed} or newer"]


def test_docker_is_only_needed_for_the_docker_driver() -> None:
    facts = replace(GOOD, tool_versions={**GOOD.tool_versions, "docker": None}, docker_daemon_error="down")
    assert find_problems(settings(driver="kvm2"), facts)[0] == []


def test_a_silent_docker_daemon_is_reported() -> None:
    facts = replace(GOOD, docker_daemon_error="Cannot connect to the Docker daemon")
    (error,) = find_problems(settings(), facts)[0]
    assert (
        error == "the Docker daemon does not answer (Cannot connect to the Docker daemon): start Docker and try again"
    )


def test_a_node_too_small_for_the_mesh_is_refused_with_what_it_needs() -> None:
    (error,) = find_problems(settings(istioProfile="ambient", resources="istio"), GOOD)[0]
    assert error == (
        "local-mesh:cpus 2 / local-mesh:memory 4096 MB cannot hold istioProfile ambient with resources istio: "
        "it needs at least 3 CPUs and 6372 MB (the mesh requests 900m CPU, 2788Mi, "
        "a rolling upgrade 500m CPU, 2048Mi more, Kubernetes itself about 750m CPU, 1536Mi)"
    )
    fits = settings(istioProfile="ambient", resources="istio", cpus="3", memory="6372m")
    assert find_problems(fits, GOOD) == ([], [])


def test_more_memory_than_the_host_has_is_refused_with_the_numbers() -> None:
    (error,) = find_problems(settings(memory="8g"), replace(GOOD, memory_mb=7900))[0]
    assert error == (
        "local-mesh:memory asks for 8192 MB but the docker driver has 7900 MB: set it between 1800 and 6876 MB"
    )


def test_a_host_too_small_for_minikube_says_so() -> None:
    (error,) = find_problems(settings(), replace(GOOD, memory_mb=2500))[0]
    assert error == (
        "local-mesh:memory asks for 4096 MB but the docker driver has 2500 MB: "
        "minikube needs 1800 MB and the host 1024 MB, so give docker more"
    )


def test_memory_that_leaves_the_host_no_room_is_a_warning_with_the_numbers() -> None:
    # The seed article's case: 8 GB asked of a host with little more than that.
    errors, warnings = find_problems(settings(memory="8g"), replace(GOOD, memory_mb=8800))
    assert errors == []
    assert warnings == [
        "local-mesh:memory 8192 MB leaves less than 1024 MB of the host's 8800 MB for the system "
        "(minikube warns about this too): consider 7776 MB or less"
    ]


def test_more_cpus_than_the_host_has_are_refused() -> None:
    (error,) = find_problems(settings(cpus="6"), replace(GOOD, cpus=4))[0]
    assert error == "local-mesh:cpus asks for 6 CPUs but the docker driver has 4: set it between 2 and 4"


@pytest.mark.parametrize(
    ("version", "problem"),
    [
        ("v1.31.9", "is not supported by Istio 1.31.1: use a v1.32.x to v1.36.x release"),
        ("v1.37.0", "is not supported by Istio 1.31.1: use a v1.32.x to v1.36.x release"),
        ("v1.27.3", "is older than minikube accepts: use v1.28.0 or newer"),
    ],
)
def test_kubernetes_version_must_suit_istio_and_minikube(version: str, problem: str) -> None:
    (error,) = find_problems(settings(kubernetesVersion=version), GOOD)[0]
    assert error == f"local-mesh:kubernetesVersion {version} {problem}"


@pytest.mark.parametrize("version", ["v1.32.0", "v1.36.2"])
def test_the_edges_of_istios_range_are_accepted(version: str) -> None:
    assert find_problems(settings(kubernetesVersion=version), GOOD) == ([], [])


def test_an_istio_minor_without_a_known_range_is_a_warning() -> None:
    errors, warnings = find_problems(settings(istioVersion="1.32.0"), GOOD)
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
    facts = gather_facts("docker")
    assert facts == HostFacts({"minikube": "v1.38.1", "kubectl": "v1.35.0", "docker": "28.2.2"}, None, 12288, 8)
    # Read-only: nothing was started.
    assert not any(call[:2] == ["minikube", "start"] for call in fake_state(tmp_path)["calls"])


def test_facts_report_a_daemon_that_does_not_answer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {**fake_environment(tmp_path), "FAKE_DOCKER_DAEMON_DOWN": "1"}.items():
        monkeypatch.setenv(key, value)
    facts = gather_facts("docker")
    assert facts.docker_daemon_error is not None
    assert "Is the docker daemon running?" in facts.docker_daemon_error


def test_facts_report_missing_tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert gather_facts("docker").tool_versions == {"minikube": None, "kubectl": None, "docker": None}


def test_a_failed_preflight_registers_nothing_and_starts_nothing(tmp_path: Path) -> None:
    with pytest.raises(ProgramFailedError) as failure:
        run_program("dev", tmp_path, machine={"FAKE_DOCKER_CPUS": "1", "FAKE_KUBECTL_VERSION": "v1.30.1"})
    assert isinstance(failure.value.cause, PreflightError)
    assert failure.value.registrations == []
    assert str(failure.value).splitlines() == [
        "pre-flight checks failed (set local-mesh:preflight to false to skip them):",
        "  - kubectl v1.30.1 is too old: local-mesh needs 1.34.0 or newer",
        "  - local-mesh:cpus asks for 2 CPUs but the docker driver has 1: minikube needs 2, so give docker more CPUs",
    ]
    assert not any(call[:2] == ["minikube", "start"] for call in fake_state(tmp_path)["calls"])


def test_preflight_false_skips_the_checks(tmp_path: Path) -> None:
    run = run_program("dev", tmp_path, {"preflight": False}, machine={"FAKE_DOCKER_DAEMON_DOWN": "1"})
    assert run.outputs["ingressIp"] == "192.168.49.100"
    assert not any(call[0] == "docker" for call in fake_state(tmp_path)["calls"])
