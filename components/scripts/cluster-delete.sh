#!/usr/bin/env bash
# Delete this stack's minikube profile, and with it every in-cluster resource.
# `minikube delete` exits 0 when the profile is already gone, so a cluster
# deleted by hand does not block `pulumi destroy`.
# Inputs from the environment: MINIKUBE_PROFILE, MINIKUBE_DRIVER, LOCAL_MESH_OWNER
# (pulumi-command runs delete with the inputs in the state, those the Command was
# last created or updated with: pulumi/pulumi-command v1.2.1,
# provider/pkg/provider/local/commandController.go:93-99; so LOCAL_MESH_OWNER is the
# owner line this stack wrote into, or checked in, the profile); with local-mesh's
# image caches, LOCAL_MESH_REGISTRY_NAMES and LOCAL_MESH_REGISTRY_LABEL
# (components/shell.py, cache_environment).
set -euo pipefail
: "${MINIKUBE_PROFILE:?}" "${MINIKUBE_DRIVER:?}" "${LOCAL_MESH_OWNER:?}"
# local-mesh: include profile-owner.sh
# local-mesh: include host-registry.sh

# A profile that exists without this stack's mark was made by someone else
# after this stack's cluster was deleted by hand (this stack marked its own when
# it created or adopted it): this stack has no cluster left to delete.
status_code=0
minikube status --profile="$MINIKUBE_PROFILE" --output=json >/dev/null 2>&1 || status_code=$?
whose=""
if [ "$status_code" -ne 85 ]; then
  whose=$(profile_not_ours)
fi
if [ -n "$whose" ]; then
  echo "local-mesh: minikube profile ${MINIKUBE_PROFILE} ${whose}: this stack's own cluster is gone already, so destroy deletes nothing and leaves that profile as it is" >&2
  exit 0
fi
# The host registries outlive the cluster, but leave its network first:
# minikube removes the profile's network only when nothing else is attached
# (pkg/drivers/kic/kic.go:388 -> oci/network_create.go RemoveNetwork, which
# gives up on "has active endpoints" with a warning in its log, v1.38.1).
# Without an answer from Docker (its daemon gone by teardown) the profile still goes.
for registry in ${LOCAL_MESH_REGISTRY_NAMES:-}; do
  state=$(registry_state "$registry") || break
  if [[ "$state" != foreign && " ${state} " == *" ${MINIKUBE_PROFILE} "* ]]; then
    docker network disconnect "$MINIKUBE_PROFILE" "$registry" || break
  fi
done
echo "local-mesh: deleting minikube profile ${MINIKUBE_PROFILE}" >&2
minikube delete --profile="$MINIKUBE_PROFILE" >&2

# `minikube delete` does not always remove the profile's docker network
# (minikube #9776). A later profile of the same name would reuse it (minikube
# takes an existing network of that name: pkg/drivers/kic/oci/network_create.go:75-79),
# so it does no harm there; it is removed so that destroy leaves nothing of the
# stack behind. Docker refuses while a container is still attached ("has active
# endpoints"); that must not fail destroy, whose cluster is gone already.
if [ "$MINIKUBE_DRIVER" = docker ] && docker network inspect "$MINIKUBE_PROFILE" >/dev/null 2>&1; then
  echo "local-mesh: removing the leftover docker network ${MINIKUBE_PROFILE}" >&2
  if ! docker network rm "$MINIKUBE_PROFILE" >/dev/null; then
    echo "local-mesh: warning: the docker network ${MINIKUBE_PROFILE} stays (docker's reason above); remove it with 'docker network rm ${MINIKUBE_PROFILE}' once nothing uses it" >&2
  fi
fi
# And a kube context that outlived its cluster would point at nothing.
# get-contexts with a name exits 1 when that context is missing
# (kubernetes/kubectl pkg/cmd/config/get_contexts.go:136-142).
if kubectl config get-contexts --output=name "$MINIKUBE_PROFILE" >/dev/null 2>&1; then
  echo "local-mesh: removing the leftover kube context ${MINIKUBE_PROFILE}" >&2
  kubectl config delete-context "$MINIKUBE_PROFILE" >/dev/null
fi
