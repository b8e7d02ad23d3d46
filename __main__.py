"""local-mesh: a cluster (minikube, or yours) -> MetalLB -> Istio; the ingress gateway's address as an output."""

import pulumi

from components.checks.dashboards import dashboards_for
from components.checks.discovery import read_cluster_state
from components.checks.preflight import run_preflight
from components.cluster import cluster_for
from components.helm import Steps
from components.istio import Istio
from components.metallb import MetalLB
from components.observability import DASHBOARDS, Observability, installed_dashboards
from components.plan import LOAD_BALANCER, release_plan
from components.sample import Sample
from components.settings import declared_defaults, ignored_key_warnings, parse_settings, project_config

settings = parse_settings(project_config(), pulumi.get_stack())
# What an existing cluster already has (istio-cni's platform, Gateway API CRDs),
# read before the plan so that preview shows what up installs.
plan = release_plan(settings, read_cluster_state(settings))
routed_paths = [DASHBOARDS[output][2] for output in installed_dashboards(plan, settings)]
for warning in ignored_key_warnings(settings, declared_defaults(), routed_paths):
    pulumi.log.warn(warning)
run_preflight(settings, plan)
# Istio's Grafana dashboards, downloaded here on the host before anything is
# created, so that no pod in the cluster downloads anything when it starts.
dashboards = dashboards_for(plan, settings.istio_version)

cluster = cluster_for(settings)
waits_for: Steps = {}
address_pool = None
if settings.metallb:
    metallb = MetalLB("metallb", settings, plan, cluster)
    waits_for = {LOAD_BALANCER: metallb.ready}
    address_pool = metallb.address_pool
    pulumi.export("addressPool", metallb.address_pool)
istio = Istio("istio", settings, plan, cluster, waits_for=waits_for)
if plan.addons():
    observability = Observability(
        "observability",
        settings,
        plan,
        cluster,
        istio.control_plane,
        istio.ingress_address,
        dashboards,
        address_pool,
    )
    # kialiUrl, prometheusUrl, grafanaUrl, jaegerUrl: those installed.
    for output, url in observability.urls.items():
        pulumi.export(output, url)
if settings.sample:
    sample = Sample("sample", settings, plan, cluster, istio.ingress_address, waits_for=[istio.mesh_ready])
    pulumi.export("sampleUrl", sample.url)

# An output whose value is None is left out of the stack's outputs
# (pulumi/runtime/rpc.py serialize_properties): ingressIp or ingressHost, whichever the Service has.
pulumi.export("ingressIp", istio.ingress_ip)
pulumi.export("ingressHost", istio.ingress_host)
pulumi.export("ingressUrl", pulumi.Output.concat("http://", istio.ingress_address))
if settings.on_minikube:
    pulumi.export("profile", settings.profile)
pulumi.export("nodeIp", cluster.node_ip)
pulumi.export("kubeContext", cluster.kube_context)
pulumi.export("istioVersion", istio.istio_version)
pulumi.export("kubeconfig", cluster.kubeconfig)
