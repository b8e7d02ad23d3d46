"""The same mesh on a cluster the user already has (`cluster: existing`, with
MetalLB or the cluster's own load balancer) and on a multi-node minikube: the
real __main__.py under Pulumi's mocks, against the stand-in kubectl."""

from __future__ import annotations

import json
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any
from unittest import mock

import pulumi
import pytest
import yaml

from components.model.network import parse_address_pool
from components.shell import script
from harness.kinds import COMMAND, PROVIDER
from harness.program import CLUSTER_LOAD_BALANCER, ProgramFailedError, ProgramRun, run_program
from harness.world import add_existing_cluster, fake_state, node_object
from tests.conftest import SharedRun

ELB = "a1b2c3-1234567890.eu-west-1.elb.amazonaws.com"


def existing(
    tmp_path: Path,
    load_balancer: str = "metallb",
    cluster_ingress: list[dict[str, str]] | None = None,
    **overrides: Any,
) -> ProgramRun:
    """A first `pulumi up` against context kind-dev of a kubeconfig whose
    current context is another cluster (prod), which must stay untouched."""
    root = tmp_path / "machine"
    add_existing_cluster(root, "kind-dev", server="127.0.0.1:40123")
    add_existing_cluster(root, "prod", server="10.0.0.1:6443")
    kubeconfig = root / "kube" / "config"
    config = yaml.safe_load(kubeconfig.read_text())
    kubeconfig.write_text(yaml.safe_dump({**config, "current-context": "prod"}))
    machine = {CLUSTER_LOAD_BALANCER: json.dumps(cluster_ingress)} if cluster_ingress else {}
    config_overrides = {"cluster": "existing", "kubeContext": "kind-dev", "loadBalancer": load_balancer, **overrides}
    return run_program("dev", root, config_overrides, machine=machine)


@pytest.fixture(scope="module")
def on_kind(tmp_path_factory: pytest.TempPathFactory) -> ProgramRun:
    return existing(tmp_path_factory.mktemp("kind"))


@pytest.fixture(scope="module")
def on_cloud(tmp_path_factory: pytest.TempPathFactory) -> ProgramRun:
    return existing(tmp_path_factory.mktemp("cloud"), "none", [{"hostname": ELB}])


@pytest.fixture(params=["metallb", "none"])
def either(request: pytest.FixtureRequest, on_kind: ProgramRun, on_cloud: ProgramRun) -> ProgramRun:
    return on_kind if request.param == "metallb" else on_cloud


def test_no_minikube_is_started_or_asked_on_an_existing_cluster(either: ProgramRun) -> None:
    assert [r.name for r in either.of_type(COMMAND)] == (
        ["metallb-webhook-ready"] if "metallb" in either.releases() else []
    )
    metallb = "metallb" in either.releases()
    # With MetalLB, the docker networks of this host are read for its pool; reads only.
    # The two reads are independent invokes: the engine may answer them in either order.
    assert sorted(args["command"] for args in either.mocks.invokes) == sorted(
        [script("existing-cluster-access.sh"), *([script("docker-networks.sh")] if metallb else [])]
    )
    root = Path(either.mocks.environment["FAKE_CLI_STATE"])
    calls = fake_state(root)["calls"]
    assert {call[0] for call in calls} == ({"kubectl", "docker"} if metallb else {"kubectl"})
    assert {tuple(call[1:3]) for call in calls if call[0] == "docker"} <= {("network", "ls"), ("network", "inspect")}


def test_every_kubernetes_resource_goes_through_the_named_context_alone(either: ProgramRun) -> None:
    (provider,) = either.of_type(PROVIDER)
    assert provider.inputs["context"] == "kind-dev"
    assert provider.inputs["clusterIdentifier"] == "kind-dev"
    # The cluster is not local-mesh's: an unreachable one must not be dropped from state.
    assert "deleteUnreachable" not in provider.inputs
    kubeconfig = yaml.safe_load(provider.inputs["kubeconfig"])
    assert [context["name"] for context in kubeconfig["contexts"]] == ["kind-dev"]
    assert [cluster["cluster"]["server"] for cluster in kubeconfig["clusters"]] == ["https://127.0.0.1:40123"]
    assert provider.secret_inputs == {"kubeconfig"}
    kubernetes_resources = [r for r in either.registrations if r.type.startswith("kubernetes:")]
    assert kubernetes_resources
    for resource in kubernetes_resources:
        assert resource.provider.startswith(provider.urn + "::"), resource.name
    (read,) = either.mocks.reads
    assert str(read.provider).startswith(provider.urn + "::")
    assert "kubeconfig" in either.secret_outputs


