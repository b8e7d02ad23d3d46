"""Several clusters in one mesh (issue 21): the real program under the mocks
with `clusters: 2` and `3` (multi-primary; primary-remote is refused), the
stand-in minikube joining one docker network, the real charts rendering the
east-west gateway and istiod's multicluster values, and the pure rules."""

from __future__ import annotations

import functools
import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding

from components.istio import MESH_GATEWAY
from components.model import images
from components.model.footprint import workloads
from components.model.multicluster import (
    CROSS_NETWORK_GATEWAY,
    EASTWEST_RELEASE,
    NETWORK_LABEL,
    cluster_name,
    cluster_settings,
    istiod_multicluster_values,
    network_name,
)
from components.model.network import check_cluster_pools, default_address_pool, shared_node_address
from components.model.parts.helloworld import HELLOWORLD_NAMESPACE, HELLOWORLD_PATH, helloworld_pods, helloworld_version
from components.model.parts.istio import INGRESS_RELEASE
from components.model.plan import release_plan
from components.model.release import TRUST_ROOT
from components.model.settings import ConfigError, declared_defaults, ignored_key_warnings, parse_settings
from harness.config import raw_config, settings
from harness.kinds import COMMAND, PROVIDER, RELEASE
from harness.program import ProgramFailedError, ProgramRun, Registration, as_the_cli_shows, run_program
from harness.world import fake_state, run_shell
from tests.upstream import render, schema_problems
from tools.crosscluster import run_cross_cluster_checks

MESH = "local-mesh:mesh:LocalMesh"
SECRET = "kubernetes:core/v1:Secret"


@dataclass
class Stack:
    run: ProgramRun
    root: Path
    clusters: int


@pytest.fixture(scope="module", params=[2, 3], ids=["clusters-2", "clusters-3"])
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Stack:
    root = tmp_path_factory.mktemp("multicluster")
    return Stack(run_program("dev", root, {"clusters": request.param}), root, request.param)


def mesh_of(run: ProgramRun, registration: Registration) -> str | None:
    """The LocalMesh a registration belongs to (None: outside every mesh, as the trust root)."""
    by_urn = {r.urn: r for r in run.registrations}
    while registration.type != MESH:
        if registration.parent not in by_urn:
            return None
        registration = by_urn[registration.parent]
    return registration.name


def providers_by_mesh(run: ProgramRun) -> dict[str, str]:
    """Each mesh's one Kubernetes provider, as a resource's provider reference names it (its URN)."""
    found: dict[str, str] = {}
    for registration in run.of_type(PROVIDER):
        mesh = mesh_of(run, registration)
        assert mesh is not None and mesh not in found
        found[mesh] = registration.urn
    return found


def in_cluster(run: ProgramRun, index: int, type_: str) -> list[Registration]:
    """The resources of this type in cluster `index` (by the provider they reach)."""
    provider = providers_by_mesh(run)[profile(index)]
    return [r for r in run.of_type(type_) if r.provider.rsplit("::", 1)[0] == provider]


def profile(index: int) -> str:
    return "local-mesh-dev" if index == 0 else f"local-mesh-dev-{index + 1}"


def string_data(registration: Registration) -> dict[str, str]:
    return dict(registration.inputs["stringData"])


def test_every_cluster_is_a_profile_on_the_first_ones_network(stack: Stack) -> None:
    state = fake_state(stack.root)
    profiles = {name: state["profiles"][name] for name in map(profile, range(stack.clusters))}
    assert sorted(state["profiles"]) == sorted(profiles)
    assert {entry["network"] for entry in profiles.values()} == {"local-mesh-dev"}
    assert state["networks"] == ["local-mesh-dev"]
    addresses = [ipaddress.IPv4Address(entry["ip"]) for entry in profiles.values()]
    assert len(set(addresses)) == stack.clusters
    assert all(
        address in ipaddress.IPv4Network(state["networkDetails"]["local-mesh-dev"]["subnet"]) for address in addresses
    )


