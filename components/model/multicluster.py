"""A mesh across several clusters: the names Istio gives them. Pure.

Istio's multicluster guides name the clusters cluster1, cluster2, their
networks network1, network2 and the one mesh mesh1 (istio.io "Install
Multi-Primary on different networks": `global.meshID=mesh1`,
`global.multiCluster.clusterName=cluster1`, `global.network=network1`).
local-mesh keeps those names, counted from the stack's first cluster.
"""

from __future__ import annotations

# The one mesh every cluster of the stack joins (istiod's `global.meshID`).
MESH_ID = "mesh1"


def cluster_name(index: int) -> str:
    """Istio's name for the stack's cluster number `index` (0 = the first):
    istiod's `global.multiCluster.clusterName`, and the name a remote secret
    gives it."""
    return f"cluster{index + 1}"


def network_name(index: int) -> str:
    """The Istio network of the stack's cluster number `index`: istiod's
    `global.network` and the `topology.istio.io/network` label. Each cluster is
    its own network, reached by the others through its east-west gateway."""
    return f"network{index + 1}"
