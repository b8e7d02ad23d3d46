#!/usr/bin/env bash
# Make sure local-mesh's host registries run and the cluster's node reaches
# them: one pull-through cache per upstream registry and the registry for the
# user's own images (components/model/images.py), each a container of
# Distribution's image on this host's Docker, with its storage in a named
# volume, joined to the cluster's docker network, where the node finds it by
# container name through Docker's embedded DNS (a user-defined network's
# containers resolve each other by name: moby daemon/container_operations_unix.go,
# v28.5.2; minikube's node runs on the profile's own network, made with
# `docker network create`: pkg/drivers/kic/oci/oci.go CreateContainerNode,
# network_create.go tryCreateDockerNetwork, v1.38.1).
#
# They outlive every stack: a second stack, or the same one after destroy,
# reuses a running one, starts a stopped one and creates a missing one; a
# container of that name that is not local-mesh's is refused. Nothing here is
# ever deleted (the Command has no delete; `make clean-cache` removes them).
#
# Inputs from the environment (components/shell.py, host_registries_environment):
# LOCAL_MESH_CACHES ("NAME=UPSTREAM_URL" words), LOCAL_MESH_LOCAL_REGISTRY (the
# user's registry's name), LOCAL_MESH_REGISTRY_HOST_PORT (its port on 127.0.0.1),
# LOCAL_MESH_REGISTRY_IMAGE, LOCAL_MESH_REGISTRY_STORAGE, LOCAL_MESH_REGISTRY_LABEL,
# LOCAL_MESH_NETWORK (the cluster's docker network).
set -euo pipefail
: "${LOCAL_MESH_CACHES:?}" "${LOCAL_MESH_LOCAL_REGISTRY:?}" "${LOCAL_MESH_REGISTRY_HOST_PORT:?}"
: "${LOCAL_MESH_REGISTRY_IMAGE:?}" "${LOCAL_MESH_REGISTRY_STORAGE:?}" "${LOCAL_MESH_REGISTRY_LABEL:?}" "${LOCAL_MESH_NETWORK:?}"
# local-mesh: include host-registry.sh

# ensure_registry NAME UPSTREAM_URL: UPSTREAM_URL empty for the user's own registry.
ensure_registry() {
  local name="$1" upstream="$2" state
  state=$(registry_state "$name")
  case "$state" in
    foreign)
      echo "local-mesh: a docker container named ${name} exists but is not local-mesh's (it has no ${LOCAL_MESH_REGISTRY_LABEL} label): rename or remove it, or set local-mesh:imageCache to off" >&2
      return 1
      ;;
    missing)
      local role=local options=()
      if [ -n "$upstream" ]; then
        role=cache
        # Distribution runs as a pull-through cache of the upstream when
        # proxy.remoteurl is set (distribution registry/handlers/app.go, v2.8.3).
        options+=(--env "REGISTRY_PROXY_REMOTEURL=${upstream}")
      else
        # Published on loopback only, never on every address of the host.
        options+=(--publish "127.0.0.1:${LOCAL_MESH_REGISTRY_HOST_PORT}:5000")
      fi
      echo "local-mesh: creating ${name} (${role}${upstream:+ of ${upstream}})" >&2
      docker volume create --label "${LOCAL_MESH_REGISTRY_LABEL}=${role}" "${name}-data" >/dev/null
      # --restart unless-stopped: back after a Docker restart or reboot, unless stopped by hand.
      # Another stack's (or cluster's) run may make it at the same moment: then
      # Docker refuses the name (exit 125) and that one, if it is ours, is used.
      if ! docker run --detach --name "$name" --label "${LOCAL_MESH_REGISTRY_LABEL}=${role}" \
        --restart unless-stopped --volume "${name}-data:${LOCAL_MESH_REGISTRY_STORAGE}" \
        "${options[@]}" "$LOCAL_MESH_REGISTRY_IMAGE" >/dev/null; then
        state=$(registry_state "$name")
        [ "$state" != missing ] && [ "$state" != foreign ] || return 1
        echo "local-mesh: ${name} was made meanwhile by another run; using it" >&2
      fi
      state=$(registry_state "$name")
      ;;
    stopped*)
      echo "local-mesh: starting ${name} again" >&2
      docker start "$name" >/dev/null
      ;;
  esac
  # The networks the container is attached to follow its state word.
  local networks=" ${state#"${state%% *}"} "
  if [[ "$networks" != *" ${LOCAL_MESH_NETWORK} "* ]]; then
    docker network connect "$LOCAL_MESH_NETWORK" "$name"
  fi
}

for cache in $LOCAL_MESH_CACHES; do
  ensure_registry "${cache%%=*}" "${cache#*=}"
done
ensure_registry "$LOCAL_MESH_LOCAL_REGISTRY" ""
echo "local-mesh: the image caches and ${LOCAL_MESH_LOCAL_REGISTRY} run and are on docker network ${LOCAL_MESH_NETWORK}" >&2
