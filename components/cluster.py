"""The minikube cluster and the one Kubernetes provider that reaches it."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_kubernetes as kubernetes
from pulumi_command import local

from components.settings import Settings
from components.shell import (
    INTERPRETER,
    ClusterAccess,
    access_environment,
    cluster_environment,
    parse_cluster_access,
    recreate_triggers,
    script,
)


class MinikubeCluster(pulumi.ComponentResource):
    """A minikube profile of its own, its node IP and a provider bound to it.

    Everything in the cluster, and everything that lives only as long as it,
    is `deleted_with` the minikube Command: deleting the profile deletes them
    all, so destroy is one `minikube delete`. Resources reach the cluster only
    through the doors below: `in_cluster`, `with_cluster`, `reading`.
    """

    node_ip: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    profile: pulumi.Output[str]
    kube_context: pulumi.Output[str]

    def __init__(self, name: str, settings: Settings, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("local-mesh:cluster:MinikubeCluster", name, None, opts)

        self._command = local.Command(
            "minikube",
            create=script("cluster-create.sh"),
            delete=script("cluster-delete.sh"),
            interpreter=INTERPRETER,
            environment=cluster_environment(settings),
            triggers=recreate_triggers(settings),
            opts=pulumi.ResourceOptions(
                parent=self,
                # Two clusters of one profile cannot exist side by side:
                # the old one must go before its replacement starts.
                delete_before_replace=True,
            ),
        )

        # An invoke, not a resource: it runs on every preview and up, so a
        # kubeconfig whose API server port moved (Docker restart, reboot) is
        # read afresh instead of being served stale from state.
        access_output = local.run_output(
            command=script("cluster-access.sh"),
            interpreter=INTERPRETER,
            environment=access_environment(settings),
            # stdout carries the kubeconfig: keep it out of the logs.
            logging=local.Logging.STDERR,
            opts=pulumi.InvokeOutputOptions(parent=self, depends_on=[self._command]),
        )
        access: pulumi.Output[ClusterAccess] = access_output.stdout.apply(
            lambda stdout: parse_cluster_access(stdout, settings.kube_context)
        )
        self.node_ip = access.apply(lambda a: a.node_ip)
        self.kubeconfig = pulumi.Output.secret(access.apply(lambda a: a.kubeconfig))
        self.profile = pulumi.Output.from_input(settings.profile)
        self.kube_context = pulumi.Output.from_input(settings.kube_context)

        self._provider = kubernetes.Provider(
            "minikube",
            kubeconfig=self.kubeconfig,
            context=settings.kube_context,
            # Replace the provider (and so every resource) only if the cluster's
            # identity changes, not when the kubeconfig text does.
            cluster_identifier=settings.profile,
            # A cluster deleted by hand must not block `pulumi destroy`.
            delete_unreachable=True,
            opts=pulumi.ResourceOptions(parent=self),
        )

        self.register_outputs(
            {
                "profile": self.profile,
                "kubeContext": self.kube_context,
                "nodeIp": self.node_ip,
                "kubeconfig": self.kubeconfig,
            }
        )

    def in_cluster(self, parent: pulumi.Resource, depends_on: Sequence[pulumi.Resource] = ()) -> pulumi.ResourceOptions:
        """Options for a Kubernetes resource in this cluster: the one explicit
        provider, and deleted with the cluster, children included (a component
        the provider builds, such as yaml/v2 ConfigFile, does not pass
        `deleted_with` on to the objects it creates; the transform does)."""
        return pulumi.ResourceOptions.merge(
            self.with_cluster(parent, depends_on),
            pulumi.ResourceOptions(provider=self._provider, transforms=[self._deleted_with_cluster]),
        )

    def with_cluster(
        self, parent: pulumi.Resource, depends_on: Sequence[pulumi.Resource] = ()
    ) -> pulumi.ResourceOptions:
        """Options for a resource outside Kubernetes that lives and dies with
        the cluster (a Command that waits on it)."""
        return pulumi.ResourceOptions(parent=parent, deleted_with=self._command, depends_on=list(depends_on))

    def reading(self, parent: pulumi.Resource) -> pulumi.ResourceOptions:
        """Options to read an object the cluster has (`Service.get`)."""
        return pulumi.ResourceOptions(parent=parent, provider=self._provider)

    def _deleted_with_cluster(self, args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult:
        opts = pulumi.ResourceOptions.merge(args.opts, pulumi.ResourceOptions(deleted_with=self._command))
        return pulumi.ResourceTransformResult(args.props, opts)
