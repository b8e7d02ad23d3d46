"""Settings parsing: the defaults from Pulumi.yaml, and one clear error per bad value."""

from __future__ import annotations

import hashlib
import logging
import subprocess
from pathlib import Path

import pytest

from components.model.settings import (
    ConfigError,
    NodeConfigError,
    address_pool_on_node,
    declared_defaults,
    default_profile,
    ignored_key_warnings,
    parse_memory_mb,
    parse_settings,
)
from harness.config import CliRefusedError, project_defaults, pulumi_project
from harness.config import raw_config as raw
from harness.program import ProgramFailedError, as_the_cli_shows, run_program
from harness.world import add_existing_cluster


def test_pulumi_yaml_defaults_give_a_laptop_sized_cluster() -> None:
    settings = parse_settings(raw(), "dev")
    assert settings.profile == "local-mesh-dev"
    assert settings.kube_context == "local-mesh-dev"
    # What the lean mesh needs (a 2 CPU / 4 GB node), not istioctl's demo-sized 4 CPUs / 8 GB.
    assert (settings.driver, settings.cpus, settings.memory_mb) == ("docker", 2, 4096)
    assert (settings.resources, settings.mtls, settings.sample, settings.preflight) == ("lean", "strict", True, True)
    # Versions reach the settings unchanged from Pulumi.yaml.
    defaults = project_defaults()
    assert settings.kubernetes_version == defaults["kubernetesVersion"]
    assert (settings.istio_version, settings.metallb_version) == (defaults["istioVersion"], defaults["metallbVersion"])
    assert settings.istio_profile == "demo"
    # What people open right after installing Istio: every dashboard.
    assert settings.observability == "full"
    assert settings.address_pool is None


def test_explicit_values_are_used() -> None:
    settings = parse_settings(
        raw(profile="mesh-a", cpus="6", memory="6144", addressPool="192.168.49.200/29", istioProfile="minimal"),
        "dev",
    )
    assert (settings.profile, settings.cpus, settings.memory_mb, settings.istio_profile) == (
        "mesh-a",
        6,
        6144,
        "minimal",
    )
    assert str(settings.address_pool) == "192.168.49.200-192.168.49.207"


def sha256_prefix(stack: str) -> str:
    return hashlib.sha256(stack.encode()).hexdigest()[:8]


@pytest.mark.parametrize(
    ("stack", "profile"),
    [
        # A stack name that is a profile name as it is keeps it (existing stacks keep their profile).
        ("dev", "local-mesh-dev"),
        ("my-stack", "local-mesh-my-stack"),
        # Any other gets the name made so, `--` and its own hash.
        ("Alice_Smith", f"local-mesh-alice-smith--{sha256_prefix('Alice_Smith')}"),
        ("ci.42", f"local-mesh-ci-42--{sha256_prefix('ci.42')}"),
        ("DEV", f"local-mesh-dev--{sha256_prefix('DEV')}"),
        ("a--b", f"local-mesh-a-b--{sha256_prefix('a--b')}"),
        ("_", f"local-mesh--{sha256_prefix('_')}"),
    ],
)
def test_every_stack_gets_its_own_profile(stack: str, profile: str) -> None:
    assert default_profile(stack) == profile
    assert parse_settings(raw(), stack).profile == profile


def test_stacks_whose_names_normalise_alike_get_different_profiles() -> None:
    stacks = ["my_stack", "my.stack", "my-stack", "My-Stack", "my--stack", "dev", "DEV", "Dev", "x" * 53, "x" * 54]
    profiles = [default_profile(stack) for stack in stacks]
    assert len(set(profiles)) == len(stacks), dict(zip(stacks, profiles, strict=True))
    for profile in profiles:
        # Every one is a name minikube takes (the profile key's own rule).
        assert parse_settings(raw(profile=profile), "any").profile == profile


