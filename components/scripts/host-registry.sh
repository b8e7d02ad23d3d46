# shellcheck shell=bash
# Included (components/shell.py, script) by host-registries.sh and
# cluster-delete.sh: what the host's Docker knows of one of local-mesh's host
# registries (components/model/images.py). Needs LOCAL_MESH_REGISTRY_LABEL.

# registry_state NAME prints one line: "missing"; "foreign" (a container of
# that name without local-mesh's label); or "running" / "stopped" followed by
# the docker networks the container is attached to. `docker container inspect`
# prints a JSON array of container.InspectResponse (moby api/types/container,
# v28.5.2: Config.Labels, State.Running, NetworkSettings.Networks keyed by
# network name) and, for a name Docker does not know, "[]" with
# "Error: No such container: NAME" on stderr and exit 1 (docker/cli
# cli/command/inspect/inspector.go Inspect; moby client/errors.go:68, v28.5.2).
# Any other failure (no daemon) stops the caller.
registry_state() {
  local name="$1" answer code=0 complaint
  complaint=$(mktemp)
  answer=$(docker container inspect "$name" 2>"$complaint") || code=$?
  if [ "$code" -ne 0 ]; then
    if grep -q "No such container" "$complaint"; then
      rm -f "$complaint"
      echo missing
      return 0
    fi
    cat "$complaint" >&2
    rm -f "$complaint"
    return "$code"
  fi
  rm -f "$complaint"
  printf '%s' "$answer" | python3 -c '
import json, sys
container = json.load(sys.stdin)[0]
if sys.argv[1] not in (container["Config"].get("Labels") or {}):
    print("foreign")
else:
    state = "running" if container["State"]["Running"] else "stopped"
    print(" ".join([state, *sorted(container["NetworkSettings"]["Networks"] or {})]))
' "$LOCAL_MESH_REGISTRY_LABEL"
}
