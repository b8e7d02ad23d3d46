#!/usr/bin/env bash
# Make sure this stack's minikube profile runs, then print how to reach it: the
# node IP on the first line; where the node publishes the ingress on the host's
# loopback (LOCAL_NODE_PORT set), the host binding ("-": none) and Docker's
# OperatingSystem on the next two; then a self-contained kubeconfig holding only the profile's
# context (components/shell.py, parse_minikube_access). Runs on every preview and up. A preview starts nothing:
# on a stopped profile it prints nothing on stdout and says that `up` starts it.
# Inputs from the environment (components/shell.py, access_environment, owner_environment,
# preview_environment): MINIKUBE_PROFILE, KUBE_CONTEXT, LOCAL_MESH_OWNER, LOCAL_MESH_PREVIEW;
# with a published node port, MINIKUBE_DRIVER and LOCAL_NODE_PORT.
set -euo pipefail
: "${MINIKUBE_PROFILE:?}" "${KUBE_CONTEXT:?}" "${LOCAL_MESH_OWNER:?}" "${LOCAL_MESH_PREVIEW:?}"
# local-mesh: include profile-owner.sh

# minikube status exits 0 when all runs, a bitmask of what is down otherwise
# (1 host, 2 kubelet/apiserver, 4 kubeconfig), and 85 for an unknown profile.
status_code=0
minikube status --profile="$MINIKUBE_PROFILE" --output=json >/dev/null 2>&1 || status_code=$?
if [ "$status_code" -eq 85 ]; then
  echo "local-mesh: minikube profile ${MINIKUBE_PROFILE} no longer exists (deleted outside Pulumi): run 'pulumi destroy' (it works without the cluster), then 'pulumi up'" >&2
  exit 85
fi
refuse_unless_owned || exit 1
case "$status_code" in
  0) ;;
  *)
    if [ "$LOCAL_MESH_PREVIEW" = true ]; then
      echo "local-mesh: minikube profile ${MINIKUBE_PROFILE} is stopped (minikube status exit ${status_code}); a preview leaves it so, and 'pulumi up' starts it again" >&2
      exit 0
    fi
    # After `minikube stop`, a reboot or a Docker restart. Starting an existing
    # profile keeps its size and its container runtime (without the flag minikube
    # takes the stored one: cmd/minikube/cmd/start.go:1529-1531), and writes its
    # kubeconfig entry again (`minikube stop` removed it: cmd/minikube/cmd/stop.go:152-156),
    # so a moved API server port is picked up below.
    echo "local-mesh: minikube profile ${MINIKUBE_PROFILE} is not running (minikube status exit ${status_code}); starting it again" >&2
    minikube start --profile="$MINIKUBE_PROFILE" --keep-context >&2
    ;;
esac

# minikube ip prints why it failed on stdout, not stderr (pkg/minikube/mustload/mustload.go:75,129
# use out.Styled, pkg/minikube/out/out.go:107); pass that on to the user.
ip_code=0
node_ip=$(minikube ip --profile="$MINIKUBE_PROFILE") || ip_code=$?
if [ "$ip_code" -ne 0 ]; then
  printf '%s\n' "$node_ip" >&2
  echo "local-mesh: 'minikube ip' failed for profile ${MINIKUBE_PROFILE} (exit ${ip_code})" >&2
  exit "$ip_code"
fi
kubeconfig=$(kubectl config view --raw --minify --flatten --context="$KUBE_CONTEXT")
if [ -z "${LOCAL_NODE_PORT:-}" ]; then
  printf '%s\n%s\n' "$node_ip" "$kubeconfig"
  exit 0
fi
# Read on every run: the host port is the container's, and a profile made
# before (or by hand) has what it has. `docker port CONTAINER PORT/tcp` prints
# HOST_IP:HOST_PORT per binding, or fails (exit 1) with "no public port
# 'PORT/tcp' published for CONTAINER" (docker/cli cli/command/container/port.go
# runPort, cmd/docker/docker.go main, v29.7.2); the first node's container is
# named after the profile. podman has the same `port` command (its output
# format unverified).
# A profile made without one (by hand, or claimed) keeps none: "-"
# (components/shell.py NO_BINDING), and the stack has no localUrl.
binding_code=0
binding=$("$MINIKUBE_DRIVER" port "$MINIKUBE_PROFILE" "${LOCAL_NODE_PORT}/tcp" 2>&1) || binding_code=$?
if [ "$binding_code" -ne 0 ]; then
  echo "local-mesh: minikube profile ${MINIKUBE_PROFILE} publishes no host port for the ingress gateway's node port ${LOCAL_NODE_PORT} (${MINIKUBE_DRIVER} port: ${binding}), so the stack has no localUrl: minikube publishes ports only when it creates a profile's container; to get one, delete the profile with 'minikube delete -p ${MINIKUBE_PROFILE}' and run 'pulumi up' again (or set local-mesh:localPort to off to say you need none)" >&2
  binding="-"
fi
# Docker Desktop keeps the node's network inside its VM (components/model/network.py, DOCKER_DESKTOP).
operating_system=""
if [ "$MINIKUBE_DRIVER" = docker ]; then
  operating_system=$(docker info --format='{{.OperatingSystem}}' 2>/dev/null) || operating_system=""
fi
printf '%s\n%s\n%s\n%s\n' "$node_ip" "${binding%%$'\n'*}" "$operating_system" "$kubeconfig"
