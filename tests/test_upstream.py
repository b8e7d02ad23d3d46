"""Every Helm value, custom-resource spec and minikube flag the program uses,
checked against the real upstream charts, CRDs and flag list in shared/upstream.

Helm ignores a misspelled key without a word, so these tests are what turns a
typo into a failure. Each check also has a negative control below: a
deliberately misspelled key must be caught, or the check proves nothing.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import jsonschema
import pytest
import yaml

from components import values
from components.footprint import CHART_REQUESTS, Requests, parse_cpu, parse_memory
from components.minikube import SCRIPTS
from components.network import parse_address_pool
from components.settings import ISTIO_PROFILES, RESOURCE_PROFILES
from tests.harness import REPO, upstream

ISTIO_DATA = "istio-1.31.0-rc.0"
METALLB_DATA = "metallb-0.16.1"
MINIKUBE_DATA = "minikube-1.38.1"
# Keys the Istio charts' profile template reads although values.yaml does not list them.
ISTIO_META_KEYS = {"profile": "profile-{}.yaml", "platform": "profile-platform-{}.yaml"}
POOL = parse_address_pool("192.168.49.100-192.168.49.120")


def load_yaml(relative: str) -> Any:
    return yaml.safe_load(upstream(relative).read_text())


def deep_merge(base: Any, override: Any) -> Any:
    """Helm's coalescing of user values over chart defaults: maps merge, the rest replaces."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = deep_merge(base.get(key), value) if key in base else value
        return merged
    return copy.deepcopy(override)


def key_paths(tree: dict[str, Any], prefix: str = "") -> set[str]:
    paths = set()
    for key, value in tree.items():
        path = f"{prefix}{key}"
        paths.add(path)
        if isinstance(value, dict) and value:
            paths |= key_paths(value, f"{path}.")
    return paths


def chart_keys(chart_folder: str, profiles: bool = False) -> set[str]:
    """Every key a chart reads: its defaults (Istio keeps them under
    `_internal_defaults_do_not_set`), plus those its built-in profiles set."""
    defaults = load_yaml(f"{chart_folder}/values.yaml")
    keys = key_paths(defaults.get("_internal_defaults_do_not_set", defaults))
    if profiles:
        for profile in sorted(upstream(f"{chart_folder}/profiles").glob("*.yaml")):
            keys |= key_paths(yaml.safe_load(profile.read_text()) or {})
    return keys


RESOURCE_FIELDS = {"requests", "limits", "requests.cpu", "requests.memory", "limits.cpu", "limits.memory"}


def is_resources_field(path: str, known: set[str]) -> bool:
    """Charts pass a `resources` block to the pod spec whole (toYaml), so below
    a `resources` key the chart has, Kubernetes' ResourceRequirements fields apply."""
    parts = path.split(".")
    if "resources" not in parts:
        return False
    index = len(parts) - 1 - parts[::-1].index("resources")
    resources_key, rest = ".".join(parts[: index + 1]), ".".join(parts[index + 1 :])
    return rest in RESOURCE_FIELDS and resources_key in known


def unknown_istio_keys(chart_values: dict[str, Any], chart_folder: str) -> list[str]:
    known = chart_keys(chart_folder, profiles=upstream(chart_folder).joinpath("profiles").exists())
    problems = []
    for path in sorted(key_paths(chart_values)):
        meta = ISTIO_META_KEYS.get(path.removeprefix("global."))
        if meta:
            profile_file = upstream(f"{ISTIO_DATA}/istiod/profiles") / meta.format(chart_values_at(chart_values, path))
            if not profile_file.exists():
                problems.append(f"{path}: no chart profile {profile_file.name}")
        elif path not in known and not is_resources_field(path, known):
            problems.append(f"{path}: not a key of {chart_folder}")
    return problems


def chart_values_at(tree: dict[str, Any], path: str) -> Any:
    for part in path.split("."):
        tree = tree[part]
    return tree


def closed(schema: Any) -> Any:
    """An OpenAPI v3 schema in which an object with listed properties rejects
    others, as the API server's pruning would drop them."""
    if isinstance(schema, dict):
        result = {key: closed(value) for key, value in schema.items()}
        if (
            "properties" in schema
            and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")
        ):
            result["additionalProperties"] = False
        return result
    if isinstance(schema, list):
        return [closed(item) for item in schema]
    return schema


def crd_schema(file_name: str) -> dict[str, Any]:
    crd = load_yaml(f"{METALLB_DATA}/{file_name}")
    (served,) = [version for version in crd["spec"]["versions"] if version["name"] == "v1beta1"]
    return closed(served["schema"]["openAPIV3Schema"])


