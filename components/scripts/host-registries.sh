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
# LOCAL_MESH_NETWORK (the cluster's docker network), LOCAL_MESH_REGISTRY_OFFSETS
# ("NAME=N" words: each registry's fixed address is N below the network's
# broadcast address, components/model/images.py registry_offsets).
set -euo pipefail
: "${LOCAL_MESH_CACHES:?}" "${LOCAL_MESH_LOCAL_REGISTRY:?}" "${LOCAL_MESH_REGISTRY_HOST_PORT:?}"
: "${LOCAL_MESH_REGISTRY_IMAGE:?}" "${LOCAL_MESH_REGISTRY_STORAGE:?}" "${LOCAL_MESH_REGISTRY_LABEL:?}" "${LOCAL_MESH_NETWORK:?}"
: "${LOCAL_MESH_REGISTRY_OFFSETS:?}"
# local-mesh: include host-registry.sh

# Each registry joins the network at a fixed address (`--ip`), never at the
# lowest free one Docker would pick, which a node started later (or after a
# Docker restart) needs: images.py says why. `docker network inspect` prints a
# JSON array of network.Inspect whose IPAM.Config holds the network's subnets
# (moby api/types/network/network.go, v28.5.2); minikube makes its networks
# with one IPv4 --subnet (oci/network_create.go, v1.38.1).
addresses=$(docker network inspect "$LOCAL_MESH_NETWORK" | python3 -c '
import ipaddress, json, sys
configs = json.load(sys.stdin)[0]["IPAM"]["Config"] or []
subnets = [ipaddress.ip_network(c["Subnet"]) for c in configs if "." in (c.get("Subnet") or "")]
if not subnets:
    sys.exit(f"local-mesh: docker network {sys.argv[2]} has no IPv4 subnet, so the host registries cannot have fixed addresses on it")
for word in sys.argv[1].split():
    name, offset = word.split("=")
    print(f"{name}={subnets[0].broadcast_address - int(offset)}")
' "$LOCAL_MESH_REGISTRY_OFFSETS" "$LOCAL_MESH_NETWORK")

# address_on NAME: the container's address on the network, empty when not on it
# (container.InspectResponse NetworkSettings.Networks[NET].IPAddress, moby v28.5.2).
address_on() {
  docker container inspect "$1" | python3 -c '
import json, sys
print((json.load(sys.stdin)[0]["NetworkSettings"]["Networks"] or {}).get(sys.argv[1], {}).get("IPAddress", ""))
' "$LOCAL_MESH_NETWORK"
}

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
  local fixed current word
  for word in $addresses; do
    [ "${word%%=*}" = "$name" ] && fixed="${word#*=}"
  done
  current=$(address_on "$name")
  if [ -n "$current" ] && [ "$current" != "$fixed" ]; then
    # Joined by an older local-mesh at the lowest free address, which a node may need.
    echo "local-mesh: ${name} is on docker network ${LOCAL_MESH_NETWORK} at ${current}; moving it to its own address ${fixed}" >&2
    docker network disconnect "$LOCAL_MESH_NETWORK" "$name"
    current=""
  fi
  if [ -z "$current" ]; then
    docker network connect --ip "$fixed" "$LOCAL_MESH_NETWORK" "$name"
  fi
}

for cache in $LOCAL_MESH_CACHES; do
  ensure_registry "${cache%%=*}" "${cache#*=}"
done
ensure_registry "$LOCAL_MESH_LOCAL_REGISTRY" ""
echo "local-mesh: the image caches and ${LOCAL_MESH_LOCAL_REGISTRY} run and are on docker network ${LOCAL_MESH_NETWORK} (${addresses//$'\n'/, })" >&2
