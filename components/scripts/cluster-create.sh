#!/usr/bin/env bash
# Create (or start again) this stack's minikube profile.
# Inputs, all from the environment: MINIKUBE_PROFILE, MINIKUBE_DRIVER, MINIKUBE_CPUS,
# MINIKUBE_MEMORY (whole MB with an "mb" suffix, per node), MINIKUBE_KUBERNETES_VERSION,
# MINIKUBE_NODES (the total number of nodes); LOCAL_MESH_OWNER (components/shell.py,
# owner_environment); where the node publishes the ingress on the host's loopback
# (components/shell.py, local_port_environment), LOCAL_NODE_PORT, LOCAL_HOST_IP and
# LOCAL_HOST_PORT (0: a free port); with local-mesh's image caches, MINIKUBE_REGISTRY_MIRROR and
# MINIKUBE_INSECURE_REGISTRY (comma-separated; shell.py, cache_environment).
# minikube's own progress goes to stderr so the user sees it in `pulumi up`.
set -euo pipefail
: "${MINIKUBE_PROFILE:?}" "${MINIKUBE_DRIVER:?}" "${MINIKUBE_CPUS:?}" "${MINIKUBE_MEMORY:?}" "${MINIKUBE_KUBERNETES_VERSION:?}" "${MINIKUBE_NODES:?}"
: "${LOCAL_MESH_OWNER:?}"
# local-mesh: include profile-owner.sh

# A profile that did not exist before this run is ours to remove if the start
# fails, so a failed `pulumi up` leaves nothing half-built behind. minikube
# status exits 85 for a profile it does not know; a stopped profile (exit 7)
# is the user's cluster and is never deleted here.
status_code=0
minikube status --profile="$MINIKUBE_PROFILE" --output=json >/dev/null 2>&1 || status_code=$?
created_here=false
if [ "$status_code" -eq 85 ]; then
  # Never minikube's default profile; nor a folder another stack is creating.
  if [ "$MINIKUBE_PROFILE" = minikube ] || [ -n "$(profile_owner)" ]; then
    refuse_unless_owned || exit 1
  fi
  created_here=true
  # The mark goes in before the start, so a start interrupted half-way still
  # leaves a profile this stack can tell is its own. A folder without
  # config.json is no profile to minikube: status and start still see none
  # (pkg/minikube/config/profile.go:100-110, ProfileExists reads config.json).
  mark_as_ours
