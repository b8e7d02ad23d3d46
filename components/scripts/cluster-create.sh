#!/usr/bin/env bash
# Create (or start again) this stack's minikube profile.
# Inputs, all from the environment: MINIKUBE_PROFILE, MINIKUBE_DRIVER, MINIKUBE_CPUS,
# MINIKUBE_MEMORY, MINIKUBE_KUBERNETES_VERSION.
# minikube's own progress goes to stderr so the user sees it in `pulumi up`.
set -euo pipefail
: "${MINIKUBE_PROFILE:?}" "${MINIKUBE_DRIVER:?}" "${MINIKUBE_CPUS:?}" "${MINIKUBE_MEMORY:?}" "${MINIKUBE_KUBERNETES_VERSION:?}"

# A profile that did not exist before this run is ours to remove if the start
# fails, so a failed `pulumi up` leaves nothing half-built behind. minikube
# status exits 85 for a profile it does not know.
status_code=0
minikube status --profile="$MINIKUBE_PROFILE" --output=json >/dev/null 2>&1 || status_code=$?
created_here=false
if [ "$status_code" -eq 85 ]; then
  created_here=true
fi

echo "local-mesh: starting minikube profile ${MINIKUBE_PROFILE} (${MINIKUBE_DRIVER}, ${MINIKUBE_CPUS} CPUs, ${MINIKUBE_MEMORY}, Kubernetes ${MINIKUBE_KUBERNETES_VERSION})" >&2
# --keep-context: the user's current kube context stays where it was; this
# program reaches its cluster through the profile's own context only.
start_code=0
minikube start \
  --profile="$MINIKUBE_PROFILE" \
  --driver="$MINIKUBE_DRIVER" \
  --cpus="$MINIKUBE_CPUS" \
  --memory="$MINIKUBE_MEMORY" \
  --kubernetes-version="$MINIKUBE_KUBERNETES_VERSION" \
  --keep-context >&2 || start_code=$?
if [ "$start_code" -ne 0 ]; then
  if [ "$created_here" = true ]; then
    echo "local-mesh: minikube start failed; deleting the half-created profile ${MINIKUBE_PROFILE}" >&2
    minikube delete --profile="$MINIKUBE_PROFILE" >&2 || true
  fi
  exit "$start_code"
fi
echo "local-mesh: minikube profile ${MINIKUBE_PROFILE} is running" >&2