def test_the_host_registries_sit_at_their_own_addresses_beside_every_node(stack: Stack) -> None:
    """The first cluster's registries join the shared network while a later
    profile starts there (imageCache on, the default): at the lowest free
    address (plain `docker network connect`) one would take that node's."""
    state = fake_state(stack.root)
    subnet = ipaddress.IPv4Network(state["networkDetails"]["local-mesh-dev"]["subnet"])
    registries = {name: container["addresses"]["local-mesh-dev"] for name, container in state["containers"].items()}
    assert registries == {name: str(address) for name, address in images.registry_addresses(subnet).items()}
    nodes = [state["profiles"][profile(index)]["ip"] for index in range(stack.clusters)]
    assert nodes == [shared_node_address(nodes[0], index) for index in range(stack.clusters)]
    assert not set(nodes) & set(registries.values())


def test_a_later_profile_is_made_after_the_first_and_deleted_before_it(stack: Stack) -> None:
    """minikube deletes the network it made with the first profile, which docker
    refuses while another node is on it: destroy deletes the dependents first."""
    first = stack.run.find(COMMAND, "minikube")
    for index in range(1, stack.clusters):
        later = stack.run.find(COMMAND, f"{profile(index)}-minikube")
        assert first.urn in later.dependencies
        assert later.inputs["environment"]["MINIKUBE_NETWORK"] == "local-mesh-dev"
    assert "MINIKUBE_NETWORK" not in first.inputs["environment"]


def test_pools_are_disjoint_and_clear_of_every_node(stack: Stack) -> None:
    state = fake_state(stack.root)
    nodes = {ipaddress.IPv4Address(entry["ip"]) for entry in state["profiles"].values()}
    pools: list[range] = []
    for index in range(stack.clusters):
        (registration,) = in_cluster(stack.run, index, "kubernetes:metallb.io/v1beta1:IPAddressPool")
        first, last = (ipaddress.IPv4Address(a) for a in registration.inputs["spec"]["addresses"][0].split("-"))
        pools.append(range(int(first), int(last) + 1))
        assert not any(int(node) in pools[-1] for node in nodes)
    for index, pool in enumerate(pools):
        for other in pools[index + 1 :]:
            assert not set(pool) & set(other)


def test_no_resource_reaches_another_clusters_provider(stack: Stack) -> None:
    providers = providers_by_mesh(stack.run)
    assert sorted(providers) == sorted(map(profile, range(stack.clusters)))
    reaching = [r for r in stack.run.registrations if r.provider]
    assert reaching
    for registration in reaching:
        mesh = mesh_of(stack.run, registration)
        assert mesh is not None, registration.engine_urn
        assert registration.provider.rsplit("::", 1)[0] == providers[mesh], registration.engine_urn


def certificate(pem: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem.encode())


def signed_by(child: x509.Certificate, issuer: x509.Certificate) -> bool:
    public_key: Any = issuer.public_key()
    try:
        public_key.verify(
            child.signature, child.tbs_certificate_bytes, padding.PKCS1v15(), child.signature_hash_algorithm
        )
    except Exception:
        return False
    return child.issuer == issuer.subject


def test_every_clusters_cacerts_chain_to_one_root(stack: Stack) -> None:
    roots, intermediates = set(), set()
    for index in range(stack.clusters):
        (cacerts,) = [r for r in in_cluster(stack.run, index, SECRET) if r.inputs["metadata"]["name"] == "cacerts"]
        assert cacerts.inputs["metadata"]["namespace"] == "istio-system"
        assert "stringData" in cacerts.secret_inputs  # the CA's key is a secret in the state
        files = string_data(cacerts)
        assert sorted(files) == ["ca-cert.pem", "ca-key.pem", "cert-chain.pem", "root-cert.pem"]
        ca, root = certificate(files["ca-cert.pem"]), certificate(files["root-cert.pem"])
        assert signed_by(ca, root) and signed_by(root, root)
        assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        assert files["cert-chain.pem"] == files["ca-cert.pem"] + files["root-cert.pem"]
        key: Any = serialization.load_pem_private_key(files["ca-key.pem"].encode(), password=None)
        assert key.public_key().public_numbers() == ca.public_key().public_numbers()  # type: ignore[union-attr]
        roots.add(files["root-cert.pem"])
        intermediates.add(files["ca-cert.pem"])
    assert len(roots) == 1
    assert len(intermediates) == stack.clusters


