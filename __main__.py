"""local-mesh: for each cluster (minikube, or yours; with `clusters` several
minikube profiles in one mesh) a LocalMesh -> MetalLB -> Istio -> dashboards
-> sample; the ingress gateway's address as an output."""

import pulumi

from components.checks.dashboards import dashboards_for
from components.checks.discovery import read_cluster_state
from components.checks.preflight import run_preflight
from components.mesh import LocalMesh
from components.model.multicluster import check_address_plan, cluster_name, cluster_settings, network_name
from components.model.plan import release_plan
from components.model.settings import declared_defaults, ignored_key_warnings, parse_settings, project_config
from components.multicluster import Overview, TrustRoot, connect_clusters

stack_settings = parse_settings(project_config(), pulumi.get_stack())
clusters = [cluster_settings(stack_settings, index) for index in range(stack_settings.clusters)]
# What an existing cluster already has (istio-cni's platform, Gateway API CRDs),
# read before the plan so that preview shows what up installs.
plans = [release_plan(settings, read_cluster_state(settings)) for settings in clusters]
routed_paths = [dashboard.path for dashboard in plans[0].dashboards]
for warning in ignored_key_warnings(stack_settings, declared_defaults(), routed_paths):
    pulumi.log.warn(warning)
# Before anything is created, for every cluster together: the clusters are alike
# (settings.py refuses what would make them differ), so the first one's plan
# stands for each, and the host's checks count every cluster's node.
check_address_plan(stack_settings.clusters)
run_preflight(stack_settings, plans[0])
# One root of trust for a mesh of several clusters.
trust = TrustRoot("trust-root") if stack_settings.multicluster_mesh else None
# What the first cluster's dashboards see of the others, completed once they exist.
overview = Overview() if stack_settings.multicluster_mesh else None
meshes: list[LocalMesh] = []
for index, (settings, plan) in enumerate(zip(clusters, plans, strict=True)):
    # Istio's Grafana dashboards, downloaded here on the host before anything is
    # created, so that no pod in the cluster downloads anything when it starts.
    dashboards = dashboards_for(plan, settings.istio_version)
    # The first cluster's resources keep the names of a one-cluster stack.
    mesh = LocalMesh(
        settings.kube_context,
        settings,
        plan,
        dashboards,
        primary=index == 0,
        ca=trust.intermediate(cluster_name(index)) if trust else None,
        joins=meshes[0] if meshes else None,
        overview=overview if index == 0 else None,
    )
    meshes.append(mesh)
# The stack's outputs: the first cluster's, under today's names.
for output, value in meshes[0].outputs.items():
    pulumi.export(output, value)
members = [(mesh, mesh.member) for mesh in meshes if mesh.member is not None]
if members:
    connect_clusters(members)
    if overview is not None:
        first, *remotes = [(mesh, member, mesh.dashboards) for mesh, member in members]
        overview.complete(first, remotes)
    pulumi.export(
        "clusters",
        [
            {
                "name": cluster_name(member.index),
                "profile": settings.profile,
                "kubeContext": settings.kube_context,
                "ingressAddress": member.ingress_address,
                "eastWestAddress": member.east_west_address,
                "network": network_name(member.index),
            }
            for settings, (_, member) in zip(clusters, members, strict=True)
        ],
    )