def test_nothing_is_deleted_with_anything_on_an_existing_cluster(either: ProgramRun) -> None:
    assert [r.name for r in either.registrations if r.deleted_with] == []
    assert either.mocks.transforms == {}


def test_destroy_leaves_no_namespace_of_local_meshs_on_an_existing_cluster(either: ProgramRun) -> None:
    """Helm's --create-namespace makes a namespace `helm uninstall` leaves behind:
    on a cluster that is not local-mesh's, each release's namespace is a
    Namespace of the program's that the release depends on, so destroy
    deletes it after the release."""
    for release in either.releases().values():
        namespace = release.inputs["namespace"]
        assert release.inputs["createNamespace"] is False, release.name
        assert either.depends_on(release, either.find("kubernetes:core/v1:Namespace", namespace)), release.name


def test_on_its_own_minikube_helm_makes_the_namespaces_that_go_with_the_cluster(shared_run: SharedRun) -> None:
    run = shared_run()
    assert all(release.inputs["createNamespace"] for release in run.releases().values())
    assert [r.name for r in run.of_type("kubernetes:core/v1:Namespace")] == ["sample"]


def test_destroy_uninstalls_in_reverse_order_of_the_declared_dependencies(either: ProgramRun) -> None:
    """Pulumi deletes a resource only after everything that depends on it, so
    these edges are the uninstall order: sample and gateways, istiod, base."""
    releases = either.releases()
    ingress, istiod, base = releases["istio-ingressgateway"], releases["istiod"], releases["istio-base"]
    assert either.depends_on(ingress, istiod) and either.depends_on(istiod, base)
    for name in ("httpbin", "sample"):
        assert either.depends_on(
            either.find("kubernetes:apps/v1:Deployment" if name == "httpbin" else "kubernetes:core/v1:Namespace", name),
            istiod,
        )
    if "metallb" in releases:
        pool = either.find("kubernetes:metallb.io/v1beta1:IPAddressPool", "address-pool")
        assert either.depends_on(pool, releases["metallb"])
        assert either.depends_on(ingress, pool)


def test_with_metallb_the_pool_is_the_first_nodes_slice_at_the_top_of_the_kind_network(on_kind: ProgramRun) -> None:
    """kind-dev's node 172.18.0.2 is the first container of kind's network
    172.18.0.0/16: its slice is the topmost block of 16, without the broadcast
    address, far from where Docker places containers (from the bottom)."""
    # `images` is held to what the pods run in tests/test_render_images.py.
    outputs = {key: value for key, value in on_kind.outputs.items() if key not in ("kubeconfig", "images")}
    assert outputs == {
        "ingressIp": "172.18.255.240",
        "ingressUrl": "http://172.18.255.240",
        "nodeIp": "172.18.0.2",
        "addressPool": "172.18.255.240-172.18.255.254",
        "kubeContext": "kind-dev",
        "istioVersion": outputs["istioVersion"],
        "sampleUrl": "http://172.18.255.240/status/200",
    }


def two_kind_clusters(root: Path) -> None:
    """`kind create cluster --name dev` (3 nodes), then `--name other`: both on kind's network."""
    add_existing_cluster(
        root,
        "kind-dev",
        server="127.0.0.1:40123",
        nodes=(
            node_object("dev-control-plane", "172.18.0.2", "8", "16Gi"),
            node_object("dev-worker", "172.18.0.3", "8", "16Gi"),
            node_object("dev-worker2", "172.18.0.4", "8", "16Gi"),
        ),
    )
    add_existing_cluster(
        root,
        "kind-other",
        server="127.0.0.1:40555",
        nodes=(node_object("other-control-plane", "172.18.0.5", "8", "16Gi"),),
    )


