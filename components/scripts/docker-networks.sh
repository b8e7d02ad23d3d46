#!/usr/bin/env bash
# Print this host's docker networks as `docker network inspect` prints them (a
# JSON array; components/model/network.py, read_docker_networks, reads it), so that
# MetalLB's pool on an existing cluster can be taken from the network its node
# is on. Where Docker cannot be asked (not installed, daemon down: a remote
# cluster needs neither), print one line `unavailable: <why>` and succeed.
# Runs on every preview and up; changes nothing. No inputs.
set -euo pipefail

if ! command -v docker >/dev/null 2>&1; then
  echo "unavailable: docker is not on PATH"
  exit 0
fi
errors=$(mktemp)
trap 'rm -f "$errors"' EXIT
# --quiet: the networks' IDs, one a line (docker/cli cli/command/network/list.go);
# without a daemon the CLI prints its connection error on stderr and exits 1.
if ! ids=$(docker network ls --quiet 2>"$errors"); then
  echo "unavailable: $(tail -n 1 "$errors")"
  exit 0
fi
if [ -z "$ids" ]; then
  echo "[]"
  exit 0
fi
# inspect takes several networks and prints one JSON array
# (docker/cli cli/command/network/inspect.go).
# shellcheck disable=SC2086 # one word per network ID
if ! networks=$(docker network inspect $ids 2>"$errors"); then
  echo "unavailable: $(tail -n 1 "$errors")"
  exit 0
fi
printf '%s\n' "$networks"