else
  refuse_unless_owned || exit 1
  # minikube keeps an existing profile's size and only warns that it cannot be
  # changed (cmd/minikube/cmd/start_flags.go:830-836), so a profile made by hand
  # with another size would silently run on that size. Its size is in
  # `profile list -o json`: Config.CPUs and Config.Memory in MB, Config.Nodes
  # (pkg/minikube/config/types.go:27-45,77); --light skips the status checks. A
  # profile missing from "valid" has a config minikube cannot read: start reports it.
  # An existing profile also keeps its nodes: start ignores --nodes then
  # (cmd/minikube/cmd/start.go:497-505).
  existing_size=$(minikube profile list --output=json --light | python3 -c '
import json, sys
for profile in json.load(sys.stdin)["valid"]:
    if profile["Name"] == sys.argv[1]:
        print(profile["Config"]["CPUs"], profile["Config"]["Memory"], len(profile["Config"]["Nodes"]))
' "$MINIKUBE_PROFILE")
  read -r existing_cpus existing_memory existing_nodes <<<"$existing_size"
  wanted_memory=${MINIKUBE_MEMORY%mb}
  if [ -n "$existing_size" ] && { [ "$existing_cpus" != "$MINIKUBE_CPUS" ] || [ "$existing_memory" != "$wanted_memory" ] || [ "$existing_nodes" != "$MINIKUBE_NODES" ]; }; then
    echo "local-mesh: minikube profile ${MINIKUBE_PROFILE} already exists with ${existing_nodes} nodes of ${existing_cpus} CPUs and ${existing_memory} MB, but this stack asks for ${MINIKUBE_NODES} nodes of ${MINIKUBE_CPUS} CPUs and ${wanted_memory} MB, and minikube cannot resize a profile: delete it with 'minikube delete -p ${MINIKUBE_PROFILE}', or set local-mesh:nodes to ${existing_nodes}, local-mesh:cpus to ${existing_cpus} and local-mesh:memory to ${existing_memory}" >&2
    exit 1
  fi
fi

# The ingress gateway's NodePort on the host's loopback only (localPort). minikube
# hands each --ports value to the node's `docker run -p` as it is
# (pkg/minikube/registry/drvs/docker/docker.go:75-77, podman.go:82-84, v1.38.1),
# so LOCAL_HOST_IP (the loopback address) keeps it off every other address
# (without one Docker listens on 0.0.0.0). It takes only a host port from 1 to 65535 (cmd/minikube/cmd/start.go:1405-1446,
# validatePorts: no Docker-chosen "127.0.0.1::PORT" nor 0), so for 0 this script
# takes a free port itself, from 20000-29999: below the ports the kernel hands
# out on its own to bind(0) and to outgoing connections (Linux's default
# ip_local_port_range 32768-60999, Documentation/networking/ip-sysctl.rst;
# macOS and Windows use IANA's 49152-65535, RFC 6335), so that no other process
# takes it between this choice and Docker's bind. minikube publishes --ports only when it
# creates the container (a profile that exists keeps the ports it has; the
# recreate triggers hold these variables), so only a new profile gets the flag.
ports_flag=()
if [ "$created_here" = true ] && [ -n "${LOCAL_NODE_PORT:-}" ]; then
  : "${LOCAL_HOST_IP:?}" "${LOCAL_HOST_PORT:?}"
  host_port=$LOCAL_HOST_PORT
  if [ "$host_port" = 0 ]; then
    host_port=$(python3 -c '
import random, socket, sys
for port in random.sample(range(20000, 30000), 100):
    with socket.socket() as probe:
        try:
            probe.bind((sys.argv[1], port))
        except OSError:
            continue
    print(port)
    break
else:
    sys.exit("local-mesh: no free port on " + sys.argv[1] + " between 20000 and 29999 (100 tried): set local-mesh:localPort to a free port, or off")
' "$LOCAL_HOST_IP")
  fi
  ports_flag=(--ports="${LOCAL_HOST_IP}:${host_port}:${LOCAL_NODE_PORT}")
  echo "local-mesh: the ingress gateway will answer on http://${LOCAL_HOST_IP}:${host_port}/ of this host" >&2
fi

echo "local-mesh: starting minikube profile ${MINIKUBE_PROFILE} (${MINIKUBE_DRIVER}, ${MINIKUBE_NODES} x ${MINIKUBE_CPUS} CPUs, ${MINIKUBE_MEMORY}, Kubernetes ${MINIKUBE_KUBERNETES_VERSION})" >&2
# --keep-context: the user's current kube context stays where it was; this
# program reaches its cluster through the profile's own context only.
# --container-runtime=docker: minikube 1.39 made containerd the default
# (../shared/upstream/README.md, "Versions seen"); Istio's `platform: minikube`
# in the ambient profile expects docker's pod network namespaces (cniNetnsDir
# /var/run/docker/netns, istio-cni chart files/profile-platform-minikube.yaml).
# --nodes is the total, each node of --cpus and --memory (start_flags.go:198;
# the driver gets cc.CPUs and cc.Memory per machine, pkg/minikube/registry/drvs/docker/docker.go:85-86).
# The image caches (components/model/images.py): minikube hands --registry-mirror
# and --insecure-registry to the node's Docker daemon as its flags
# (pkg/minikube/machine/start.go:115-116 -> pkg/provision/ubuntu.go:123, v1.38.1),
# only when it creates the profile: a later start keeps the stored ones
# (cmd/minikube/cmd/start_flags.go:809-810), so they are recreate triggers.
cache_flags=()
if [ -n "${MINIKUBE_REGISTRY_MIRROR:-}" ]; then
  cache_flags=(--registry-mirror="$MINIKUBE_REGISTRY_MIRROR" --insecure-registry="$MINIKUBE_INSECURE_REGISTRY")
fi
start_code=0
minikube start \
  --profile="$MINIKUBE_PROFILE" \
  --driver="$MINIKUBE_DRIVER" \
  --container-runtime=docker \
  --cpus="$MINIKUBE_CPUS" \
  --memory="$MINIKUBE_MEMORY" \
  --kubernetes-version="$MINIKUBE_KUBERNETES_VERSION" \
  --nodes="$MINIKUBE_NODES" \
  ${ports_flag[@]+"${ports_flag[@]}"} \
  ${cache_flags[@]+"${cache_flags[@]}"} \
  --keep-context >&2 || start_code=$?
if [ "$start_code" -ne 0 ]; then
  if [ "$created_here" = true ]; then
    echo "local-mesh: minikube start failed; deleting the half-created profile ${MINIKUBE_PROFILE}" >&2
    minikube delete --profile="$MINIKUBE_PROFILE" >&2 || true
  fi
  exit "$start_code"
fi
echo "local-mesh: minikube profile ${MINIKUBE_PROFILE} is running" >&2