def test_two_kind_clusters_on_one_network_get_two_disjoint_pools_at_its_top(tmp_path: Path) -> None:
    root = tmp_path / "machine"
    two_kind_clusters(root)
    existing_config = {"cluster": "existing", "loadBalancer": "metallb"}
    with mock.patch.object(pulumi.log, "info") as info:
        dev = run_program("dev", root, {**existing_config, "kubeContext": "kind-dev"})
        other = run_program("other", root, {**existing_config, "kubeContext": "kind-other"})
    # Pre-flight says which slice each took.
    notes = [call.args[0] for call in info.call_args_list if "MetalLB's addresses" in call.args[0]]
    assert notes == [
        "local-mesh: MetalLB's addresses: 172.18.255.240-172.18.255.254, slice 0 (of 16 addresses, counted from the "
        "top) of docker network kind (172.18.0.0/16), the one of node 172.18.0.2; every container there has its own",
        "local-mesh: MetalLB's addresses: 172.18.255.192-172.18.255.207, slice 3 (of 16 addresses, counted from the "
        "top) of docker network kind (172.18.0.0/16), the one of node 172.18.0.5; every container there has its own",
    ]
    pools = [parse_address_pool(run.outputs["addressPool"]) for run in (dev, other)]
    assert [str(pool) for pool in pools] == ["172.18.255.240-172.18.255.254", "172.18.255.192-172.18.255.207"]
    assert pools[0].last < pools[1].first or pools[1].last < pools[0].first
    assert dev.outputs["ingressIp"] != other.outputs["ingressIp"]
    # Far above every container of the network.
    assert all(pool.first > IPv4Address("172.18.0.5") for pool in pools)


def test_an_explicit_pool_over_another_clusters_slice_is_refused_before_anything_is_created(tmp_path: Path) -> None:
    root = tmp_path / "machine"
    two_kind_clusters(root)
    # Istio's samples/kind-lb/setupkind.sh range, which covers kind-other's slice.
    config = {"cluster": "existing", "kubeContext": "kind-dev", "addressPool": "172.18.255.200-172.18.255.240"}
    with pytest.raises(ProgramFailedError, match="pre-flight checks failed") as failure:
        run_program("dev", root, config)
    assert failure.value.registrations == []
    (problem,) = str(failure.value).splitlines()[1:]
    # dev-worker's slice (172.18.255.224-239) is dev's own: only another cluster's counts.
    assert problem == (
        "  - local-mesh:addressPool = '172.18.255.200-172.18.255.240' is not valid: expected free addresses of "
        "docker network kind (172.18.0.0/16), which holds node 172.18.0.2 (172.18.255.200-172.18.255.240 overlaps "
        "172.18.255.192-172.18.255.207, the slice of container other-control-plane (172.18.0.5), where a "
        "local-mesh stack on its cluster takes its addresses)"
    )


def test_a_node_on_no_docker_network_of_this_host_needs_an_explicit_pool(tmp_path: Path) -> None:
    root = tmp_path / "machine"
    add_existing_cluster(
        root,
        "team-dev",
        server="10.0.0.1:6443",
        nodes=(node_object("ip-10-0-0-5", "10.0.0.5", "8", "16Gi"),),
        docker_network=None,
    )
    config = {"cluster": "existing", "kubeContext": "team-dev"}
    for preflight in ("true", "false"):
        with pytest.raises(ProgramFailedError) as failure:
            run_program("dev", root, {**config, "preflight": preflight})
        problem = str(failure.value.cause).splitlines()[-1].removeprefix("  - ")
        assert problem == (
            "local-mesh:addressPool = '' is not valid: expected free addresses on the network of node 10.0.0.5 "
            "(A.B.C.D-A.B.C.E or a CIDR), or set local-mesh:loadBalancer none: local-mesh cannot tell which are "
            "free there (no docker network of this host holds it)"
        )
    run = run_program("dev", root, {**config, "addressPool": "10.0.0.200-10.0.0.210"})
    assert run.outputs["addressPool"] == "10.0.0.200-10.0.0.210"


def test_without_docker_an_existing_cluster_still_works_with_an_explicit_pool(tmp_path: Path) -> None:
    machine = {"FAKE_DOCKER_DAEMON_DOWN": "1"}
    root = tmp_path / "machine"
    add_existing_cluster(root, "kind-dev")
    config = {"cluster": "existing", "kubeContext": "kind-dev"}
    with pytest.raises(ProgramFailedError) as failure:
        run_program("dev", root, config, machine=machine)
    assert str(failure.value).endswith(
        "local-mesh cannot tell which are free there (Docker: Cannot connect to the Docker daemon at "
        "unix:///var/run/docker.sock. Is the docker daemon running?)"
    )
    run = run_program("dev", root, {**config, "addressPool": "172.18.0.200-172.18.0.210"}, machine=machine)
    assert run.outputs["addressPool"] == "172.18.0.200-172.18.0.210"