def test_istiod_starts_after_cacerts_in_a_labelled_istio_system(stack: Stack) -> None:
    for index in range(stack.clusters):
        (namespace,) = [
            r
            for r in in_cluster(stack.run, index, "kubernetes:core/v1:Namespace")
            if r.inputs["metadata"]["name"] == "istio-system"
        ]
        assert namespace.inputs["metadata"] == {"name": "istio-system", "labels": {NETWORK_LABEL: network_name(index)}}
        (cacerts,) = [r for r in in_cluster(stack.run, index, SECRET) if r.inputs["metadata"]["name"] == "cacerts"]
        releases = {r.inputs["name"]: r for r in in_cluster(stack.run, index, RELEASE)}
        assert stack.run.depends_on(releases["istiod"], cacerts)
        assert stack.run.depends_on(cacerts, namespace)
        # Helm makes no istio-system of its own: the program's is there first.
        for release in releases.values():
            if release.inputs["namespace"] == "istio-system":
                assert release.inputs["createNamespace"] is False
                assert stack.run.depends_on(release, namespace)
        assert (
            releases["istiod"].inputs["values"]["global"] | istiod_multicluster_values(index)
            == (releases["istiod"].inputs["values"]["global"])
        )


def test_remote_secrets_go_both_ways_with_the_nodes_address(stack: Stack) -> None:
    state = fake_state(stack.root)
    providers = providers_by_mesh(stack.run)
    for reader in range(stack.clusters):
        secrets = {
            r.inputs["metadata"]["name"]: r
            for r in in_cluster(stack.run, reader, SECRET)
            if r.inputs["metadata"].get("labels", {}).get("istio/multiCluster") == "true"
        }
        others = [index for index in range(stack.clusters) if index != reader]
        assert sorted(secrets) == sorted(f"istio-remote-secret-{cluster_name(index)}" for index in others)
        for index in others:
            secret = secrets[f"istio-remote-secret-{cluster_name(index)}"]
            assert "stringData" in secret.secret_inputs
            assert secret.inputs["metadata"]["annotations"] == {"networking.istio.io/cluster": cluster_name(index)}
            config = yaml.safe_load(string_data(secret)[cluster_name(index)])
            assert config["current-context"] == cluster_name(index)
            (entry,) = config["clusters"]
            # The other cluster's node on the shared network, not 127.0.0.1.
            assert entry["cluster"]["server"] == f"https://{state['profiles'][profile(index)]['ip']}:8443"
            (user,) = config["users"]
            provider_name = providers[profile(index)].rsplit("::", 1)[1]
            assert user["user"]["token"] == f"token-of-istio-reader-service-account-in-{provider_name}"


def test_each_cluster_exposes_its_services_on_its_east_west_gateway(stack: Stack) -> None:
    for index in range(stack.clusters):
        releases = {r.inputs["name"]: r for r in in_cluster(stack.run, index, RELEASE)}
        assert releases[EASTWEST_RELEASE].inputs["values"]["networkGateway"] == network_name(index)
        (gateway,) = [
            r
            for r in in_cluster(stack.run, index, "kubernetes:networking.istio.io/v1:Gateway")
            if r.inputs["metadata"]["name"] == CROSS_NETWORK_GATEWAY
        ]
        assert schema_problems(gateway.inputs) == []
        assert stack.run.depends_on(gateway, releases["istiod"])
        (server,) = gateway.inputs["spec"]["servers"]
        assert server["tls"] == {"mode": "AUTO_PASSTHROUGH"} and server["port"]["number"] == 15443
    objects = [
        r.inputs
        for r in stack.run.registrations
        if r.custom and r.type.startswith("kubernetes:") and r.type not in (RELEASE, PROVIDER)
    ]
    assert [problem for item in objects for problem in schema_problems(item)] == []


def test_the_clusters_output(stack: Stack) -> None:
    clusters = stack.run.outputs["clusters"]
    state = fake_state(stack.root)
    assert [c["name"] for c in clusters] == [cluster_name(i) for i in range(stack.clusters)]
    assert [c["profile"] for c in clusters] == [profile(i) for i in range(stack.clusters)]
    assert [c["kubeContext"] for c in clusters] == [profile(i) for i in range(stack.clusters)]
    assert [c["network"] for c in clusters] == [network_name(i) for i in range(stack.clusters)]
    assert clusters[0]["ingressAddress"] == stack.run.outputs["ingressIp"]
    for index, entry in enumerate(clusters):
        pool = default_address_pool(state["profiles"][profile(index)]["ip"], index)
        assert ipaddress.IPv4Address(entry["ingressAddress"]) in pool
        assert ipaddress.IPv4Address(entry["eastWestAddress"]) in pool
        assert entry["ingressAddress"] != entry["eastWestAddress"]
    # The first cluster's outputs keep today's names.
    assert stack.run.outputs["profile"] == "local-mesh-dev"


