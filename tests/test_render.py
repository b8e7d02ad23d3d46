"""The release plan rendered with the real charts (shared/upstream: Istio
1.31.0-rc.0's charts, MetalLB 0.16.1's), for every istioProfile x resources:
what the cluster would run, not which keys exist. Every value the plan sets
must change what the chart renders, and the plan's pod requests must be what
the rendered pods ask for."""

from __future__ import annotations

import copy
import json
from typing import Any

import helm_python
import pytest
import yaml

from components.model.parts.grafana import GRAFANA_DASHBOARD_CONFIGMAPS, GRAFANA_PATH, GRAFANA_PORT
from components.model.parts.istio import EGRESS_RELEASE, INGRESS_RELEASE, LEAN_ISTIOD
from components.model.parts.jaeger import JAEGER_QUERY_URL
from components.model.parts.kiali import KIALI_PATH, KIALI_PORT, kiali_signing_key
from components.model.parts.metallb import METALLB_NAMESPACE
from components.model.parts.prometheus import PROMETHEUS_PATH, PROMETHEUS_PORT, PROMETHEUS_URL
from components.model.parts.sample import HTTPBIN_LABELS, sample_namespace_labels
from components.model.plan import ClusterState, Plan, release_plan
from components.model.release import ChartRelease, Requests, parse_memory_quantity, requests_of
from components.model.settings import CNI_PLATFORMS
from harness.config import EVERY_COMBINATION, settings_for
from harness.world import ISTIO_ADDONS_DATA, upstream
from tests.upstream import Object, comparable, leaf_paths, render, schema_problems, without_value

IDS = [f"{profile}-{resources}" for profile, resources in EVERY_COMBINATION]
WORKLOAD_KINDS = ("Deployment", "DaemonSet")


@pytest.fixture(scope="module", params=EVERY_COMBINATION, ids=IDS)
def combination(request: pytest.FixtureRequest) -> tuple[str, str]:
    return request.param


@pytest.fixture(scope="module")
def plan(combination: tuple[str, str]) -> Plan:
    return release_plan(settings_for(*combination))


def of_kind(objects: list[Object], kind: str) -> list[Object]:
    return [item for item in objects if item["kind"] == kind]


def one(objects: list[Object], kind: str, name: str | None = None) -> Object:
    (found,) = [item for item in of_kind(objects, kind) if name is None or item["metadata"]["name"] == name]
    return found


def pod_requests(pod_spec: dict[str, Any]) -> Requests:
    """As the scheduler counts a pod: the sum of its containers, or its largest
    init container if that is larger (each resource on its own)."""
    containers = [requests_of(c.get("resources")) for c in pod_spec["containers"]]
    init = [requests_of(c.get("resources")) for c in pod_spec.get("initContainers") or []]
    running = Requests(sum(c.cpu_millis for c in containers), sum(c.memory_mib for c in containers))
    return Requests(
        max([running.cpu_millis, *(c.cpu_millis for c in init)]),
        max([running.memory_mib, *(c.memory_mib for c in init)]),
    )


