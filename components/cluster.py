"""The cluster local-mesh installs into, and the one Kubernetes provider that reaches it.

One interface, two kinds: a minikube profile of local-mesh's own
(`MinikubeCluster`), or a cluster the user already has, named by a context of
their kubeconfig (`ExistingCluster`). MetalLB, Istio and the sample reach
either only through the doors of `Cluster`: `install` (Helm releases),
`kubernetes_options` (a Kubernetes object), `command_options` (a Command that acts
on the cluster), `read_options` (reading an object the cluster has).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import cast

import pulumi
import pulumi_kubernetes as kubernetes
import yaml
from pulumi.output import UNKNOWN
from pulumi_command import local

from components.helm import Prerequisites, Scope, install_releases
from components.model import images
from components.model.network import HostNetworks, shared_node_address
from components.model.release import ChartRelease, Values
from components.model.settings import PROJECT, ClusterSettings, ConfigError
from components.registries import advertise_local_registry, start_host_registries
from components.shell import (
    INTERPRETER,
    ClusterAccess,
    access_environment,
    cluster_environment,
    existing_access_environment,
    owner_environment,
    parse_cluster_access,
    parse_host_networks,
    parse_minikube_access,
    preview_environment,
    recreate_triggers,
    script,
    shared_network_environment,
    stack_owner,
)


class Cluster(pulumi.ComponentResource):
    """What every cluster provides: the node address MetalLB's pool is carved
    from, the kubeconfig of its one context (a secret), that context's name,
    and the options a resource in it gets."""

    node_ip: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    kube_context: pulumi.Output[str]
    # The host's loopback port that reaches the ingress gateway (None: none is
    # published), and whether this host reaches the node's network at all.
    local_port: pulumi.Output[int | None]
    reaches_node_network: pulumi.Output[bool]
    # This host's docker networks, where the pool depends on them (an existing
    # cluster with MetalLB); None on local-mesh's own minikube, whose profile
    # network is its own.
    host_networks: pulumi.Output[HostNetworks | None]
    # Whether the stack made the cluster (and destroy deletes it whole).
    owned: bool
    # Where the user pushes their own images from the host, where the cluster
    # pulls them from (components/model/images.py); None without the host registries.
    registry: pulumi.Output[str] | None = None
    # The Pulumi name, in this cluster's mesh, of every resource that acts on it.
    scope: Scope
    _provider: kubernetes.Provider

    def _read_access(
        self,
        settings: ClusterSettings,
        script_name: str,
        environment: Mapping[str, str],
        after: Sequence[pulumi.Resource],
        parse: Callable[[str, str], ClusterAccess] = parse_cluster_access,
    ) -> None:
        """Run the script that prints the node address and the context's
        kubeconfig. An invoke, not a resource: it runs on every preview and up,
        so a kubeconfig whose API server moved is read afresh instead of being
        served stale from state."""
        access_output = local.run_output(
            command=script(script_name),
            interpreter=INTERPRETER,
            environment=dict(environment),
            # stdout carries the kubeconfig: keep it out of the logs.
            logging=local.Logging.STDERR,
            opts=pulumi.InvokeOutputOptions(parent=self, depends_on=list(after)),
        )

        def read(stdout: str) -> pulumi.Output[ClusterAccess]:
            # pulumi-command runs `local.run` in a preview as in an up (its Invoke
            # has no dry-run case: provider/pkg/provider/local/runController.go:24-33,
            # v1.2.1), so cluster-access.sh itself keeps a preview read-only.
            if not stdout and pulumi.runtime.is_dry_run():
                # cluster-access.sh left a stopped profile stopped (a preview
                # changes nothing): the address and kubeconfig are known after
                # `up` starts it, as on a first preview.
                return cast(pulumi.Output[ClusterAccess], pulumi.Output.from_input(UNKNOWN))
            return pulumi.Output.from_input(parse(stdout, settings.kube_context))

        access: pulumi.Output[ClusterAccess] = access_output.stdout.apply(read)
        self.node_ip = access.apply(lambda a: a.node_ip)
        self.kubeconfig = pulumi.Output.secret(access.apply(lambda a: a.kubeconfig))
        self.local_port = access.apply(lambda a: a.local_port)
        self.reaches_node_network = access.apply(lambda a: a.reaches_node_network)
        self.kube_context = pulumi.Output.from_input(settings.kube_context)

    def kubernetes_options(
        self, parent: pulumi.Resource, depends_on: Sequence[pulumi.Resource] = ()
    ) -> pulumi.ResourceOptions:
        """Options for a Kubernetes resource in this cluster: the one explicit provider."""
        return pulumi.ResourceOptions.merge(
            self.command_options(parent, depends_on), pulumi.ResourceOptions(provider=self._provider)
        )

    def command_options(
        self, parent: pulumi.Resource, depends_on: Sequence[pulumi.Resource] = ()
    ) -> pulumi.ResourceOptions:
        """Options for a resource outside Kubernetes that acts on the cluster (a
        Command that waits on it)."""
        return pulumi.ResourceOptions(parent=parent, depends_on=list(depends_on))

    def read_options(self, parent: pulumi.Resource) -> pulumi.ResourceOptions:
        """Options to read an object the cluster has (`Service.get`)."""
        return pulumi.ResourceOptions(parent=parent, provider=self._provider)

    def release_namespace(self, namespace: str) -> pulumi.Resource | None:
        """The Namespace a Helm release lands in, where the program owns it;
        None where Helm is to make it (components/helm.py, install_releases)."""
        return None

    def install(
        self,
        parent: pulumi.Resource,
        releases: Sequence[ChartRelease],
        after: Prerequisites,
        values: Mapping[str, pulumi.Input[Values]] | None = None,
    ) -> dict[str, kubernetes.helm.v3.Release]:
        """The one door for Helm releases into this cluster: `releases` in plan
        order under `parent`, each after what its `after` names (an earlier
        release, or a step of `after`), in the namespace this cluster gives it."""
        return install_releases(
            releases,
            after,
            lambda before: self.kubernetes_options(parent, before),
            self.release_namespace,
            self.scope,
            values,
        )


class MinikubeCluster(Cluster):
    """A minikube profile of its own, its node IP and a provider bound to it.

    Everything in the cluster, and everything that lives only as long as it,
    is `deleted_with` the minikube Command: deleting the profile deletes them
    all, so destroy is one `minikube delete`.
    """

    # release_namespace is None but for a namespace of `own_namespace`: Helm
    # makes the releases' namespaces, and they go with the profile.

    profile: pulumi.Output[str]
    owned = True
    _command: local.Command

    def __init__(
        self,
        name: str,
        settings: ClusterSettings,
        scope: Scope,
        opts: pulumi.ResourceOptions | None = None,
        joins: MinikubeCluster | None = None,
    ) -> None:
        """`joins`: the stack's first cluster, whose docker network this later
        cluster of a multicluster stack joins."""
        super().__init__("local-mesh:cluster:MinikubeCluster", name, None, opts)
        self.scope = scope
        self.profile_name = settings.profile
        self._owned_namespaces: dict[str, kubernetes.core.v1.Namespace] = {}
        # The stack's own line in its profile's owner mark. PULUMI_BACKEND_URL is
        # the state backend `make` (and the README's exports) point the CLI at.
        owner = stack_owner(
            pulumi.get_organization(),
            pulumi.get_project(),
            pulumi.get_stack(),
            os.environ.get("PULUMI_BACKEND_URL", ""),
        )
        ownership = owner_environment(owner)
        environment: dict[str, pulumi.Input[str]] = {**cluster_environment(settings), **ownership}
        triggers = recreate_triggers(settings)
        after: list[pulumi.Resource] = []
        if joins is not None:
            static_ip = joins.node_ip.apply(lambda first: shared_node_address(first, settings.cluster_index))
            shared = shared_network_environment(joins.profile_name, static_ip)
            environment.update(shared)
            triggers.append(f"MINIKUBE_NETWORK={joins.profile_name}")
            # Made after the first profile, whose network it joins, and deleted
            # before it: minikube deletes the network it made with the first
            # profile (pkg/minikube/delete/delete.go, DeleteKICNetworksByLabel),
            # which docker refuses while a later node is still on it.
            after.append(joins._command)

        self._command = local.Command(
            scope("minikube"),
            create=script("cluster-create.sh"),
            delete=script("cluster-delete.sh"),
            interpreter=INTERPRETER,
            environment=environment,
            triggers=triggers,
            opts=pulumi.ResourceOptions(
                parent=self,
                # Two clusters of one profile cannot exist side by side:
                # the old one must go before its replacement starts.
                delete_before_replace=True,
                depends_on=after,
            ),
        )
        self._read_access(
            settings,
            "cluster-access.sh",
            {**access_environment(settings), **ownership, **preview_environment(pulumi.runtime.is_dry_run())},
            [self._command],
            lambda stdout, context: parse_minikube_access(stdout, context, settings.publishes_local_port),
        )
        self.host_networks = pulumi.Output.from_input(None)
        self.profile = pulumi.Output.from_input(settings.profile)
        # The node's images come through the host registries once they run on
        # the profile's network, which minikube names after the profile
        # (pkg/drivers/kic/kic.go:388, NodeConfig.ClusterName, v1.38.1): the
        # provider, and so every object and release in the cluster, waits for them.
        # A later cluster of a multicluster stack is on the first one's network,
        # which the first cluster's registries joined already.
        self.host_registries: list[pulumi.Resource] = []
        if settings.caches_images and joins is not None:
            self.host_registries = joins.host_registries
        elif settings.caches_images:
            self.host_registries = [
                start_host_registries(
                    scope("host-registries"), settings.profile, recreate_triggers(settings), self, self._command
                )
            ]
        registries = self.host_registries

        self._provider = kubernetes.Provider(
            scope("minikube"),
            kubeconfig=self.kubeconfig,
            context=settings.kube_context,
            # Replace the provider (and so every resource) only if the cluster's
            # identity changes, not when the kubeconfig text does.
            cluster_identifier=settings.profile,
            # A cluster deleted by hand must not block `pulumi destroy`.
            delete_unreachable=True,
            opts=pulumi.ResourceOptions(parent=self, depends_on=registries),
        )
        if registries:
            advertise_local_registry(scope("local-registry-hosting"), self.kubernetes_options(self, registries))
            self.registry = pulumi.Output.from_input(images.local_registry_push_host())

        self.register_outputs(
            {
                "profile": self.profile,
                "kubeContext": self.kube_context,
                "nodeIp": self.node_ip,
                "kubeconfig": self.kubeconfig,
            }
        )

    def own_namespace(self, namespace: str, labels: Mapping[str, str]) -> kubernetes.core.v1.Namespace:
        """A namespace the program makes, with labels, before any release lands
        in it (releases then wait for it and leave it to the program: Cluster.install).
        Made in a new profile only, so it never adopts one: pulumi-kubernetes
        creates with a client-side create and gets AlreadyExists (see ExistingCluster)."""
        self._owned_namespaces[namespace] = kubernetes.core.v1.Namespace(
            self.scope(namespace),
            metadata=kubernetes.meta.v1.ObjectMetaArgs(name=namespace, labels=dict(labels)),
            opts=self.kubernetes_options(self),
        )
        return self._owned_namespaces[namespace]

    def release_namespace(self, namespace: str) -> pulumi.Resource | None:
        return self._owned_namespaces.get(namespace)

    def kubernetes_options(
        self, parent: pulumi.Resource, depends_on: Sequence[pulumi.Resource] = ()
    ) -> pulumi.ResourceOptions:
        """Also deleted with the cluster, children included (a component the
        provider builds, such as yaml/v2 ConfigFile, does not pass `deleted_with`
        on to the objects it creates; the transform does)."""
        return pulumi.ResourceOptions.merge(
            super().kubernetes_options(parent, depends_on),
            pulumi.ResourceOptions(transforms=[self._deleted_with_cluster]),
        )

    def command_options(
        self, parent: pulumi.Resource, depends_on: Sequence[pulumi.Resource] = ()
    ) -> pulumi.ResourceOptions:
        """Also lives and dies with the cluster."""
        return pulumi.ResourceOptions.merge(
            super().command_options(parent, depends_on), pulumi.ResourceOptions(deleted_with=self._command)
        )

    def _deleted_with_cluster(self, args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult:
        opts = pulumi.ResourceOptions.merge(args.opts, pulumi.ResourceOptions(deleted_with=self._command))
        return pulumi.ResourceTransformResult(args.props, opts)


def secrets_left_unprotected(environ: Mapping[str, str], stack_file: Path) -> bool:
    """Whether the stack's secrets are encrypted with an empty passphrase, as far
    as the program can tell: the stack uses Pulumi's passphrase secrets manager
    (whose state is the stack file's `encryptionsalt`: pulumi
    pkg/secrets/passphrase/manager.go, EditProjectStack) and the passphrase the
    CLI read from its environment, which the program inherits
    (sdk/go/common/resource/plugin/plugin.go), is empty. readPassphrase takes
    PULUMI_CONFIG_PASSPHRASE whenever it is set, even empty, then the trimmed
    contents of PULUMI_CONFIG_PASSPHRASE_FILE; a passphrase typed at a prompt
    is not seen here."""
    if not stack_file.exists() or not (yaml.safe_load(stack_file.read_text()) or {}).get("encryptionsalt"):
        return False
    if "PULUMI_CONFIG_PASSPHRASE" in environ:
        return environ["PULUMI_CONFIG_PASSPHRASE"] == ""
    passphrase_file = environ.get("PULUMI_CONFIG_PASSPHRASE_FILE")
    return bool(passphrase_file) and Path(str(passphrase_file)).read_text().strip() == ""


class ExistingCluster(Cluster):
    """A cluster the user already has, reached through the one context
    `kubeContext` names, never the current context.

    The cluster is not local-mesh's to delete: nothing is `deleted_with`
    anything, so `pulumi destroy` uninstalls each release and object in the
    reverse order of their dependencies.

    A Helm release local-mesh did not install is never adopted: the releases
    leave `replace` unset, which helm.v3.Release hands to Helm's install action
    (pulumi-kubernetes provider/pkg/provider/helm_release.go, Create:
    `client.Replace = newRelease.Replace`), and Helm then refuses a name in use
    with "cannot re-use a name that is still in use" (helm pkg/action/install.go,
    availableName; helm/helm#8380).

    Each release's namespace is the program's own (`release_namespace`), made
    before the release and deleted after it: Helm's --create-namespace makes a
    namespace that `helm uninstall` leaves behind (helm/helm#1464), and destroy
    must leave none here. An existing namespace of that name is refused, not
    adopted: pulumi-kubernetes creates with a client-side create since v4.29.0
    and gets AlreadyExists (pulumi-kubernetes #2926; upsertExistingObjects
    stays off).
    """

    owned = False

    def __init__(
        self, name: str, settings: ClusterSettings, scope: Scope, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("local-mesh:cluster:ExistingCluster", name, None, opts)
        self.scope = scope
        self._read_access(settings, "existing-cluster-access.sh", existing_access_environment(settings), [])
        self.host_networks = pulumi.Output.from_input(None)
        if settings.metallb:
            # An invoke like the access script: read afresh on every preview and up.
            networks = local.run_output(
                command=script("docker-networks.sh"),
                interpreter=INTERPRETER,
                opts=pulumi.InvokeOutputOptions(parent=self),
            )
            self.host_networks = networks.stdout.apply(parse_host_networks)
        self._provider = kubernetes.Provider(
            scope("kubernetes"),
            kubeconfig=self.kubeconfig,
            context=settings.kube_context,
            # The context names the cluster: a refreshed kubeconfig (rotated
            # credentials) updates the provider instead of replacing everything.
            cluster_identifier=settings.kube_context,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self._namespaces: dict[str, kubernetes.core.v1.Namespace] = {}
        self.register_outputs({"kubeContext": self.kube_context, "nodeIp": self.node_ip, "kubeconfig": self.kubeconfig})

    def release_namespace(self, namespace: str) -> pulumi.Resource | None:
        if namespace not in self._namespaces:
            self._namespaces[namespace] = kubernetes.core.v1.Namespace(
                self.scope(namespace),
                metadata=kubernetes.meta.v1.ObjectMetaArgs(name=namespace),
                opts=self.kubernetes_options(self),
            )
        return self._namespaces[namespace]


def refuse_unprotected_credentials(settings: ClusterSettings) -> None:
    """Before anything is created: the state keeps an existing cluster's
    credentials (the provider's kubeconfig, the kubeconfig output), and a shared
    or cloud cluster's must not be readable by anyone who copies the state file."""
    stack_file = Path(__file__).resolve().parent.parent / f"Pulumi.{pulumi.get_stack()}.yaml"
    if not settings.on_minikube and secrets_left_unprotected(os.environ, stack_file):
        raise ConfigError(
            f"{PROJECT}:cluster = 'existing' keeps the credentials of context {settings.kube_context} in the "
            "stack's state, which an empty passphrase does not protect: set PULUMI_CONFIG_PASSPHRASE (or "
            "PULUMI_CONFIG_PASSPHRASE_FILE) to a passphrase of your own and use a stack of your own"
        )


def mesh_scope(mesh: str, primary: bool) -> Scope:
    """How a mesh names its resources: the first mesh (`primary`) by the names
    they had when a stack had one mesh, so an existing stack's URNs stay as they
    are; every further mesh prefixes them with its own name, since two resources
    of one type under the same parent types would otherwise share a URN
    (sdk/go/common/resource/urn.go NewURN: the parent's type chain, never its name)."""
    if primary:
        return lambda name: name
    return lambda name: f"{mesh}-{name}"


def cluster_for(
    name: str,
    settings: ClusterSettings,
    scope: Scope,
    opts: pulumi.ResourceOptions | None = None,
    joins: Cluster | None = None,
) -> Cluster:
    """The cluster these settings name, its resources named by `scope`;
    `joins`: the stack's first cluster, whose network a later one joins."""
    if settings.on_minikube:
        return MinikubeCluster(name, settings, scope, opts, joins if isinstance(joins, MinikubeCluster) else None)
    return ExistingCluster(name, settings, scope, opts)
