# shellcheck shell=bash
# Included (components/shell.py, script) by cluster-create.sh, cluster-access.sh
# and cluster-delete.sh: whose a minikube profile is. The stack that creates a
# profile writes its owner line (LOCAL_MESH_OWNER) into the file local-mesh-owner
# in the profile's own folder, which `minikube delete` removes with the profile
# (pkg/minikube/config/profile.go:175-181, DeleteProfile: os.RemoveAll of the
# folder) and `minikube stop` and `start` leave alone (start rewrites only the
# folder's config.json: profile.go:137-172, SaveProfile; kubernetes/minikube v1.38.1).
# A stack starts, uses or deletes only a profile whose mark names it.

# The mark's path: the profile's folder in minikube's own folder, which is
# $MINIKUBE_HOME if that ends in .minikube, else $MINIKUBE_HOME/.minikube, else
# ~/.minikube (pkg/minikube/localpath/localpath.go:44-54, MiniPath, and :63-65, Profile).
owner_mark() {
  local home="${MINIKUBE_HOME:-}"
  if [ -z "$home" ]; then
    home="$HOME/.minikube"
  elif [ "$(basename "$home")" != .minikube ]; then
    home="$home/.minikube"
  fi
  printf '%s/profiles/%s/local-mesh-owner\n' "$home" "$MINIKUBE_PROFILE"
}

# Write this stack's owner line into MINIKUBE_PROFILE's mark.
mark_as_ours() {
  local mark
  mark=$(owner_mark)
  mkdir -p "$(dirname "$mark")"
  printf '%s\n' "$LOCAL_MESH_OWNER" >"$mark"
}

# The owner line of MINIKUBE_PROFILE, empty if it has none.
profile_owner() {
  local mark
  mark=$(owner_mark)
  if [ -f "$mark" ]; then
    cat "$mark"
  fi
}

# Nothing if MINIKUBE_PROFILE is this stack's; otherwise whose it is, as words
# that follow "minikube profile NAME".
profile_not_ours() {
  local owner
  owner=$(profile_owner)
  if [ "$owner" = "$LOCAL_MESH_OWNER" ]; then
    return 0
  fi
  if [ "$MINIKUBE_PROFILE" = minikube ]; then
    echo "is minikube's default profile (every minikube command without -p acts on it) and this stack did not make it"
  elif [ -z "$owner" ]; then
    echo "exists but no stack's mark is in it"
  else
    echo "belongs to stack ${owner}, not to this one (${LOCAL_MESH_OWNER})"
  fi
}

# Return 0 if MINIKUBE_PROFILE is this stack's to start; otherwise say, in one
# line on stderr, whose it is and what to do, and return 1.
refuse_unless_owned() {
  local whose
  whose=$(profile_not_ours)
  if [ -z "$whose" ]; then
    return 0
  fi
  local way_out="set local-mesh:profile to another name, or empty for this stack's own"
  if [ -z "$(profile_owner)" ] && [ "$MINIKUBE_PROFILE" != minikube ]; then
    way_out="if this stack made it (before local-mesh marked its profiles), claim it with  printf '%s\\n' $(printf '%q' "$LOCAL_MESH_OWNER") > $(printf '%q' "$(owner_mark)")  and run again; otherwise ${way_out}"
  fi
  echo "local-mesh: minikube profile ${MINIKUBE_PROFILE} ${whose}, so this stack neither starts nor uses it, and nothing was started or deleted: ${way_out}" >&2
  return 1
}