def test_a_long_stack_name_is_cut_to_minikubes_63_characters_and_stays_its_own() -> None:
    first, second = default_profile("a" * 70 + "1"), default_profile("a" * 70 + "2")
    assert len(first) == len(second) == 63
    assert first != second


@pytest.mark.parametrize(
    ("text", "megabytes"),
    [
        ("8g", 8192),
        ("8G", 8192),
        ("6144m", 6144),
        ("6144", 6144),
        ("2097152k", 2048),
        ("2147483648b", 2048),
        # docker/go-units v0.5.0 RAMInBytes, which minikube's CalculateSizeInMB calls:
        # an optional b or ib after the unit, a space before it, a fraction, t and p.
        ("4gb", 4096),
        ("4GiB", 4096),
        ("4096MB", 4096),
        ("4 g", 4096),
        ("4.5g", 4608),
        ("1t", 1024**2),
        # A number with a fraction and no unit is bytes to go-units.
        ("4096.5", 0),
    ],
)
def test_memory_sizes_in_minikubes_syntax(text: str, megabytes: int) -> None:
    assert parse_memory_mb(text) == megabytes


@pytest.mark.parametrize("text", ["4gb", "4GiB", "4096MB", "4.5g"])
def test_memory_in_every_unit_minikube_reads_is_accepted(text: str) -> None:
    assert parse_settings(raw(memory=text), "dev").memory_mb == parse_memory_mb(text)


