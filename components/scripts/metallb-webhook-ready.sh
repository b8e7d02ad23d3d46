#!/usr/bin/env bash
# Wait until MetalLB's validating webhook admits an IPAddressPool.
# The controller pod turns Ready before its webhook server serves, so creating
# the pool right after `helm install` fails with "connection refused" or
# "no endpoints available" (metallb issues #1597, #1610, #1669). A server-side
# dry run goes through the same webhook without creating anything, so its
# success is the readiness signal.
# Inputs from the environment: KUBECONFIG_CONTENT (secret), PROBE_MANIFEST (the
# pool to be created, as JSON), WAIT_SECONDS, POLL_SECONDS.
set -euo pipefail
: "${KUBECONFIG_CONTENT:?}" "${PROBE_MANIFEST:?}" "${WAIT_SECONDS:?}" "${POLL_SECONDS:?}"

workdir=$(mktemp -d)
trap 'rm -rf "$workdir"' EXIT
umask 077
printf '%s\n' "$KUBECONFIG_CONTENT" >"$workdir/kubeconfig"

deadline=$((SECONDS + WAIT_SECONDS))
attempt=1
until printf '%s\n' "$PROBE_MANIFEST" |
  kubectl --kubeconfig="$workdir/kubeconfig" apply --dry-run=server --filename=- >/dev/null 2>"$workdir/error"; do
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "local-mesh: MetalLB's webhook still refuses an IPAddressPool after ${WAIT_SECONDS}s: $(tail -n 1 "$workdir/error")" >&2
    exit 1
  fi
  echo "local-mesh: waiting for MetalLB's webhook (attempt ${attempt}): $(tail -n 1 "$workdir/error")" >&2
  attempt=$((attempt + 1))
  sleep "$POLL_SECONDS"
done
echo "local-mesh: MetalLB's webhook admits IPAddressPools" >&2