def test_a_second_up_keeps_the_certificates(tmp_path: Path) -> None:
    first = run_program("dev", tmp_path, {"clusters": 2})
    second = run_program("dev", tmp_path, {"clusters": 2}, after=first)

    def cacerts(run: ProgramRun) -> dict[str, dict[str, str]]:
        # By resource name: the SDK registers the clusters' Secrets in no fixed order.
        return {r.name: string_data(r) for r in run.of_type(SECRET) if r.inputs["metadata"]["name"] == "cacerts"}

    assert len(cacerts(first)) == 2 and cacerts(second) == cacerts(first)
    # Nor is any profile started again.
    assert not [command for command in second.mocks.commands_run if command.endswith("minikube")]


def test_destroy_leaves_no_profile_network_or_context(tmp_path: Path) -> None:
    """The engine deletes dependents first: each later profile, then the first,
    each with the delete script and environment in its state."""
    run = run_program("dev", tmp_path, {"clusters": 3})
    first = run.find(COMMAND, "minikube")
    later = [r for r in run.of_type(COMMAND) if r.name.endswith("-minikube") and first.urn in r.dependencies]
    assert len(later) == 2
    for command in [*later, first]:
        environment = {**run.mocks.environment, **command.inputs["environment"]}
        deleted = run_shell(command.inputs["delete"], environment, command.inputs["interpreter"])
        assert deleted.returncode == 0, deleted.stderr
    state = fake_state(tmp_path)
    assert state["profiles"] == {} and state["networks"] == []
    contexts = run_shell("kubectl config get-contexts --output=name", run.mocks.environment, None)
    assert not [name for name in contexts.stdout.split() if name.startswith("local-mesh-dev")]


def test_one_cluster_has_no_trust_root_and_no_clusters_output(tmp_path: Path) -> None:
    run = run_program("dev", tmp_path)
    assert "clusters" not in run.outputs
    assert not [r for r in run.registrations if r.type.startswith("tls:")]
    assert EASTWEST_RELEASE not in run.releases()


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"clusters": 4}, "local-mesh:clusters = '4' is not valid: expected 1 to 3 clusters"),
        ({"clusters": 0}, "local-mesh:clusters = '0' is not valid: expected 1 to 3 clusters"),
        (
            {"clusters": 2, "cluster": "existing", "kubeContext": "kind-dev"},
            "local-mesh:clusters = '2' is not valid: expected 1 with cluster existing",
        ),
        ({"clusters": 2, "driver": "kvm2"}, "local-mesh:driver = 'kvm2' is not valid: expected docker with"),
        ({"clusters": 2, "nodes": 2}, "local-mesh:nodes = '2' is not valid: expected 1 with local-mesh:clusters 2"),
        (
            {"clusters": 2, "addressPool": "192.168.49.100-192.168.49.110"},
            "local-mesh:addressPool = '192.168.49.100-192.168.49.110' is not valid: expected empty with",
        ),
        ({"clusters": 3, "istioProfile": "ambient"}, "local-mesh:istioProfile = 'ambient' is not valid"),
        (
            {"clusters": 2, "multicluster": "primary-remote"},
            "local-mesh:multicluster = 'primary-remote' is not valid: expected multi-primary: primary-remote is not",
        ),
        ({"multicluster": "flat"}, "local-mesh:multicluster = 'flat' is not valid: expected one of multi-primary"),
        ({"clusters": 2, "profile": "p" * 62}, "is not valid: expected a name that leaves room for '-2'"),
    ],
)
def test_a_bad_multicluster_setting_is_one_line_before_anything(
    overrides: dict[str, Any], expected: str, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError) as refused:
        parse_settings(raw_config(**overrides), "dev")
    message = str(refused.value)
    assert expected in message and "\n" not in message
    if overrides.get("cluster") != "existing":
        with pytest.raises(ProgramFailedError) as failed:
            run_program("dev", tmp_path, overrides)
        assert as_the_cli_shows(failed.value.cause) == message
        assert failed.value.registrations == []