def validate_gateway(chart_values: dict[str, Any]) -> None:
    schema = json.loads(upstream(f"{ISTIO_DATA}/gateway/values.schema.json").read_text())
    # Helm validates with a draft-7 validator; the chart's "$schema" names no draft.
    merged = deep_merge(load_yaml(f"{ISTIO_DATA}/gateway/values.yaml"), chart_values)
    jsonschema.Draft7Validator(schema).validate(merged)


def metallb_problems(chart_values: dict[str, Any]) -> list[str]:
    defaults = load_yaml(f"{METALLB_DATA}/values.yaml")
    schema = json.loads(upstream(f"{METALLB_DATA}/values.schema.json").read_text())
    known = key_paths(defaults)
    problems = [
        f"{path}: not a key of the MetalLB chart"
        for path in sorted(key_paths(chart_values) - known)
        if not is_resources_field(path, known)
    ]
    validator = jsonschema.Draft7Validator(schema)
    problems += [error.message for error in validator.iter_errors(deep_merge(defaults, chart_values))]
    return problems


def start_flags_used(text: str) -> set[str]:
    """The long flags of every `minikube start` in a script, continuation lines included."""
    invocations = re.findall(r"minikube start(?:[^\n]*\\\n)*[^\n]*", text)
    return {flag for invocation in invocations for flag in re.findall(r"--([a-z][a-z-]*)", invocation)}


# --- the versions the data describes are the versions the program installs ---


def stack_default(key: str) -> str:
    return str(yaml.safe_load((REPO / "Pulumi.yaml").read_text())["config"][key]["default"])


def test_reference_data_matches_the_default_versions() -> None:
    istio_minor = ".".join(stack_default("istioVersion").split(".")[:2])
    assert ISTIO_DATA.startswith(f"istio-{istio_minor}."), "new Istio minor: refresh shared/upstream"
    assert f"metallb-{stack_default('metallbVersion')}" == METALLB_DATA


# --- Istio ---


EVERY_COMBINATION = [(profile, resources) for profile in ISTIO_PROFILES for resources in RESOURCE_PROFILES]
CHART_FOLDERS = {"gateway": "gateway", "cni": "istio-cni", "ztunnel": "ztunnel", "istiod": "istiod", "base": "base"}


@pytest.mark.parametrize(("istio_profile", "resources"), EVERY_COMBINATION)
def test_gateway_values_validate_against_the_gateway_chart_schema(istio_profile: str, resources: str) -> None:
    for plan in values.gateway_releases(istio_profile, resources):
        validate_gateway(plan.values)
        assert unknown_istio_keys(plan.values, f"{ISTIO_DATA}/gateway") == []


@pytest.mark.parametrize(("istio_profile", "resources"), EVERY_COMBINATION)
def test_istiod_and_base_keys_exist_in_their_charts(istio_profile: str, resources: str) -> None:
    assert unknown_istio_keys(values.istiod_release(istio_profile, resources).values, f"{ISTIO_DATA}/istiod") == []
    assert unknown_istio_keys(values.istio_base_release().values, f"{ISTIO_DATA}/base") == []


@pytest.mark.parametrize("resources", RESOURCE_PROFILES)
def test_ambient_node_agents_keys_exist_in_their_charts(resources: str) -> None:
    plans = values.ambient_releases(resources)
    assert [plan.chart for plan in plans] == ["cni", "ztunnel"]
    for plan in plans:
        assert unknown_istio_keys(plan.values, f"{ISTIO_DATA}/{CHART_FOLDERS[plan.chart]}") == []


def test_platform_minikube_moves_cni_to_dockers_netns_dir() -> None:
    (cni, _) = values.ambient_releases("lean")
    platform = load_yaml(f"{ISTIO_DATA}/istiod/profiles/profile-platform-{cni.values['platform']}.yaml")
    assert platform["cni"]["cniNetnsDir"] == "/var/run/docker/netns"
    ambient = load_yaml(f"{ISTIO_DATA}/istiod/profiles/profile-{cni.values['profile']}.yaml")
    assert ambient["cni"]["ambient"]["enabled"] is True


def chart_default_requests(chart_folder: str, path: str, profile: str | None = None) -> Requests:
    tree = load_yaml(f"{chart_folder}/values.yaml")
    tree = tree.get("_internal_defaults_do_not_set", tree)
    if profile:
        tree = deep_merge(tree, load_yaml(f"{ISTIO_DATA}/istiod/profiles/profile-{profile}.yaml"))
    block = chart_values_at(tree, path)
    return Requests(parse_cpu(block["cpu"]), parse_memory(block["memory"])) if block else Requests(0, 0)


