#!/usr/bin/env bash
# Print how to reach the existing cluster KUBE_CONTEXT names: its first node's
# InternalIP on the first line (MetalLB's pool is carved from its /24), then a
# self-contained kubeconfig holding only that context. Runs on every preview
# and up; reads the kubeconfig kubectl resolves ($KUBECONFIG or ~/.kube/config)
# and changes nothing.
# Inputs from the environment (components/shell.py, existing_access_environment): KUBE_CONTEXT.
set -euo pipefail
: "${KUBE_CONTEXT:?}"

# --minify with --context keeps only that context, its cluster and its user;
# --flatten embeds the certificate files (kubectl pkg/cmd/config/view.go).
# A context that is not in the kubeconfig fails here, on stderr.
kubeconfig=$(kubectl config view --raw --minify --flatten --context="$KUBE_CONTEXT")
# The API server lists nodes ordered by name; each node's addresses are
# status.addresses entries of type InternalIP, ExternalIP or Hostname
# (k8s.io/api core/v1 types.go, NodeAddressType). Read into a variable first:
# an API server that does not answer fails here with kubectl's own one line and
# exit code ("The connection to the server … was refused …", exit 1: kubectl
# pkg/cmd/util/helpers.go:54,271 at v0.35.7), not in the parser below.
nodes=$(kubectl get nodes --context="$KUBE_CONTEXT" --output=json)
node_ip=$(printf '%s' "$nodes" | python3 -c '
import json, sys
nodes = json.load(sys.stdin)["items"]
addresses = [a["address"] for a in (nodes[0]["status"].get("addresses") or []) if a["type"] == "InternalIP"] if nodes else []
print(addresses[0] if addresses else "")
')
if [ -z "$node_ip" ]; then
  echo "local-mesh: the first node of context ${KUBE_CONTEXT} has no InternalIP to carve MetalLB's address pool from" >&2
  exit 1
fi
printf '%s\n%s\n' "$node_ip" "$kubeconfig"