def test_the_host_check_counts_every_clusters_node(tmp_path: Path) -> None:
    """Three clusters of 4 GB do not fit a Docker of 8 GB, though one does."""
    machine = {"FAKE_DOCKER_MEMORY_BYTES": str(8 * 1024**3)}
    run_program("dev", tmp_path / "one", {"memory": "4g"}, machine=machine)
    with pytest.raises(ProgramFailedError) as failed:
        run_program("dev", tmp_path / "three", {"clusters": 3, "memory": "4g"}, machine=machine)
    assert "local-mesh:clusters 3 x local-mesh:memory 4096 MB ask for 12288 MB" in str(failed.value.cause)
    assert failed.value.registrations == []


# ---- the pure rules ----


def test_multicluster_with_one_cluster_is_a_warning() -> None:
    one = settings(multicluster="primary-remote")
    assert ignored_key_warnings(one, declared_defaults(), []) == [
        "local-mesh:multicluster = 'primary-remote' is ignored: with local-mesh:clusters 1 the mesh has one cluster"
    ]
    assert ignored_key_warnings(settings(clusters=2), declared_defaults(), []) == []


def test_later_clusters_are_named_after_the_first() -> None:
    stack_settings = settings(clusters=3)
    assert cluster_settings(stack_settings, 0) is stack_settings
    later = cluster_settings(stack_settings, 2)
    assert (later.profile, later.kube_context, later.cluster_index) == ("local-mesh-dev-3", "local-mesh-dev-3", 2)


def test_the_address_plan_keeps_pools_apart() -> None:
    pools = check_cluster_pools("192.168.49.2", 3)
    assert [str(pool) for pool in pools] == [
        "192.168.49.100-192.168.49.120",
        "192.168.49.121-192.168.49.141",
        "192.168.49.142-192.168.49.162",
    ]
    assert [shared_node_address("192.168.58.2", index) for index in range(3)] == [
        "192.168.58.2",
        "192.168.58.3",
        "192.168.58.4",
    ]
    # The first cluster's pool is a one-cluster stack's.
    assert default_address_pool("192.168.49.2") == pools[0]


def test_the_plan_adds_the_east_west_gateway_and_istiods_identity() -> None:
    one = release_plan(settings())
    assert EASTWEST_RELEASE not in [r.name for r in one.releases]
    assert TRUST_ROOT not in one.release("istiod").after
    two = release_plan(cluster_settings(settings(clusters=2), 1))
    assert two.release(EASTWEST_RELEASE).after == two.release(INGRESS_RELEASE).after
    assert TRUST_ROOT in two.release("istiod").after
    assert two.release("istiod").values["global"]["multiCluster"] == {"clusterName": "cluster2"}


# ---- the real charts ----


def test_the_east_west_gateway_renders_as_istios_guide_expects() -> None:
    plan = release_plan(cluster_settings(settings(clusters=2), 1))
    objects = render(plan.release(EASTWEST_RELEASE))
    (service,) = [o for o in objects if o["kind"] == "Service"]
    (deployment,) = [o for o in objects if o["kind"] == "Deployment"]
    assert service["metadata"]["name"] == EASTWEST_RELEASE
    assert service["spec"]["type"] == "LoadBalancer"
    assert {port["port"] for port in service["spec"]["ports"]} == {15021, 15443, 15012, 15017}
    assert service["metadata"]["labels"][NETWORK_LABEL] == "network2"
    template = deployment["spec"]["template"]
    assert template["metadata"]["labels"][NETWORK_LABEL] == "network2"
    assert template["metadata"]["labels"]["istio"] == "eastwestgateway"
    (container,) = template["spec"]["containers"]
    assert {"name": "ISTIO_META_REQUESTED_NETWORK_VIEW", "value": "network2"} in container["env"]
    assert [problem for item in objects for problem in schema_problems(item)] == []


