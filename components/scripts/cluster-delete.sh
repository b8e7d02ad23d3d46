#!/usr/bin/env bash
# Delete this stack's minikube profile, and with it every in-cluster resource.
# `minikube delete` exits 0 when the profile is already gone, so a cluster
# deleted by hand does not block `pulumi destroy`.
set -euo pipefail
: "${MINIKUBE_PROFILE:?}"
echo "local-mesh: deleting minikube profile ${MINIKUBE_PROFILE}" >&2
minikube delete --profile="$MINIKUBE_PROFILE" >&2
