"""local-mesh's host registries (components/model/images.py) for a cluster on
this host's Docker: the Command that makes sure they run and joins them to the
cluster's docker network, and the ConfigMap that advertises the user's own
registry in the cluster.

They are containers a shell script manages (scripts/host-registries.sh), not
pulumi-docker resources: they must outlive `pulumi destroy` and serve every
stack on the machine. A `docker.Container` in one stack's state is deleted
with that stack; with `retain_on_delete` Pulumi only forgets it (pulumi docs,
"Resource option: retainOnDelete"), and the next stack's, or the same stack's
next, `docker.Container` of that name fails on Docker's name conflict ("The
container name ... is already in use": moby daemon/errors.go:68, v28.5.2)
instead of reusing it. The script reuses what carries local-mesh's label and
the Command has no delete: destroy leaves them, `make clean-cache` removes them.
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_kubernetes as kubernetes
from pulumi_command import local

from components.model import images
from components.shell import INTERPRETER, host_registries_environment, script

# KEP-1755: the ConfigMap's name, namespace and data key are fixed
# (kubernetes/enhancements keps/sig-cluster-lifecycle/generic/1755-communicating-a-local-registry).
LOCAL_REGISTRY_HOSTING = ("kube-public", "local-registry-hosting", "localRegistryHosting.v1")


def start_host_registries(
    name: str, network: str, triggers: Sequence[str], parent: pulumi.Resource, after: pulumi.Resource
) -> local.Command:
    """Run host-registries.sh once `after` (the cluster) has made `network`. It
    runs again whenever `triggers` change: those of the cluster, whose
    recreation made a new network the registries must join."""
    return local.Command(
        name,
        create=script("host-registries.sh"),
        interpreter=INTERPRETER,
        environment=host_registries_environment(network),
        triggers=list(triggers),
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[after]),
    )


def advertise_local_registry(name: str, options: pulumi.ResourceOptions) -> kubernetes.core.v1.ConfigMap:
    """The `local-registry-hosting` ConfigMap, by which Tilt, Skaffold and ctlptl
    find the registry the user pushes to."""
    namespace, config_map, key = LOCAL_REGISTRY_HOSTING
    return kubernetes.core.v1.ConfigMap(
        name,
        metadata=kubernetes.meta.v1.ObjectMetaArgs(name=config_map, namespace=namespace),
        data={key: images.local_registry_hosting()},
        opts=options,
    )