def test_istiod_renders_the_clusters_identity() -> None:
    plan = release_plan(cluster_settings(settings(clusters=2), 1))
    objects = render(plan.release("istiod"))
    (deployment,) = [o for o in objects if o["kind"] == "Deployment"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    env = {variable["name"]: variable.get("value") for variable in container["env"]}
    assert env["CLUSTER_ID"] == "cluster2"
    mesh = yaml.safe_load(
        next(o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "istio")["data"]["mesh"]
    )
    assert mesh["defaultConfig"]["meshId"] == "mesh1"
    injector = next(
        o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "istio-sidecar-injector"
    )
    values = yaml.safe_load(injector["data"]["values"])
    assert values["global"]["network"] == "network2"
    assert values["global"]["multiCluster"]["clusterName"] == "cluster2"


# ---- the stand-in minikube on one network ----


def test_profiles_share_a_network_as_minikube_does(machine: dict[str, str]) -> None:
    def minikube(*args: str, **environment: str) -> Any:
        return run_shell(" ".join(["minikube", *args]), {**machine, **environment}, None)

    assert minikube("start", "-p", "one", "--driver=docker").returncode == 0
    joined = minikube(
        "start", "-p", "two", "--driver=docker", MINIKUBE_NETWORK="one", MINIKUBE_STATIC_IP="192.168.49.3"
    )
    assert joined.returncode == 0
    assert minikube("ip", "-p", "two").stdout.strip() == "192.168.49.3"
    # Without --static-ip the node would take the gateway + 1: the first profile's.
    clash = minikube("start", "-p", "three", "--driver=docker", "--network=one")
    assert clash.returncode == 80 and "address already in use" in clash.stdout + clash.stderr
    inspected = run_shell("docker network inspect one", machine, None)
    assert '"Name": "two"' in inspected.stdout and '"Name": "one"' in inspected.stdout
    # The first profile's network stays while another node is on it.
    assert minikube("delete", "-p", "one").returncode == 0
    assert run_shell("docker network inspect one", machine, None).returncode == 0
    assert minikube("delete", "-p", "two").returncode == 0


# --- the proof, wired: helloworld in every cluster, the first cluster's Kiali and Prometheus see the others ---

HELLOWORLD_COMPONENT = "local-mesh:helloworld:HelloWorld"
VIRTUAL_SERVICE = "kubernetes:networking.istio.io/v1:VirtualService"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"


def test_each_cluster_serves_its_helloworld_version_and_routes_hello(stack: Stack) -> None:
    # Istio's "Verify the installation": v1 in cluster1, v2 in cluster2 (a third serves v1 again).
    assert [helloworld_version(index) for index in range(stack.clusters)] == ["v1", "v2", "v1"][: stack.clusters]
    for index in range(stack.clusters):
        deployments = {
            r.inputs["metadata"]["name"]
            for r in in_cluster(stack.run, index, DEPLOYMENT)
            if r.inputs["metadata"]["namespace"] == HELLOWORLD_NAMESPACE
        }
        assert deployments == {f"helloworld-{helloworld_version(index)}", "curl"}
        (route,) = [
            r for r in in_cluster(stack.run, index, VIRTUAL_SERVICE) if r.inputs["metadata"]["name"] == "helloworld"
        ]
        assert route.inputs["spec"]["gateways"] == [MESH_GATEWAY]
        assert route.inputs["spec"]["http"][0]["match"] == [{"uri": {"exact": HELLOWORLD_PATH}}]
        # After istiod (whose webhook validates it and injects the pods' sidecars).
        istiod = next(r for r in in_cluster(stack.run, index, RELEASE) if r.inputs["name"] == "istiod")
        assert stack.run.depends_on(route, istiod)
    assert len(stack.run.of_type(HELLOWORLD_COMPONENT)) == stack.clusters


def kiali_release(run: ProgramRun, index: int) -> Registration:
    (kiali,) = [r for r in in_cluster(run, index, RELEASE) if r.inputs["name"] == "kiali"]
    return kiali


def test_the_first_kiali_reads_every_other_cluster_at_its_node_on_the_shared_network(stack: Stack) -> None:
    state = fake_state(stack.root)
    providers = providers_by_mesh(stack.run)
    first_kiali = kiali_release(stack.run, 0)
    remotes = range(1, stack.clusters)
    secrets = {
        r.inputs["metadata"]["name"]: r
        for r in in_cluster(stack.run, 0, SECRET)
        if r.inputs["metadata"].get("labels", {}).get("kiali.io/multiCluster") == "true"
    }
    assert sorted(secrets) == [f"kiali-remote-cluster-secret-{cluster_name(index)}" for index in remotes]
    for index in remotes:
        name = cluster_name(index)
        secret = secrets[f"kiali-remote-cluster-secret-{name}"]
        assert secret.inputs["metadata"]["namespace"] == "istio-system"
        assert secret.inputs["metadata"]["annotations"] == {"kiali.io/cluster": name}
        assert "stringData" in secret.secret_inputs
        config = yaml.safe_load(string_data(secret)[name])
        (entry,) = config["clusters"]
        # The remote node on the shared docker network, as istiod's remote secrets name it; never 127.0.0.1.
        assert entry["cluster"]["server"] == f"https://{state['profiles'][profile(index)]['ip']}:8443"
        (user,) = config["users"]
        provider_name = providers[profile(index)].rsplit("::", 1)[1]
        # The token of Kiali's own account in that cluster, made after that cluster's Kiali.
        assert user["user"]["token"] == f"token-of-kiali-in-{provider_name}"
        (token,) = [
            r
            for r in in_cluster(stack.run, index, SECRET)
            if r.inputs["metadata"].get("annotations", {}).get("kubernetes.io/service-account.name") == "kiali"
        ]
        assert stack.run.depends_on(token, kiali_release(stack.run, index))
        assert stack.run.depends_on(first_kiali, secret)
    values = first_kiali.inputs["values"]["clustering"]
    assert values["clusters"] == [
        {"name": cluster_name(index), "secret_name": f"kiali-remote-cluster-secret-{cluster_name(index)}"}
        for index in remotes
    ]
    # No other cluster's Kiali mounts any, nor holds a secret about another cluster.
    for index in remotes:
        assert "clustering" not in kiali_release(stack.run, index).inputs["values"]
        assert not [
            r
            for r in in_cluster(stack.run, index, SECRET)
            if "kiali.io/multiCluster" in r.inputs["metadata"].get("labels", {})
        ]


def test_the_first_prometheus_federates_every_other_clusters_ingress(stack: Stack) -> None:
    clusters = stack.run.outputs["clusters"]
    prometheus = [
        next(r for r in in_cluster(stack.run, index, RELEASE) if r.inputs["name"] == "prometheus")
        for index in range(stack.clusters)
    ]
    jobs = prometheus[0].inputs["values"]["scrapeConfigs"]
    federated = {name: job for name, job in jobs.items() if job.get("metrics_path") == "/prometheus/federate"}
    # Each other cluster's Prometheus, on the ingress address the clusters output gives for it.
    assert sorted(
        target for job in federated.values() for c in job["static_configs"] for target in c["targets"]
    ) == sorted(f"{entry['ingressAddress']}:80" for entry in clusters[1:])
    assert all(job["honor_labels"] is True for job in federated.values())
    for other in prometheus[1:]:
        assert not [
            job for job in other.inputs["values"]["scrapeConfigs"].values() if "federate" in job.get("metrics_path", "")
        ]


def test_verify_takes_its_cross_cluster_checks_from_the_programs_clusters_output(stack: Stack) -> None:
    """The program's own outputs, handed to verify's cross-cluster checks: one
    /hello and one east-west check per cluster, each aimed at the address that
    cluster's entry gives, none skipped for a missing key."""
    outputs = stack.run.outputs
    assert len(outputs["clusters"]) > 1  # verify's condition for running them (tools/verify.py)
    checks: list[tuple[str, Any, str | None]] = []

    def record(name: str, probe: Any, deadline: float, skip: str | None) -> bool:
        checks.append((name, probe, skip))
        return True

    run_cross_cluster_checks(outputs, record, mesh_deadline=0.0, telemetry_wait=0.0)
    targets = {name: probe.args for name, probe, _ in checks if isinstance(probe, functools.partial)}
    for entry in outputs["clusters"]:
        (hello,) = [args for name, args in targets.items() if name.startswith(f"{entry['name']}: /hello")]
        assert hello[0] == f"http://{entry['ingressAddress']}{HELLOWORLD_PATH}"
        assert targets[f"{entry['name']}: east-west gateway listens"] == (entry["eastWestAddress"],)
    assert [skip for _, _, skip in checks] == [None] * len(checks)
    assert len(checks) == 2 * stack.clusters + 1


def test_the_host_check_counts_every_clusters_helloworld() -> None:
    """Each cluster of several runs its share of helloworld and a curl client (their sidecars too)."""
    for clusters in (2, 3):
        several = settings(clusters=clusters)
        plan = release_plan(several)
        assert workloads(several, plan).items() >= helloworld_pods(plan.lean, plan.sidecar).items()
    one = settings()
    assert not workloads(one, release_plan(one)).keys() & helloworld_pods(True, None).keys()