def test_without_metallb_nothing_of_it_is_installed_and_the_ingress_waits_for_no_pool(on_cloud: ProgramRun) -> None:
    assert "metallb" not in on_cloud.releases()
    assert not [r for r in on_cloud.registrations if "metallb" in r.type or "metallb" in r.name]
    ingress = on_cloud.releases()["istio-ingressgateway"]
    assert ingress.inputs["values"]["service"]["type"] == "LoadBalancer"


def test_a_hostname_from_the_clusters_load_balancer_is_ingress_host(on_cloud: ProgramRun) -> None:
    assert "ingressIp" not in on_cloud.outputs
    assert "addressPool" not in on_cloud.outputs
    assert on_cloud.outputs["ingressHost"] == ELB
    assert on_cloud.outputs["ingressUrl"] == f"http://{ELB}"
    assert on_cloud.outputs["sampleUrl"] == f"http://{ELB}/status/200"


def test_an_ip_from_the_clusters_load_balancer_is_ingress_ip(tmp_path: Path) -> None:
    # k3d's built-in load balancer (klipper-lb) puts the node's IP in the Service's status.
    run = existing(tmp_path, "none", [{"ip": "172.19.0.3"}])
    assert "ingressHost" not in run.outputs
    assert (run.outputs["ingressIp"], run.outputs["ingressUrl"]) == ("172.19.0.3", "http://172.19.0.3")


def test_a_context_the_kubeconfig_lacks_stops_the_run_with_kubectls_words(tmp_path: Path) -> None:
    # kubectl config view --minify: "cannot locate context" (pkg/cmd/config/view.go).
    with pytest.raises(ProgramFailedError, match="cannot locate context kind-typo"):
        existing(tmp_path, kubeContext="kind-typo", preflight=False)


def test_an_api_server_that_does_not_answer_stops_the_run_with_kubectls_line_alone(tmp_path: Path) -> None:
    # With preflight off nothing asks the API server before existing-cluster-access.sh.
    root = tmp_path / "machine"
    add_existing_cluster(root, "kind-dev", server="127.0.0.1:40123", running=False)
    overrides = {"cluster": "existing", "kubeContext": "kind-dev", "preflight": False}
    with pytest.raises(ProgramFailedError) as failure:
        run_program("dev", root, overrides)
    assert str(failure.value).endswith(
        ": The connection to the server 127.0.0.1:40123 was refused - did you specify the right host or port?"
    )
    assert "Traceback" not in str(failure.value)


def test_a_multi_node_minikube_starts_every_node_and_carves_the_pool_from_the_control_planes_network(
    tmp_path: Path,
) -> None:
    run = run_program("dev", tmp_path / "machine", {"nodes": 3})
    (cluster,) = run.of_type(COMMAND)[:1]
    assert cluster.name == "minikube"
    assert cluster.inputs["environment"]["MINIKUBE_NODES"] == "3"
    assert "MINIKUBE_NODES=3" in cluster.inputs["triggers"]
    assert fake_state(tmp_path / "machine")["profiles"]["local-mesh-dev"]["nodes"] == 3
    assert (run.outputs["nodeIp"], run.outputs["addressPool"]) == ("192.168.49.2", "192.168.49.100-192.168.49.120")
    assert run.outputs["profile"] == "local-mesh-dev"


def test_a_release_of_the_same_name_is_refused_never_adopted(either: ProgramRun) -> None:
    """Helm refuses to install over a release of that name unless `replace` is
    set (components/cluster.py, ExistingCluster); no release sets it."""
    for release in either.releases().values():
        assert not release.inputs.get("replace"), release.name


def test_dashboards_are_not_routed_on_a_cluster_others_may_reach_unless_asked(
    on_kind: ProgramRun, tmp_path: Path
) -> None:
    virtual_services = "kubernetes:networking.istio.io/v1:VirtualService"
    assert "dashboards" not in [r.name for r in on_kind.of_type(virtual_services)]
    assert not [key for key in on_kind.outputs if key in ("kialiUrl", "grafanaUrl", "prometheusUrl", "jaegerUrl")]
    asked = existing(tmp_path, dashboardRoutes="on")
    assert "dashboards" in [r.name for r in asked.of_type(virtual_services)]
    assert asked.outputs["kialiUrl"] == f"http://{asked.outputs['ingressIp']}/kiali/"