@pytest.mark.parametrize(
    ("text", "reason"),
    [("max", "all of the driver's memory"), ("no-limit", "no memory limit on the node's container"), ("MAX", "all")],
)
def test_minikubes_memory_keywords_are_refused_with_the_reason(text: str, reason: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_settings(raw(memory=text), "dev")
    assert str(error.value).startswith(f"local-mesh:memory = '{text}' is not valid: expected a size such as 8g, 4gb")
    assert f"{text} means {reason}" in str(error.value)


def test_a_fraction_without_a_unit_says_what_minikube_reads() -> None:
    with pytest.raises(ConfigError, match=r"minikube reads 0 MB and refuses less"):
        parse_settings(raw(memory="4096.5"), "dev")


@pytest.mark.parametrize(
    ("key", "value", "accepted"),
    [
        ("profile", "a;rm -rf ~", "lowercase letters, digits and '-'"),
        ("profile", "Dev", "lowercase letters"),
        ("profile", "-dev", "starting and ending with a letter or digit"),
        ("profile", "x" * 64, "2-63"),
        # minikube refuses a 1-character profile: "Minimum 2 characters", exit 14
        # (cmd/minikube/cmd/start.go:192-194, pkg/minikube/config/profile.go:87).
        ("profile", "a", "2-63"),
        ("driver", "hyperkitty", "one of docker"),
        ("driver", "none", "one of docker"),
        ("cpus", "four", "a whole number of CPUs"),
        ("cpus", "1", "at least 2 CPUs"),
        ("cpus", "2.5", "a whole number of CPUs"),
        ("memory", "8 gigs", "a size such as 8g"),
        ("memory", "8x", "a size such as 8g"),
        ("memory", "8gbb", "a size such as 8g"),
        ("memory", "-4g", "a size such as 8g"),
        ("memory", "1024m", "at least 1800 MB"),
        ("memory", "", "a size such as 8g"),
        ("kubernetesVersion", "1.35.1", "a version such as v1.35.1"),
        ("kubernetesVersion", "v1.35", "a version such as v1.35.1"),
        ("kubernetesVersion", "latest", "a version such as v1.35.1"),
        ("kubernetesVersion", "v01.035.01", "a version such as v1.35.1"),
        ("kubernetesVersion", "v1.35.01", "a version such as v1.35.1"),
        ("kubernetesVersion", "v1.20.0", "v1.28.0 or newer (the oldest minikube starts)"),
        ("kubernetesVersion", "v1.27.3", "v1.28.0 or newer"),
        ("kubernetesVersion", "v1.31.9", "a v1.32.x to v1.36.x release (what Istio 1.31.1 supports)"),
        ("kubernetesVersion", "v1.37.0", "a v1.32.x to v1.36.x release (what Istio 1.31.1 supports)"),
        ("metallbVersion", "v0.16.1", "without a leading v"),
        ("istioVersion", "1.31", "a chart version such as 1.2.3"),
        ("addressPool", "192.168.49.120-192.168.49.100", "reversed"),
        ("addressPool", "192.168.49.100-", "A.B.C.D-A.B.C.E or a CIDR"),
        ("addressPool", "192.168.49.300-192.168.49.310", "A.B.C.D-A.B.C.E or a CIDR"),
        ("addressPool", "192.168.49.5/24", "A.B.C.D-A.B.C.E or a CIDR"),
        # Larger than any node's /24, or holding what every /24 reserves: it can never fit.
        ("addressPool", "10.0.0.0/8", "16777216 addresses across more than one /24"),
        ("addressPool", "192.168.49.200-192.168.50.10", "more than one /24"),
        ("addressPool", "192.168.49.0/24", "contains 192.168.49.0, the network address"),
        ("addressPool", "192.168.49.128/25", "contains 192.168.49.254"),
        ("istioProfile", "sidecarless", "one of demo, minimal, ambient"),
        ("istioProfile", "Demo", "one of demo, minimal, ambient"),
        ("resources", "small", "one of lean, istio"),
        ("mtls", "STRICT", "one of strict, permissive"),
        ("mtls", "off", "one of strict, permissive"),
        ("observability", "grafana", "one of full, kiali, none"),
        ("observability", "Full", "one of full, kiali, none"),
        ("preflight", "yes", "true or false"),
        ("sample", "no", "true or false"),
        ("preflight", "1", "true or false"),
    ],
)
def test_bad_values_name_the_key_the_value_and_what_is_accepted(key: str, value: str, accepted: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_settings(raw(**{key: value}), "dev")
    message = str(error.value)
    assert f"local-mesh:{key}" in message
    assert repr(value.strip()) in message
    assert accepted in message
    assert "\n" not in message


def test_a_misspelled_key_suggests_the_closest_valid_one() -> None:
    config = raw()
    config["cpu"] = "4"
    with pytest.raises(
        ConfigError, match=r"local-mesh:cpu is not a configuration key .* did you mean local-mesh:cpus\?"
    ):
        parse_settings(config, "dev")


def test_a_missing_key_points_at_pulumi_yaml_instead_of_inventing_a_default() -> None:
    config = raw()
    del config["memory"]
    with pytest.raises(ConfigError, match=r"local-mesh:memory has no value: Pulumi.yaml declares its default"):
        parse_settings(config, "dev")


def test_the_shortest_profile_minikube_accepts_is_two_characters() -> None:
    assert parse_settings(raw(profile="ab"), "dev").profile == "ab"


@pytest.mark.parametrize("version", ["v1.32.0", "v1.36.2"])
def test_the_edges_of_istios_kubernetes_range_are_accepted(version: str) -> None:
    assert parse_settings(raw(kubernetesVersion=version), "dev").kubernetes_version == version


def test_an_istio_minor_without_a_known_range_leaves_only_minikubes_limit() -> None:
    assert parse_settings(raw(istioVersion="1.32.0", kubernetesVersion="v1.37.0"), "dev").istio_version == "1.32.0"
    with pytest.raises(ConfigError, match=r"v1.28.0 or newer"):
        parse_settings(raw(istioVersion="1.32.0", kubernetesVersion="v1.27.0"), "dev")


def test_skipping_preflight_does_not_let_an_unusable_kubernetes_version_through(tmp_path: Path) -> None:
    with pytest.raises(ProgramFailedError, match=r"local-mesh:kubernetesVersion = 'v1.20.0' is not valid") as failure:
        run_program("dev", tmp_path, {"preflight": False, "kubernetesVersion": "v1.20.0"})
    assert failure.value.registrations == []
    assert not (tmp_path / "state.json").exists()


@pytest.mark.parametrize(
    ("overrides", "key", "value", "accepted"),
    [
        ({"kubeContext": "kind-dev"}, "kubeContext", "kind-dev", "empty with cluster minikube"),
        ({"cluster": "existing"}, "kubeContext", "", "the name of a context in your kubeconfig"),
        ({"cluster": "existing", "kubeContext": "kind-dev", "nodes": "3"}, "nodes", "3", "1 with cluster existing"),
        ({"nodes": "0"}, "nodes", "0", "1 to 98 minikube nodes"),
        # minikube gives node 99 the address .100, the pool's first.
        ({"nodes": "99"}, "nodes", "99", "1 to 98 minikube nodes (node N gets address .N+1"),
        ({"nodes": "two"}, "nodes", "two", "a whole number of minikube nodes"),
        ({"loadBalancer": "none"}, "loadBalancer", "none", "metallb with cluster minikube"),
        ({"loadBalancer": "cloud"}, "loadBalancer", "cloud", "one of metallb, none"),
        ({"cluster": "kind"}, "cluster", "kind", "one of minikube, existing"),
    ],
)
def test_every_wrong_cluster_combination_is_one_line(
    overrides: dict[str, str], key: str, value: str, accepted: str
) -> None:
    with pytest.raises(ConfigError) as error:
        parse_settings(raw(**overrides), "dev")
    message = str(error.value)
    assert message.startswith(f"local-mesh:{key} = {value!r} is not valid: expected ")
    assert accepted in message
    assert "\n" not in message


@pytest.mark.parametrize("load_balancer", ["metallb", "none"])
def test_an_existing_cluster_is_reached_through_the_named_context(load_balancer: str) -> None:
    settings = parse_settings(raw(cluster="existing", kubeContext=" kind-dev ", loadBalancer=load_balancer), "dev")
    assert (settings.cluster, settings.kube_context, settings.load_balancer) == ("existing", "kind-dev", load_balancer)
    assert not settings.on_minikube
    assert settings.metallb == (load_balancer == "metallb")


def test_a_multi_node_minikube_keeps_the_profiles_context() -> None:
    settings = parse_settings(raw(nodes="3"), "dev")
    assert (settings.nodes, settings.kube_context) == (3, "local-mesh-dev")


def test_the_most_nodes_leave_the_pool_its_addresses() -> None:
    assert parse_settings(raw(nodes="98"), "dev").nodes == 98


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("profile", "dev\nlocal-mesh:cpus = '2' is valid"),
        ("istioProfile", "demo\rminimal"),
        ("addressPool", "192.168.49.1\n00-192.168.49.120"),
        ("kubernetesVersion", "v1.35.1\x1b[2J"),
        ("driver", "it's"),
    ],
)
def test_user_text_in_a_message_is_one_shell_word_on_one_line(key: str, value: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_settings(raw(**{key: value}), "dev")
    message = str(error.value)
    assert message.isprintable()
    assert len(message.splitlines()) == 1
    # The value as it appears is the shell word a user can paste: bash reads back what they typed.
    word = message.split(" = ", 1)[1].split(" is not valid", 1)[0]
    echoed = subprocess.run(["bash", "-c", f"printf %s {word}"], capture_output=True, check=True)
    assert echoed.stdout.decode() == value.strip()


def test_config_errors_reach_the_user_as_their_line_alone(tmp_path: Path) -> None:
    # As `pulumi up` shows it: the language host prints a RunError's message and
    # any other exception as "Program failed with an unhandled exception" and a traceback.
    with pytest.raises(ProgramFailedError) as failure:
        run_program("dev", tmp_path, {"memory": "8 gigs"})
    assert as_the_cli_shows(failure.value.cause) == (
        "local-mesh:memory = '8 gigs' is not valid: expected a size such as 8g, 4gb, 6144m or 6144 (MB): "
        "a number with an optional unit b, k, m, g, t or p"
    )
    assert failure.value.registrations == []


@pytest.mark.parametrize(
    ("key", "value", "type_name"),
    [
        ("cpus", "four", "integer"),
        ("nodes", "2.5", "integer"),
        ("sample", "yes", "boolean"),
        ("preflight", "True", "boolean"),
    ],
)
def test_a_typed_key_with_a_value_of_another_type_is_the_clis_own_line(
    tmp_path: Path, key: str, value: str, type_name: str
) -> None:
    assert pulumi_project()["config"][key]["type"] == type_name
    with pytest.raises(CliRefusedError) as refused:
        run_program("dev", tmp_path, {key: value})
    assert str(refused.value) == (
        f"error: validating stack config: Stack 'dev' with configuration key '{key}' must be of type '{type_name}'"
    )
    assert not (tmp_path / "state.json").exists()


def test_an_address_pool_refused_on_the_node_quotes_what_the_user_typed() -> None:
    settings = parse_settings(raw(addressPool="192.168.50.96/28"), "dev")
    with pytest.raises(NodeConfigError) as error:
        address_pool_on_node(settings, "192.168.49.2")
    assert str(error.value).startswith("local-mesh:addressPool = '192.168.50.96/28' is not valid")


@pytest.mark.parametrize(
    ("overrides", "warning"),
    [
        (
            {
                "cluster": "existing",
                "kubeContext": "k3d-dev",
                "loadBalancer": "none",
                "addressPool": "10.0.0.100-10.0.0.120",
            },
            "local-mesh:addressPool = '10.0.0.100-10.0.0.120' is ignored: with local-mesh:loadBalancer none, "
            "MetalLB is not installed",
        ),
        (
            {"cluster": "existing", "kubeContext": "k3d-dev", "loadBalancer": "none", "metallbVersion": "0.15.2"},
            "local-mesh:metallbVersion = '0.15.2' is ignored: with local-mesh:loadBalancer none, "
            "MetalLB is not installed",
        ),
        (
            {"dashboardRoutes": "on", "observability": "none"},
            "local-mesh:dashboardRoutes = 'on' is ignored: with local-mesh:observability none there are no dashboards",
        ),
    ],
)
def test_a_key_the_combination_ignores_is_a_warning(overrides: dict[str, str], warning: str) -> None:
    settings = parse_settings(raw(**overrides), "dev")
    assert ignored_key_warnings(settings, declared_defaults(), []) == [warning]


def test_the_defaults_warn_about_nothing() -> None:
    assert declared_defaults() == project_defaults()
    for overrides in ({}, {"cluster": "existing", "kubeContext": "k3d-dev", "loadBalancer": "none"}):
        assert ignored_key_warnings(parse_settings(raw(**overrides), "dev"), declared_defaults(), ["/kiali"]) == []


def test_dashboard_routes_on_an_existing_cluster_warn_loudly_naming_what_is_reachable(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = tmp_path / "machine"
    add_existing_cluster(root, "kind-dev")
    with caplog.at_level(logging.WARNING):
        run_program(
            "dev",
            root,
            {"cluster": "existing", "kubeContext": "kind-dev", "dashboardRoutes": "on", "observability": "kiali"},
        )
    (warning,) = [record.getMessage() for record in caplog.records if "dashboardRoutes" in record.getMessage()]
    assert warning == (
        "SECURITY: local-mesh:dashboardRoutes = 'on' on an existing cluster: anyone who can reach its ingress "
        "gateway's load balancer can open /kiali, /prometheus there without logging in; set it to auto or off "
        "(reach them with kubectl port-forward) unless only you can reach that address"
    )