def test_chart_default_requests_match_the_charts() -> None:
    """components/footprint.py's table of chart defaults, read from the charts."""
    istiod = f"{ISTIO_DATA}/istiod"
    expected = {
        ("istiod", None): chart_default_requests(istiod, "resources.requests"),
        ("istiod", "demo"): chart_default_requests(istiod, "pilot.resources.requests", "demo"),
        ("proxy", None): chart_default_requests(istiod, "global.proxy.resources.requests"),
        ("proxy", "demo"): chart_default_requests(istiod, "global.proxy.resources.requests", "demo"),
        ("gateway", None): chart_default_requests(f"{ISTIO_DATA}/gateway", "resources.requests"),
        ("cni", None): chart_default_requests(f"{ISTIO_DATA}/istio-cni", "resources.requests"),
        ("ztunnel", None): chart_default_requests(f"{ISTIO_DATA}/ztunnel", "resources.requests"),
        ("metallb", None): chart_default_requests(METALLB_DATA, "controller.resources"),
        ("httpbin", None): Requests(0, 0),
    }
    assert chart_default_requests(METALLB_DATA, "speaker.resources") == Requests(0, 0)
    assert expected == CHART_REQUESTS


def test_demo_selects_the_charts_own_demo_profile() -> None:
    demo = values.istiod_release("demo", "lean").values
    profile = upstream(f"{ISTIO_DATA}/istiod/profiles/profile-{demo['profile']}.yaml")
    settings = yaml.safe_load(profile.read_text())
    # What the issue asks of `demo`, as the chart's profile sets it.
    assert settings["meshConfig"]["accessLogFile"] == "/dev/stdout"
    assert settings["pilot"]["traceSampling"] == 100


def test_misspelled_istio_keys_are_caught() -> None:
    with pytest.raises(jsonschema.ValidationError):
        validate_gateway({"servce": {"type": "LoadBalancer"}})
    with pytest.raises(jsonschema.ValidationError):
        validate_gateway({"service": {"type": "LoadBalancer"}, "autoscaling": {"enabled": "no"}})
    assert unknown_istio_keys({"pilot": {"traceSamplng": 100}}, f"{ISTIO_DATA}/istiod")
    assert unknown_istio_keys({"profile": "demoo"}, f"{ISTIO_DATA}/istiod")
    assert unknown_istio_keys({"defaultRevison": "default"}, f"{ISTIO_DATA}/base")
    assert unknown_istio_keys({"pilot": {"resources": {"request": {"cpu": "1m"}}}}, f"{ISTIO_DATA}/istiod")
    assert unknown_istio_keys({"resources": {"limits": {"cpus": "1"}}}, f"{ISTIO_DATA}/ztunnel")
    assert unknown_istio_keys({"resource": {"limits": {"cpu": "1"}}}, f"{ISTIO_DATA}/istio-cni")


# --- MetalLB ---


@pytest.mark.parametrize("resources", RESOURCE_PROFILES)
def test_metallb_values_are_keys_of_the_chart_and_validate_against_its_schema(resources: str) -> None:
    assert metallb_problems(values.metallb_values(resources)) == []


def test_misspelled_metallb_keys_are_caught() -> None:
    assert metallb_problems({"speaker": {"ignoreExcludeLb": True}})
    assert metallb_problems({"speaker": {"frr": {"enabled": "false"}}})
    assert metallb_problems({"controller": {"resources": {"requets": {"cpu": "10m"}}}})


def test_address_pool_spec_validates_against_the_crd() -> None:
    jsonschema.validate(values.address_pool_spec(POOL), crd_schema("crd-ipaddresspools.yaml")["properties"]["spec"])
    jsonschema.validate(values.address_pool_manifest(POOL), crd_schema("crd-ipaddresspools.yaml"))


def test_l2_advertisement_spec_validates_against_the_crd() -> None:
    jsonschema.validate(values.l2_advertisement_spec(), crd_schema("crd-l2advertisements.yaml")["properties"]["spec"])


def test_misspelled_custom_resource_fields_are_caught() -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"adresses": [str(POOL)]}, crd_schema("crd-ipaddresspools.yaml")["properties"]["spec"])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"ipAddressPool": ["x"]}, crd_schema("crd-l2advertisements.yaml")["properties"]["spec"])


# --- minikube ---


def known_start_flags() -> set[str]:
    lines = upstream(f"{MINIKUBE_DATA}/start-flags.txt").read_text().splitlines()
    return {line.strip() for line in lines if line.strip() and not line.startswith("#")}


def test_minikube_start_uses_only_flags_minikube_accepts() -> None:
    used = {script.name: start_flags_used(script.read_text()) for script in sorted(SCRIPTS.glob("*.sh"))}
    assert {"profile", "driver", "cpus", "memory", "kubernetes-version", "keep-context"} <= used["cluster-create.sh"]
    assert {"profile", "keep-context"} <= used["cluster-access.sh"]
    for flags in used.values():
        assert flags - known_start_flags() == set()


def test_a_misspelled_start_flag_is_caught() -> None:
    script = (SCRIPTS / "cluster-create.sh").read_text().replace("--kubernetes-version", "--kubernetes-verison")
    assert start_flags_used(script) - known_start_flags() == {"kubernetes-verison"}
