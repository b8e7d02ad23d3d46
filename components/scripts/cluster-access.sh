#!/usr/bin/env bash
# Print how to reach this stack's cluster: the node IP on the first line, then
# a self-contained kubeconfig holding only the profile's context.
# Input from the environment: MINIKUBE_PROFILE.
set -euo pipefail
: "${MINIKUBE_PROFILE:?}"
node_ip=$(minikube ip --profile="$MINIKUBE_PROFILE")
kubeconfig=$(kubectl config view --raw --minify --flatten --context="$MINIKUBE_PROFILE")
printf '%s\n%s\n' "$node_ip" "$kubeconfig"
