"""The same mesh on a cluster the user already has (`cluster: existing`, with
MetalLB or the cluster's own load balancer) and on a multi-node minikube: the
real __main__.py under Pulumi's mocks, against the stand-in kubectl."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.shell import script
from tests.conftest import SharedRun
from tests.harness import (
    CLUSTER_LOAD_BALANCER,
    ProgramFailedError,
    ProgramRun,
    add_existing_cluster,
    fake_state,
    run_program,
)

PROVIDER = "pulumi:providers:kubernetes"
COMMAND = "command:local:Command"
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
    assert [args["command"] for args in either.mocks.invokes] == [script("existing-cluster-access.sh")]
    root = Path(either.mocks.environment["FAKE_CLI_STATE"])
    assert {call[0] for call in fake_state(root)["calls"]} == {"kubectl"}


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


def test_with_metallb_the_pool_is_carved_from_the_first_nodes_network(on_kind: ProgramRun) -> None:
    outputs = {key: value for key, value in on_kind.outputs.items() if key != "kubeconfig"}
    assert outputs == {
        "ingressIp": "172.18.0.100",
        "ingressUrl": "http://172.18.0.100",
        "nodeIp": "172.18.0.2",
        "addressPool": "172.18.0.100-172.18.0.120",
        "kubeContext": "kind-dev",
        "istioVersion": outputs["istioVersion"],
        "sampleUrl": "http://172.18.0.100/status/200",
    }


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
