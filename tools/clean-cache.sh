#!/usr/bin/env bash
# `make clean-cache`: remove local-mesh's host registries (the image caches and
# the registry for your own images) and their volumes, with everything they
# hold. Only containers and volumes that carry local-mesh's label
# (LOCAL_MESH_REGISTRY_LABEL, components/model/images.py) are touched.
# `docker rm --force` stops a running container and takes it off its networks
# (docker/cli cli/command/container/rm.go, v28.5.2); a volume goes once no
# container uses it.
set -euo pipefail
: "${LOCAL_MESH_REGISTRY_LABEL:?}"
containers=$(docker ps --all --filter="label=${LOCAL_MESH_REGISTRY_LABEL}" --format='{{.Names}}')
volumes=$(docker volume ls --quiet --filter="label=${LOCAL_MESH_REGISTRY_LABEL}")
if [ -z "$containers$volumes" ]; then
  echo "local-mesh: no image caches or registry of local-mesh's on this host"
  exit 0
fi
for container in $containers; do
  docker rm --force "$container" >/dev/null
  echo "local-mesh: removed container ${container}"
done
for volume in $volumes; do
  docker volume rm "$volume" >/dev/null
  echo "local-mesh: removed volume ${volume}"
done
