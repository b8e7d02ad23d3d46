"""local-mesh: for each cluster (one today: minikube, or yours) a LocalMesh ->
MetalLB -> Istio -> dashboards -> sample; the ingress gateway's address as an output."""

import pulumi

from components.checks.dashboards import dashboards_for
from components.checks.discovery import read_cluster_state
from components.checks.preflight import run_preflight
from components.mesh import LocalMesh
from components.model.plan import release_plan
from components.model.settings import declared_defaults, ignored_key_warnings, parse_settings, project_config

clusters = [parse_settings(project_config(), pulumi.get_stack())]
for index, settings in enumerate(clusters):
    # What an existing cluster already has (istio-cni's platform, Gateway API CRDs),
    # read before the plan so that preview shows what up installs.
    plan = release_plan(settings, read_cluster_state(settings))
    routed_paths = [dashboard.path for dashboard in plan.dashboards]
    for warning in ignored_key_warnings(settings, declared_defaults(), routed_paths):
        pulumi.log.warn(warning)
    run_preflight(settings, plan)
    # Istio's Grafana dashboards, downloaded here on the host before anything is
    # created, so that no pod in the cluster downloads anything when it starts.
    dashboards = dashboards_for(plan, settings.istio_version)
    # The first cluster's resources keep the names of a one-cluster stack.
    mesh = LocalMesh(settings.kube_context, settings, plan, dashboards, primary=index == 0)
    # The stack's outputs: one cluster's, under today's names.
    for output, value in mesh.outputs.items():
        pulumi.export(output, value)
