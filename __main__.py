"""local-mesh: minikube -> MetalLB -> Istio, with the ingress gateway's IP as an output."""

import pulumi

from components.cluster import MinikubeCluster
from components.istio import Istio
from components.metallb import MetalLB
from components.observability import Observability
from components.plan import LOAD_BALANCER, release_plan
from components.preflight import run_preflight
from components.sample import Sample
from components.settings import parse_settings, project_config

settings = parse_settings(project_config(), pulumi.get_stack())
plan = release_plan(settings)
run_preflight(settings)

cluster = MinikubeCluster("cluster", settings)
metallb = MetalLB("metallb", settings, plan, cluster)
istio = Istio("istio", settings, plan, cluster, waits_for={LOAD_BALANCER: metallb.ready})
if plan.addons():
    observability = Observability("observability", settings, plan, cluster, istio.control_plane, istio.ingress_ip)
    # kialiUrl, prometheusUrl, grafanaUrl, jaegerUrl: those installed.
    for output, url in observability.urls.items():
        pulumi.export(output, url)
if settings.sample:
    sample = Sample("sample", settings, plan, cluster, istio.ingress_ip, waits_for=[istio.control_plane])
    pulumi.export("sampleUrl", sample.url)

pulumi.export("ingressIp", istio.ingress_ip)
pulumi.export("ingressUrl", pulumi.Output.concat("http://", istio.ingress_ip))
pulumi.export("profile", cluster.profile)
pulumi.export("nodeIp", cluster.node_ip)
pulumi.export("addressPool", metallb.address_pool)
pulumi.export("kubeContext", cluster.kube_context)
pulumi.export("istioVersion", istio.istio_version)
pulumi.export("kubeconfig", cluster.kubeconfig)
