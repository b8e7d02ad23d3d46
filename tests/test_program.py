"""The real __main__.py under Pulumi's mocks, with Pulumi.yaml's defaults and
the committed Pulumi.dev.yaml: what it registers, how, in which order, and
what it exports."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from components.model.parts.grafana import GRAFANA_DASHBOARD_CONFIGMAPS, GRAFANA_REPOSITORY, GRAFANA_VERSION
from components.model.parts.istio import INGRESS_NODE_PORT, ISTIO_REPOSITORY
from components.model.parts.kiali import KIALI_REPOSITORY, KIALI_VERSION
from components.model.parts.metallb import METALLB_REPOSITORY
from components.model.parts.prometheus import PROMETHEUS_REPOSITORY, PROMETHEUS_VERSION
from harness.config import project_defaults, pulumi_project
from harness.kinds import COMMAND, PROVIDER, RELEASE
from harness.program import ProgramFailedError, ProgramRun, Registration, run_program
from harness.world import fake_state
from tests.conftest import SharedRun

MESH_RELEASES = ["istio-base", "istio-egressgateway", "istio-ingressgateway", "istiod", "metallb"]
DASHBOARD_RELEASES = ["grafana", "kiali", "prometheus"]


@pytest.fixture
def demo(shared_run: SharedRun) -> ProgramRun:
    return shared_run()


@pytest.fixture
def minimal(shared_run: SharedRun) -> ProgramRun:
    return shared_run(istioProfile="minimal")


def test_demo_installs_metallb_and_istio_with_both_gateways(demo: ProgramRun) -> None:
    assert sorted(demo.releases()) == sorted(MESH_RELEASES + DASHBOARD_RELEASES)
    kinds = sorted(r.type.split(":")[-1] for r in demo.registrations if r.custom and r.type != RELEASE)
    # Jaeger's objects, Istio's two Grafana dashboard ConfigMaps, the dashboards' route.
    dashboards = [
        *["ConfigMap", "Deployment", "Service", "Service", "Service", "Telemetry"],
        *["ConfigMap", "ConfigMap", "VirtualService"],
    ]
    # The minikube Command, MetalLB's webhook gate, the host registries' Command
    # and the local-registry-hosting ConfigMap (imageCache auto).
    assert kinds == sorted(
        [
            "Command",
            "Command",
            "Command",
            "ConfigMap",
            "Deployment",
            "Gateway",
            "IPAddressPool",
            "L2Advertisement",
            "Namespace",
            "PeerAuthentication",
            "Service",
            "ServiceAccount",
            "VirtualService",
            "kubernetes",
            *dashboards,
        ]
    )


def test_minimal_leaves_out_the_egress_gateway(minimal: ProgramRun) -> None:
    assert sorted(minimal.releases()) == sorted(
        ["istio-base", "istio-ingressgateway", "istiod", "metallb", *DASHBOARD_RELEASES]
    )
    assert "profile" not in minimal.releases()["istiod"].inputs["values"]


def test_releases_are_pinned_named_and_in_their_namespaces(demo: ProgramRun) -> None:
    # The repositories are external facts, declared and cited once (components/model/parts/);
    # tests/test_upstream.py holds them against shared/upstream's list of where they are published.
    defaults = project_defaults()
    metallb, istio = defaults["metallbVersion"], defaults["istioVersion"]
    expected = {
        "metallb": ("metallb", metallb, METALLB_REPOSITORY, "metallb-system"),
        "istio-base": ("base", istio, ISTIO_REPOSITORY, "istio-system"),
        "istiod": ("istiod", istio, ISTIO_REPOSITORY, "istio-system"),
        "istio-ingressgateway": ("gateway", istio, ISTIO_REPOSITORY, "istio-system"),
        "istio-egressgateway": ("gateway", istio, ISTIO_REPOSITORY, "istio-system"),
        "kiali": ("kiali-server", KIALI_VERSION, KIALI_REPOSITORY, "istio-system"),
        "prometheus": ("prometheus", PROMETHEUS_VERSION, PROMETHEUS_REPOSITORY, "istio-system"),
        "grafana": ("grafana", GRAFANA_VERSION, GRAFANA_REPOSITORY, "istio-system"),
    }
    for name, release in demo.releases().items():
        inputs = release.inputs
        assert (inputs["chart"], inputs["version"], inputs["repositoryOpts"]["repo"], inputs["namespace"]) == expected[
            name
        ]
        assert inputs["atomic"] is True


def test_gateway_services(demo: ProgramRun) -> None:
    assert demo.releases()["istio-ingressgateway"].inputs["values"]["service"]["type"] == "LoadBalancer"
    assert demo.releases()["istio-egressgateway"].inputs["values"]["service"]["type"] == "ClusterIP"
    assert demo.releases()["istiod"].inputs["values"]["profile"] == "demo"


def test_ingress_ip_is_what_the_gateway_service_reports(demo: ProgramRun) -> None:
    (read,) = demo.mocks.reads
    assert read.typ == "kubernetes:core/v1:Service"
    assert read.resource_id == "istio-system/istio-ingressgateway"
    assert demo.outputs["ingressIp"] == "192.168.49.100"
    assert demo.outputs["ingressUrl"] == "http://192.168.49.100"


def test_stack_outputs(demo: ProgramRun) -> None:
    # `images` is held to what the pods run in tests/test_render_images.py.
    outputs = {key: value for key, value in demo.outputs.items() if key not in ("kubeconfig", "images")}
    # The loopback port the node's container publishes, as Docker reports it (localPort 0: a free one).
    published = fake_state(Path(demo.mocks.environment["FAKE_CLI_STATE"]))["profiles"]["local-mesh-dev"]["published"]
    assert outputs.pop("localUrl") == f"http://{published[f'{INGRESS_NODE_PORT}/tcp']}/"
    assert outputs == {
        "ingressIp": "192.168.49.100",
        "ingressUrl": "http://192.168.49.100",
        "profile": "local-mesh-dev",
        "nodeIp": "192.168.49.2",
        "addressPool": "192.168.49.100-192.168.49.120",
        "kubeContext": "local-mesh-dev",
        "istioVersion": project_defaults()["istioVersion"],
        "sampleUrl": "http://192.168.49.100/status/200",
        "kialiUrl": "http://192.168.49.100/kiali/",
        "prometheusUrl": "http://192.168.49.100/prometheus/",
        "grafanaUrl": "http://192.168.49.100/grafana/",
        "jaegerUrl": "http://192.168.49.100/jaeger/",
        "registry": "localhost:5001",
    }
    kubeconfig = yaml.safe_load(demo.outputs["kubeconfig"])
    assert [context["name"] for context in kubeconfig["contexts"]] == ["local-mesh-dev"]


def test_kubeconfig_is_secret_in_outputs_and_state(demo: ProgramRun) -> None:
    assert demo.secret_outputs == {"kubeconfig"}
    (provider,) = demo.of_type(PROVIDER)
    assert provider.secret_inputs == {"kubeconfig"}
    gate = demo.named("metallb-webhook-ready")
    assert "environment" in gate.secret_inputs


def test_one_explicit_provider_from_the_profiles_kubeconfig(demo: ProgramRun) -> None:
    (provider,) = demo.of_type(PROVIDER)
    assert provider.name == "minikube"
    assert provider.inputs["context"] == "local-mesh-dev"
    assert provider.inputs["clusterIdentifier"] == "local-mesh-dev"
    assert provider.inputs["deleteUnreachable"] == "true"
    assert yaml.safe_load(provider.inputs["kubeconfig"])["current-context"] == "local-mesh-dev"
    kubernetes_resources = [r for r in demo.registrations if r.type.startswith("kubernetes:")]
    assert len(kubernetes_resources) == 27
    for resource in kubernetes_resources:
        assert resource.provider.startswith(provider.urn + "::"), resource.name
    (read,) = demo.mocks.reads
    assert str(read.provider).startswith(provider.urn + "::")


def test_default_kubernetes_provider_is_disabled_in_the_project() -> None:
    assert pulumi_project()["config"]["pulumi:disable-default-providers"] == ["kubernetes"]


def test_every_in_cluster_resource_is_deleted_with_the_cluster(demo: ProgramRun) -> None:
    cluster = demo.find(COMMAND, "minikube")
    # The host registries outlive the cluster (components/registries.py).
    on_the_host = (cluster, demo.find(COMMAND, "host-registries"))
    in_cluster = [r for r in demo.registrations if r.custom and r.type != PROVIDER and r not in on_the_host]
    assert len(in_cluster) == 28
    for resource in in_cluster:
        assert resource.deleted_with == cluster.urn, resource.name


def test_cluster_command_replaces_by_deleting_first_and_reads_config_from_environment(demo: ProgramRun) -> None:
    cluster = demo.find(COMMAND, "minikube")
    assert cluster.delete_before_replace
    assert cluster.inputs["environment"]["MINIKUBE_PROFILE"] == "local-mesh-dev"
    assert "local-mesh-dev" not in cluster.inputs["create"]
    assert "local-mesh-dev" not in cluster.inputs["delete"]
    assert "minikube delete" in cluster.inputs["delete"]
    assert sorted(cluster.inputs["triggers"]) == cluster.inputs["triggers"]


def test_istio_order_and_metallb_in_parallel(demo: ProgramRun) -> None:
    by_name = demo.releases()
    pool, advertisement = demo.named("address-pool"), demo.named("l2-advertisement")
    assert demo.depends_on(by_name["istiod"], by_name["istio-base"])
    for gateway in ("istio-ingressgateway", "istio-egressgateway"):
        assert demo.depends_on(by_name[gateway], by_name["istiod"])
    assert demo.depends_on(by_name["istio-ingressgateway"], pool)
    assert demo.depends_on(by_name["istio-ingressgateway"], advertisement)
    assert not demo.depends_on(by_name["istio-egressgateway"], pool)
    for istio in ("istio-base", "istiod"):
        assert not demo.depends_on(by_name["metallb"], by_name[istio])
        assert not demo.depends_on(by_name[istio], by_name["metallb"])


def test_pool_waits_for_the_webhook_gate_which_waits_for_metallb(demo: ProgramRun) -> None:
    gate = demo.named("metallb-webhook-ready")
    assert demo.depends_on(gate, demo.releases()["metallb"])
    for name in ("address-pool", "l2-advertisement"):
        assert demo.depends_on(demo.named(name), gate)
    assert demo.named("address-pool").inputs["spec"] == {"addresses": ["192.168.49.100-192.168.49.120"]}
    assert demo.named("l2-advertisement").inputs["spec"] == {"ipAddressPools": ["local-mesh"]}


def test_components_parent_their_children(demo: ProgramRun) -> None:
    components = {r.name: r for r in demo.registrations if not r.custom}
    assert {name: r.type for name, r in components.items()} == {
        # One cluster's mesh, named after its kube context, owns the others.
        "local-mesh-dev": "local-mesh:mesh:LocalMesh",
        "cluster": "local-mesh:cluster:MinikubeCluster",
        "metallb": "local-mesh:metallb:MetalLB",
        "istio": "local-mesh:istio:Istio",
        "sample": "local-mesh:sample:Sample",
        "observability": "local-mesh:observability:Observability",
    }
    expected_parent = {
        "minikube": "cluster",
        "host-registries": "cluster",
        "local-registry-hosting": "cluster",
        "metallb": "metallb",
        "metallb-webhook-ready": "metallb",
        "address-pool": "metallb",
        "l2-advertisement": "metallb",
        "istio-base": "istio",
        "istiod": "istio",
        "istio-ingressgateway": "istio",
        "istio-egressgateway": "istio",
        "mesh-mtls": "istio",
        "httpbin": "sample",
        "mesh-gateway": "istio",
        "dashboards": "observability",
        **{release: "observability" for release in DASHBOARD_RELEASES},
        **{name: "observability" for name in ("jaeger", "tracing", "zipkin", "jaeger-collector", "mesh-tracing")},
        **{configmap: "observability" for configmap in GRAFANA_DASHBOARD_CONFIGMAPS.values()},
    }
    mesh = components.pop("local-mesh-dev")
    assert mesh.parent.split("::")[2] == "pulumi:pulumi:Stack"
    for name, owned in components.items():
        assert owned.parent == mesh.urn, name
    for resource in demo.registrations:
        if resource.custom:
            component = expected_parent.get(resource.name, "sample" if resource.type != PROVIDER else "cluster")
            assert resource.parent == components[component].urn, (resource.type, resource.name)


def sample_resources(run: ProgramRun) -> dict[str, Registration]:
    sample = [r for r in run.registrations if r.type == "local-mesh:sample:Sample"]
    return {r.type.split(":")[-1]: r for r in run.registrations if sample and r.parent == sample[0].urn}


def test_sample_namespace_injects_sidecars_and_runs_istios_httpbin(demo: ProgramRun) -> None:
    sample = sample_resources(demo)
    assert sorted(sample) == ["Deployment", "Namespace", "Service", "ServiceAccount", "VirtualService"]
    assert sample["Namespace"].inputs["metadata"] == {"name": "sample", "labels": {"istio-injection": "enabled"}}
    (container,) = sample["Deployment"].inputs["spec"]["template"]["spec"]["containers"]
    # Through the host's cache: the dev stack is local-mesh's minikube (imageCache auto).
    assert container["image"] == "local-mesh-cache-docker-io:5000/mccutchen/go-httpbin:v2.15.0"
    assert container["ports"] == [{"containerPort": 8080}]
    assert sample["Service"].inputs["spec"]["ports"] == [{"name": "http", "port": 8000, "targetPort": 8080}]
    for resource in sample.values():
        # istiod's webhook injects the sidecar and istio-base brings the CRDs;
        # the ingress gateway rolls out meanwhile, off the sample's path.
        assert demo.depends_on(resource, demo.releases()["istiod"]), resource.name
        for unneeded in ("istio-ingressgateway", "metallb"):
            assert not demo.depends_on(resource, demo.releases()[unneeded]), (resource.name, unneeded)
        if resource.type != "kubernetes:core/v1:Namespace":
            assert resource.inputs["metadata"]["namespace"] == "sample"
            assert demo.depends_on(resource, sample["Namespace"]), resource.name


def test_the_mesh_gateway_selects_the_ingress_gateway_and_the_sample_routes_to_httpbin(demo: ProgramRun) -> None:
    sample = sample_resources(demo)
    gateway, route = demo.named("mesh-gateway").inputs, sample["VirtualService"].inputs
    assert gateway["apiVersion"] == route["apiVersion"] == "networking.istio.io/v1"
    assert gateway["spec"]["selector"] == {"istio": "ingressgateway"}
    assert gateway["spec"]["servers"][0]["port"]["number"] == 80
    assert route["spec"]["gateways"] == [f"{gateway['metadata']['namespace']}/{gateway['metadata']['name']}"]
    (http,) = route["spec"]["http"]
    assert http["route"][0]["destination"]["host"] == "httpbin.sample.svc.cluster.local"
    assert http["route"][0]["destination"]["port"]["number"] == 8000


def test_sample_false_leaves_the_sample_out(shared_run: SharedRun) -> None:
    run = shared_run(sample=False)
    assert sample_resources(run) == {}
    assert "sampleUrl" not in run.outputs
    assert run.outputs["ingressIp"] == "192.168.49.100"


def test_two_stacks_get_separate_clusters_contexts_and_pools(tmp_path: Path) -> None:
    # Two developers' stacks on one laptop: the stand-in minikube gives the
    # second profile the next docker network, as the real one does.
    first = run_program("dev", tmp_path)
    second = run_program("alice", tmp_path)
    assert (first.outputs["profile"], second.outputs["profile"]) == ("local-mesh-dev", "local-mesh-alice")
    assert (first.outputs["kubeContext"], second.outputs["kubeContext"]) == ("local-mesh-dev", "local-mesh-alice")
    assert second.outputs["nodeIp"] == "192.168.58.2"
    assert second.outputs["addressPool"] == "192.168.58.100-192.168.58.120"
    assert second.outputs["ingressIp"] == "192.168.58.100"


def test_an_explicit_pool_outside_the_node_subnet_fails_the_run(tmp_path: Path) -> None:
    with pytest.raises(
        Exception, match=r"192.168.50.100-192.168.50.120 is not inside the node's subnet 192.168.49.0/24"
    ):
        run_program("dev", tmp_path, {"addressPool": "192.168.50.100-192.168.50.120"})


def test_bad_config_registers_nothing(tmp_path: Path) -> None:
    # An integer (the CLI's own type check lets it through) the program refuses.
    with pytest.raises(ProgramFailedError, match=r"local-mesh:cpus = '1' is not valid") as failure:
        run_program("dev", tmp_path, {"cpus": "1"})
    assert failure.value.registrations == []
    assert not (tmp_path / "state.json").exists()


def test_a_misspelled_key_registers_nothing_and_names_the_right_one(tmp_path: Path) -> None:
    with pytest.raises(ProgramFailedError, match=r"did you mean local-mesh:istioProfile\?") as failure:
        run_program("dev", tmp_path, {"local-mesh:istioProfle": "minimal"})
    assert failure.value.registrations == []


def test_first_preview_creates_nothing_and_reads_nothing(tmp_path: Path) -> None:
    preview = run_program("dev", tmp_path, preview=True)
    assert preview.mocks.commands_run == []
    assert preview.mocks.reads == []
    assert sorted(preview.releases()) == sorted(MESH_RELEASES + DASHBOARD_RELEASES)


def test_a_gateway_service_without_an_address_is_a_clear_error() -> None:
    from pulumi_kubernetes.core.v1.outputs import LoadBalancerIngress, LoadBalancerStatus, ServiceStatus

    from components.istio import IngressAddress, load_balancer_address

    def status(ingress: LoadBalancerIngress) -> ServiceStatus:
        return ServiceStatus(load_balancer=LoadBalancerStatus(ingress=[ingress]))

    ip = status(LoadBalancerIngress(ip="192.168.49.100"))
    assert load_balancer_address(ip) == IngressAddress("192.168.49.100", None)
    elb = "a1b2-123.eu-west-1.elb.amazonaws.com"
    assert load_balancer_address(status(LoadBalancerIngress(hostname=elb))) == IngressAddress(None, elb)
    assert load_balancer_address(status(LoadBalancerIngress(hostname=elb))).host == elb
    for empty in (None, ServiceStatus(), ServiceStatus(load_balancer=LoadBalancerStatus(ingress=[]))):
        with pytest.raises(ValueError, match="istio-ingressgateway has no LoadBalancer address: with loadBalancer"):
            load_balancer_address(empty)


@pytest.mark.parametrize("level", ["full", "kiali", "none"])
def test_the_dashboards_wait_for_istiod_and_nothing_on_the_way_to_the_ingress_waits_for_them(
    shared_run: SharedRun, level: str
) -> None:
    run = shared_run(observability=level)
    releases = run.releases()
    dashboards = sorted(name for name in releases if name not in MESH_RELEASES)
    assert dashboards == {"full": DASHBOARD_RELEASES, "kiali": ["kiali", "prometheus"], "none": []}[level]
    for name in dashboards:
        assert run.depends_on(releases[name], releases["istiod"]), name
        for mesh in MESH_RELEASES:
            assert not run.depends_on(releases[mesh], releases[name]), (mesh, name)


def test_observability_none_leaves_the_mesh_as_it_was(shared_run: SharedRun, demo: ProgramRun) -> None:
    """Everything but the dashboards registers the same with and without them
    (the stand-in minikube stamps each kubeconfig with the time it wrote it)."""
    bare = shared_run(observability="none")
    observability = [r.urn for r in demo.registrations if r.name == "observability" and not r.custom]

    def shape(run: ProgramRun, skip: list[str]) -> list[tuple[str, str, str]]:
        return sorted(
            (r.type, r.name, re.sub(r"last-update: [^\\]*", "", yaml.safe_dump(r.inputs, sort_keys=True)))
            for r in run.registrations
            if r.parent not in skip and r.urn not in skip
        )

    assert shape(bare, []) == shape(demo, observability)
    assert sorted(bare.releases()) == MESH_RELEASES


@pytest.mark.parametrize(
    ("level", "outputs"),
    [
        ("full", ["grafanaUrl", "jaegerUrl", "kialiUrl", "prometheusUrl"]),
        ("kiali", ["kialiUrl", "prometheusUrl"]),
        ("none", []),
    ],
)
def test_dashboard_urls_are_outputs_only_for_what_is_installed(
    shared_run: SharedRun, level: str, outputs: list[str]
) -> None:
    run = shared_run(observability=level)
    assert (
        sorted(key for key in run.outputs if key.endswith("Url") and key not in ("ingressUrl", "sampleUrl", "localUrl"))
        == outputs
    )
