#!/usr/bin/env bash
# Delete this stack's minikube profile, and with it every in-cluster resource.
# `minikube delete` exits 0 when the profile is already gone, so a cluster
# deleted by hand does not block `pulumi destroy`.
# Inputs from the environment: MINIKUBE_PROFILE, MINIKUBE_DRIVER.
set -euo pipefail
: "${MINIKUBE_PROFILE:?}" "${MINIKUBE_DRIVER:?}"
echo "local-mesh: deleting minikube profile ${MINIKUBE_PROFILE}" >&2
minikube delete --profile="$MINIKUBE_PROFILE" >&2

# Some minikube versions leave the profile's docker network behind
# (minikube #9087); a later profile of the same name would then clash with it.
if [ "$MINIKUBE_DRIVER" = docker ] && docker network inspect "$MINIKUBE_PROFILE" >/dev/null 2>&1; then
  echo "local-mesh: removing the leftover docker network ${MINIKUBE_PROFILE}" >&2
  docker network rm "$MINIKUBE_PROFILE" >/dev/null
fi
# And a kube context that outlived its cluster would point at nothing.
if kubectl config get-contexts --output=name 2>/dev/null | grep --quiet --line-regexp --fixed-strings -- "$MINIKUBE_PROFILE"; then
  echo "local-mesh: removing the leftover kube context ${MINIKUBE_PROFILE}" >&2
  kubectl config delete-context "$MINIKUBE_PROFILE" >/dev/null
fi
