#!/usr/bin/env bash
# Make sure this stack's minikube profile runs, then print how to reach it: the
# node IP on the first line, then a self-contained kubeconfig holding only the
# profile's context. Runs on every preview and up.
# Input from the environment: MINIKUBE_PROFILE.
set -euo pipefail
: "${MINIKUBE_PROFILE:?}"

# minikube status exits 0 when all runs, a bitmask of what is down otherwise
# (1 host, 2 kubelet/apiserver, 4 kubeconfig), and 85 for an unknown profile.
status_code=0
minikube status --profile="$MINIKUBE_PROFILE" --output=json >/dev/null 2>&1 || status_code=$?
case "$status_code" in
  0) ;;
  85)
    echo "local-mesh: minikube profile ${MINIKUBE_PROFILE} no longer exists (deleted outside Pulumi): run 'pulumi destroy' (it works without the cluster), then 'pulumi up'" >&2
    exit 85
    ;;
  *)
    # After `minikube stop`, a reboot or a Docker restart. Starting an existing
    # profile keeps its size and rewrites its kubeconfig entry, so a moved
    # API server port is picked up below.
    echo "local-mesh: minikube profile ${MINIKUBE_PROFILE} is not running (minikube status exit ${status_code}); starting it again" >&2
    minikube start --profile="$MINIKUBE_PROFILE" --keep-context >&2
    ;;
esac

node_ip=$(minikube ip --profile="$MINIKUBE_PROFILE")
kubeconfig=$(kubectl config view --raw --minify --flatten --context="$MINIKUBE_PROFILE")
printf '%s\n%s\n' "$node_ip" "$kubeconfig"