def selects(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """Kubernetes label-selector semantics (matchLabels and matchExpressions)."""
    selector = selector or {}
    if any(labels.get(key) != value for key, value in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values") or []
        matched = {
            "In": key in labels and labels[key] in values,
            "NotIn": labels.get(key) not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[operator]
        if not matched:
            return False
    return True


def injected(plan: Plan, namespace: str, namespace_labels: dict[str, str], pod_labels: dict[str, str]) -> bool:
    """Whether istiod's rendered injection webhook would give this pod a sidecar.
    The API server labels every namespace with kubernetes.io/metadata.name."""
    labels = {**namespace_labels, "kubernetes.io/metadata.name": namespace}
    webhooks = one(render(plan.release("istiod")), "MutatingWebhookConfiguration")["webhooks"]
    return any(
        selects(hook.get("namespaceSelector"), labels) and selects(hook.get("objectSelector"), pod_labels)
        for hook in webhooks
    )


# --- what the pods request: the plan and the footprint read the same numbers ---


def test_the_plans_pods_are_what_the_charts_render(plan: Plan) -> None:
    for release in plan.releases:
        rendered = {
            item["metadata"]["name"]: (item["kind"], pod_requests(item["spec"]["template"]["spec"]))
            for item in render(release)
            if item["kind"] in WORKLOAD_KINDS
        }
        assert rendered == {pod.workload: (pod.kind, pod.requests) for pod in release.pods}, release.name


def test_the_plan_knows_which_pods_surge_on_upgrade(plan: Plan) -> None:
    """The footprint reserves room for one surging pod: a rolling update that
    starts the new pod before the old one stops (maxSurge above 0)."""
    surging: dict[str, bool] = {}
    for release in plan.releases:
        for item in render(release):
            if item["kind"] not in WORKLOAD_KINDS:
                continue
            strategy = item["spec"].get("strategy") or item["spec"].get("updateStrategy") or {}
            rolling = strategy.get("rollingUpdate") or {}
            # Kubernetes' defaults (apps/v1): Deployment maxSurge 25%, DaemonSet maxSurge 0.
            surge = str(rolling.get("maxSurge", "25%" if item["kind"] == "Deployment" else "0"))
            # Recreate stops the old pod before it starts the new one: no surge.
            if strategy.get("type") == "Recreate":
                surge = "0"
            surging[item["metadata"]["name"]] = surge not in ("0", "0%")
    assert surging == {pod.workload: pod.surges for release in plan.releases for pod in release.pods}


def test_the_sidecar_requests_are_what_istiods_injector_gives(plan: Plan) -> None:
    injector = one(render(plan.release("istiod")), "ConfigMap", "istio-sidecar-injector")
    proxy = json.loads(injector["data"]["values"])["global"]["proxy"]["resources"]
    if plan.ambient:
        assert plan.sidecar is None
    else:
        assert plan.sidecar == requests_of(proxy)


# --- gateways ---


def test_gateway_services_are_named_labelled_and_typed_after_the_release(plan: Plan) -> None:
    gateways = [release for release in plan.releases if release.chart == "gateway"]
    assert [release.name for release in gateways] == (
        [INGRESS_RELEASE, EGRESS_RELEASE] if EGRESS_RELEASE in {r.name for r in plan.releases} else [INGRESS_RELEASE]
    )
    for release in gateways:
        service = one(render(release), "Service")
        assert service["metadata"]["name"] == release.name
        assert service["metadata"]["labels"]["istio"] == release.name.removeprefix("istio-")
        assert service["spec"]["type"] == ("LoadBalancer" if release.name == INGRESS_RELEASE else "ClusterIP")
        ports = {port["port"]: port["targetPort"] for port in service["spec"]["ports"]}
        # The sample's Gateway listens on 80; the gateway pod listens on the Service's port itself.
        assert ports == {15021: 15021, 80: 80, 443: 443}


def test_gateway_pods_get_their_proxy_from_istiods_injector(plan: Plan) -> None:
    for release in plan.releases:
        if release.chart != "gateway":
            continue
        template = one(render(release), "Deployment")["spec"]["template"]
        assert [container["image"] for container in template["spec"]["containers"]] == ["auto"]
        assert injected(plan, release.namespace, {}, template["metadata"]["labels"]), release.name


def test_lean_runs_one_replica_of_each_control_plane_pod_without_autoscaling(
    combination: tuple[str, str], plan: Plan
) -> None:
    _, resources = combination
    for release in plan.releases:
        if release.chart in ("gateway", "istiod") and resources == "lean":
            objects = render(release)
            assert of_kind(objects, "HorizontalPodAutoscaler") == [], release.name
            assert one(objects, "Deployment")["spec"]["replicas"] == 1, release.name


# --- istiod ---


def discovery_environment(plan: Plan) -> dict[str, str]:
    (container,) = one(render(plan.release("istiod")), "Deployment")["spec"]["template"]["spec"]["containers"]
    return {variable["name"]: variable.get("value") for variable in container.get("env", [])}


@pytest.mark.parametrize("resources", ["lean", "istio"])
def test_demo_renders_access_logs_and_full_trace_sampling(resources: str) -> None:
    plan = release_plan(settings_for("demo", resources))
    mesh = one(render(plan.release("istiod")), "ConfigMap", "istio")["data"]["mesh"]
    assert "accessLogFile: /dev/stdout" in mesh.splitlines()
    assert discovery_environment(plan)["PILOT_TRACE_SAMPLING"] == "100"


def test_ambient_renders_istiods_ambient_mode(plan: Plan) -> None:
    assert (discovery_environment(plan).get("PILOT_ENABLE_AMBIENT") == "true") == plan.ambient


# --- ambient's node agents ---


def test_ambient_cni_uses_dockers_netns_dir_and_ambient_redirection(plan: Plan) -> None:
    if not plan.ambient:
        assert {release.chart for release in plan.releases}.isdisjoint({"cni", "ztunnel"})
        return
    objects = render(plan.release("istio-cni"))
    volumes = one(objects, "DaemonSet")["spec"]["template"]["spec"]["volumes"]
    (netns,) = [volume for volume in volumes if volume["name"] == "cni-netns-dir"]
    assert netns["hostPath"]["path"] == "/var/run/docker/netns"
    assert one(objects, "ConfigMap", "istio-cni-config")["data"]["AMBIENT_ENABLED"] == "true"


def test_on_an_existing_cluster_ambient_keeps_the_charts_netns_dir() -> None:
    """Docker's netns dir is right only for local-mesh's own minikube, which it
    starts with the docker runtime; kind, k3d and cloud clusters run containerd."""
    plan = release_plan(settings_for("ambient", cluster="existing", kubeContext="kind-dev"))
    volumes = one(render(plan.release("istio-cni")), "DaemonSet")["spec"]["template"]["spec"]["volumes"]
    (netns,) = [volume for volume in volumes if volume["name"] == "cni-netns-dir"]
    assert netns["hostPath"]["path"] == "/var/run/netns"


# Where each platform istio-cni can be given keeps CNI config, binaries and pod
# network namespaces (istio-cni files/profile-platform-*.yaml, Istio 1.31; the
# chart's values.yaml defaults for what a profile leaves alone). GKE's profile
# leaves the binary dir to the chart's check of the server's version for
# `-gke` (templates/daemonset.yaml), which a render here (v1.36.0) does not have.
CNI_DIRECTORIES = {
    None: ("/etc/cni/net.d", "/opt/cni/bin", "/var/run/netns"),
    "k3s": ("/var/lib/rancher/k3s/agent/etc/cni/net.d", "/var/lib/rancher/k3s/data/cni", "/var/run/netns"),
    "k3d": ("/var/lib/rancher/k3s/agent/etc/cni/net.d", "/bin", "/var/run/netns"),
    "gke": ("/etc/cni/net.d", "/opt/cni/bin", "/var/run/netns"),
    "microk8s": (
        "/var/snap/microk8s/current/args/cni-network",
        "/var/snap/microk8s/current/opt/cni/bin",
        "/var/run/netns",
    ),
    "minikube": ("/etc/cni/net.d", "/opt/cni/bin", "/var/run/docker/netns"),
    "openshift": ("/etc/cni/multus/net.d", "/var/lib/cni/bin", "/var/run/netns"),
}


@pytest.mark.parametrize("platform", [None, *CNI_PLATFORMS], ids=["none", *CNI_PLATFORMS])
def test_every_platform_the_program_can_choose_renders_its_cni_directories(platform: str | None) -> None:
    """Detected from the nodes (platform: auto) or set with the key, each
    platform's istio-cni DaemonSet mounts that distribution's directories, and
    every object it renders validates."""
    existing = {"cluster": "existing", "kubeContext": "dev", "loadBalancer": "none"}
    detected = release_plan(settings_for("ambient", **existing), ClusterState(platform=platform))
    chosen = release_plan(settings_for("ambient", **existing, platform=platform or "none"))
    assert detected.release("istio-cni").values == chosen.release("istio-cni").values
    objects = render(detected.release("istio-cni"))
    volumes = {
        volume["name"]: volume["hostPath"]["path"]
        for volume in one(objects, "DaemonSet")["spec"]["template"]["spec"]["volumes"]
        if "hostPath" in volume
    }
    assert (volumes["cni-net-dir"], volumes["cni-bin-dir"], volumes["cni-netns-dir"]) == CNI_DIRECTORIES[platform]
    # GKE admits node-critical pods outside kube-system only under a ResourceQuota.
    assert bool(of_kind(objects, "ResourceQuota")) == (platform == "gke")
    # OpenShift's profile adds Multus's NetworkAttachmentDefinition, whose CRD
    # (k8s.cni.cncf.io) shared/upstream does not hold: not validated here.
    validated = [item for item in objects if item["kind"] != "NetworkAttachmentDefinition"]
    assert len(validated) == len(objects) - (platform == "openshift")
    assert [problem for item in validated for problem in schema_problems(item)] == []


def test_the_sample_joins_the_mesh_the_way_the_profile_says(plan: Plan) -> None:
    """Sidecar profiles: istiod's webhook injects the sample's pods. Ambient:
    no sidecar, and istio-cni's selector takes the namespace in."""
    labels = sample_namespace_labels(plan.ambient)
    assert injected(plan, "sample", labels, HTTPBIN_LABELS) is not plan.ambient
    if plan.ambient:
        config = one(render(plan.release("istio-cni")), "ConfigMap", "istio-cni-config")["data"]
        selectors = yaml.safe_load(config["AMBIENT_ENABLEMENT_SELECTOR"])
        assert any(
            selects(entry.get("namespaceSelector"), labels) and selects(entry.get("podSelector"), HTTPBIN_LABELS)
            for entry in selectors
        )


# --- MetalLB ---


def metallb(plan: Plan) -> list[Object]:
    (release,) = plan.mesh_releases(METALLB_NAMESPACE)
    return render(release)


def test_metallb_speaker_answers_for_the_control_plane_node_with_l2_only(plan: Plan) -> None:
    objects = metallb(plan)
    speaker = one(objects, "DaemonSet", "metallb-speaker")["spec"]["template"]["spec"]
    assert [container["name"] for container in speaker["containers"]] == ["speaker"]
    assert "--ignore-exclude-lb" in speaker["containers"][0]["args"]
    frr = [item for item in objects if "frr" in json.dumps(item).lower() and item["kind"] != "CustomResourceDefinition"]
    assert frr == []


def test_the_webhook_gate_probes_the_path_the_pool_takes(plan: Plan) -> None:
    """The gate dry-runs an IPAddressPool: MetalLB's validating webhook for
    ipaddresspools must be served by a Service that reaches the controller."""
    objects = metallb(plan)
    (hook,) = [
        hook
        for hook in one(objects, "ValidatingWebhookConfiguration")["webhooks"]
        if any("ipaddresspools" in rule["resources"] for rule in hook["rules"])
    ]
    (rule,) = hook["rules"]
    assert (rule["apiGroups"], rule["apiVersions"], "CREATE" in rule["operations"]) == (
        ["metallb.io"],
        ["v1beta1"],
        True,
    )
    reference = hook["clientConfig"]["service"]
    service = one(objects, "Service", reference["name"])
    assert reference["namespace"] == METALLB_NAMESPACE
    controller = one(objects, "Deployment", "metallb-controller")["spec"]["template"]
    assert selects({"matchLabels": service["spec"]["selector"]}, controller["metadata"]["labels"])
    container_ports = {port["containerPort"] for c in controller["spec"]["containers"] for port in c.get("ports", [])}
    assert {port["targetPort"] for port in service["spec"]["ports"]} <= container_ports


# --- no dead values ---


def dead_values(release: ChartRelease) -> list[str]:
    """The values that render exactly as if they were not set."""
    rendered = comparable(render(release))
    return [
        path
        for path in leaf_paths(release.values)
        if comparable(render(release, without_value(release.values, path))) == rendered
    ]


def test_every_value_changes_what_the_chart_renders_or_says_why_it_is_pinned(plan: Plan) -> None:
    for release in plan.releases:
        unexplained = [path for path in dead_values(release) if path not in release.pinned]
        assert unexplained == [], release.name
        assert set(release.pinned) <= set(leaf_paths(release.values)), release.name


def test_a_dead_or_misspelled_value_is_caught() -> None:
    plan = release_plan(settings_for("minimal", "lean"))
    istiod = plan.release("istiod")
    top_level_copy = {**istiod.values, "autoscaleEnabled": False, "resources": copy.deepcopy(LEAN_ISTIOD)}
    assert dead_values(ChartRelease(**{**istiod.__dict__, "values": top_level_copy})) == [
        "autoscaleEnabled",
        "resources.requests.cpu",
        "resources.requests.memory",
        "resources.limits.cpu",
        "resources.limits.memory",
    ]
    (metallb,) = plan.mesh_releases(METALLB_NAMESPACE)
    misspelled = {**metallb.values, "speaker": {**metallb.values["speaker"], "ignoreExcludeLb": True}}
    assert dead_values(ChartRelease(**{**metallb.__dict__, "values": misspelled})) == ["speaker.ignoreExcludeLb"]
    # The gateway chart has a values schema: Helm refuses a misspelled key outright.
    gateway = plan.release(INGRESS_RELEASE)
    with pytest.raises(helm_python.errors.HelmValuesError, match="replicaCont"):
        render(gateway, {**gateway.values, "replicaCont": 2})


# --- the observability addons ---


@pytest.fixture(scope="module")
def full_lean() -> Plan:
    return release_plan(settings_for("demo", "lean", observability="full"))


def every_container(objects: list[Object]) -> list[dict[str, Any]]:
    specs = [item["spec"]["template"]["spec"] for item in objects if item["kind"] in WORKLOAD_KINDS]
    return [c for spec in specs for c in [*spec.get("initContainers", []), *spec["containers"]]]


def container_args(objects: list[Object], workload: str) -> list[str]:
    spec = one(objects, "Deployment", workload)["spec"]["template"]["spec"]
    return [arg for container in spec["containers"] for arg in container.get("args") or []]


@pytest.mark.parametrize(
    ("release", "service", "port"),
    [
        ("kiali", "kiali", KIALI_PORT),
        ("prometheus", "prometheus", PROMETHEUS_PORT),
        ("grafana", "grafana", GRAFANA_PORT),
    ],
)
def test_each_dashboard_answers_on_the_service_and_port_the_others_expect(
    full_lean: Plan, release: str, service: str, port: int
) -> None:
    objects = render(full_lean.release(release))
    ports = [entry["port"] for entry in one(objects, "Service", service)["spec"]["ports"]]
    assert port in ports
    # Out of the mesh, as Istio runs its addons: Prometheus scrapes sidecars over plain HTTP.
    for item in of_kind(objects, "Deployment"):
        assert item["spec"]["template"]["metadata"]["labels"]["sidecar.istio.io/inject"] == "false"


def test_under_lean_every_addon_container_has_requests_and_limits(full_lean: Plan) -> None:
    for release in ("kiali", "prometheus", "grafana"):
        for container in every_container(render(full_lean.release(release))):
            resources = container.get("resources") or {}
            assert set(resources.get("requests") or {}) == {"cpu", "memory"}, (release, container["name"])
            assert set(resources.get("limits") or {}) == {"cpu", "memory"}, (release, container["name"])


def test_kiali_is_view_only_and_keeps_its_signing_key_per_stack(full_lean: Plan) -> None:
    objects = render(full_lean.release("kiali"))
    # view_only_mode swaps the ClusterRole that changes Istio and workload
    # objects for a read-only one (port-forwards and token reviews aside).
    changing = {"patch", "update", "delete", "deletecollection"}

    def verbs(values: dict[str, Any]) -> set[str]:
        (role,) = of_kind(render(full_lean.release("kiali"), values), "ClusterRole")
        return {verb for rule in role["rules"] for verb in rule["verbs"]}

    values = full_lean.release("kiali").values
    assert verbs(values).isdisjoint(changing)
    read_write = {**values, "deployment": {**values["deployment"], "view_only_mode": False}}
    assert verbs(read_write) & changing
    config = yaml.safe_load(one(objects, "ConfigMap", "kiali")["data"]["config.yaml"])
    assert config["deployment"]["view_only_mode"] is True
    key = config["login_token"]["signing_key"]
    assert len(key.encode()) in (16, 24, 32)  # kiali.io, "Session options"
    assert key == kiali_signing_key("local-mesh-dev") != kiali_signing_key("local-mesh-other")
    assert config["external_services"]["prometheus"]["url"] == PROMETHEUS_URL
    assert config["server"]["web_root"] == KIALI_PATH


def test_prometheus_serves_under_its_prefix_and_keeps_hours_on_a_bounded_volume(full_lean: Plan) -> None:
    objects = render(full_lean.release("prometheus"))
    args = container_args(objects, "prometheus")
    assert f"--web.route-prefix={PROMETHEUS_PATH}" in args
    assert any(arg.startswith("--web.external-url=") and arg.endswith(PROMETHEUS_PATH) for arg in args)
    assert f"--reload-url=http://127.0.0.1:{PROMETHEUS_PORT}{PROMETHEUS_PATH}/-/reload" in args
    (retention,) = [arg.split("=", 1)[1] for arg in args if arg.startswith("--storage.tsdb.retention.time=")]
    assert retention.endswith("h") and int(retention[:-1]) <= 24
    assert "--storage.tsdb.retention.size=256MB" in args
    volumes = one(objects, "Deployment", "prometheus")["spec"]["template"]["spec"]["volumes"]
    (storage,) = [volume for volume in volumes if "emptyDir" in volume]
    assert parse_memory_quantity(storage["emptyDir"]["sizeLimit"]) * 1024**2 > 256 * 1000**2
    config = yaml.safe_load(one(objects, "ConfigMap", "prometheus")["data"]["prometheus.yml"])
    # As often as Istio's own values-prometheus.yaml asks (15 s): the dashboards'
    # rates over short windows would be empty with the chart's one sample a minute.
    istio_values = yaml.safe_load(upstream(f"{ISTIO_ADDONS_DATA}/manifests-addons/values-prometheus.yaml").read_text())
    assert config["global"]["scrape_interval"] == istio_values["server"]["global"]["scrape_interval"]
    # Prometheus scrapes itself under the prefix too.
    scrape = config["scrape_configs"]
    (self_scrape,) = [job for job in scrape if job["job_name"] == "prometheus"]
    assert self_scrape["metrics_path"] == f"{PROMETHEUS_PATH}/metrics"


def test_grafana_links_carry_its_sub_path_anonymous_users_only_view_and_it_reads_istios_dashboards_from_disk(
    full_lean: Plan,
) -> None:
    objects = render(full_lean.release("grafana"))
    config = one(objects, "ConfigMap", "grafana")["data"]
    ini = config["grafana.ini"]
    assert f"root_url = %(protocol)s://%(domain)s{GRAFANA_PATH}/" in ini.splitlines()
    anonymous = ini.split("[auth.anonymous]", 1)[1].split("[", 1)[0]
    assert {"enabled = true", "org_role = Viewer"} <= set(anonymous.splitlines())
    # Nothing is downloaded at start: no script, no init container.
    assert "download_dashboards.sh" not in config
    pod = one(objects, "Deployment", "grafana")["spec"]["template"]["spec"]
    assert pod.get("initContainers", []) == []
    # Each provider reads its folder, where the pod mounts Istio's ConfigMap of that provider, as Istio's own
    # values-grafana.yaml does.
    istio_values = yaml.safe_load(upstream(f"{ISTIO_ADDONS_DATA}/manifests-addons/values-grafana.yaml").read_text())
    assert istio_values["dashboardsConfigMaps"] == GRAFANA_DASHBOARD_CONFIGMAPS
    providers = yaml.safe_load(config["dashboardproviders.yaml"])["providers"]
    folders = {provider["options"]["path"] for provider in providers}
    volumes = {volume["name"]: volume.get("configMap", {}).get("name") for volume in pod["volumes"]}
    (grafana,) = pod["containers"]
    mounted = {mount["mountPath"]: volumes[mount["name"]] for mount in grafana["volumeMounts"]}
    assert {folder: mounted.get(folder) for folder in folders} == {
        f"/var/lib/grafana/dashboards/{provider}": name for provider, name in GRAFANA_DASHBOARD_CONFIGMAPS.items()
    }
    datasources = yaml.safe_load(config["datasources.yaml"])["datasources"]
    assert {source["url"] for source in datasources} == {
        f"http://prometheus:{PROMETHEUS_PORT}{PROMETHEUS_PATH}",
        JAEGER_QUERY_URL,
    }


def grafana_ini(text: str) -> dict[str, dict[str, str]]:
    sections: dict[str, dict[str, str]] = {}
    section = ""
    for line in text.splitlines():
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
        elif " = " in line:
            key, value = line.split(" = ", 1)
            sections.setdefault(section, {})[key] = value
    return sections


def test_grafana_does_not_call_home(full_lean: Plan) -> None:
    """Usage reports, update checks, the news feed and plugin installs from
    grafana.com are off (Grafana's conf/defaults.ini turns each on)."""
    ini = grafana_ini(one(render(full_lean.release("grafana")), "ConfigMap", "grafana")["data"]["grafana.ini"])
    assert ini["analytics"] == {
        "reporting_enabled": "false",
        "check_for_updates": "false",
        "check_for_plugin_updates": "false",
    }
    assert ini["news"] == {"news_feed_enabled": "false"}
    assert ini["plugins"] == {"preinstall_disabled": "true", "plugin_admin_enabled": "false"}


def test_the_observability_level_picks_the_addons() -> None:
    def addons(level: str) -> list[str]:
        plan = release_plan(settings_for("demo", "lean", observability=level))
        return [release.name for release in plan.releases if "istiod" in release.after and release.chart != "gateway"]

    assert addons("full") == ["kiali", "prometheus", "grafana"]
    assert addons("kiali") == ["kiali", "prometheus"]
    assert addons("none") == []
