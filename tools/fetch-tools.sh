#!/usr/bin/env bash
# Fetch the CLIs local-mesh drives, if they are not on PATH (or, for pulumi,
# older than local-mesh needs), at pinned versions into a project-local folder
# (nothing system-wide), each verified against the SHA-256 checksum its
# publisher releases beside it.
# Usage: fetch-tools.sh DIR   (binaries land in DIR; put it on PATH)
# Docker is not fetched: it needs a daemon and root, and is a prerequisite.
set -euo pipefail
tools_dir=${1:?usage: fetch-tools.sh DIR}

case "${BASH_SOURCE[0]}" in */*) here=${BASH_SOURCE[0]%/*} ;; *) here=. ;; esac
# shellcheck source=SCRIPTDIR/../components/tool-versions.env
source "$here/../components/tool-versions.env"
MINIKUBE_VERSION=v$MINIKUBE_PINNED
KUBECTL_VERSION=v$KUBECTL_PINNED
PULUMI_VERSION=$PULUMI_PINNED
PULUMI_MINIMUM_VERSION=$PULUMI_MINIMUM
MINIKUBE_BASE_URL=${MINIKUBE_BASE_URL:-https://github.com/kubernetes/minikube/releases/download}
KUBECTL_BASE_URL=${KUBECTL_BASE_URL:-https://dl.k8s.io/release}
PULUMI_BASE_URL=${PULUMI_BASE_URL:-https://github.com/pulumi/pulumi/releases/download}

case "$(uname -m)" in
  x86_64 | amd64) arch=amd64 pulumi_arch=x64 ;;
  aarch64 | arm64) arch=arm64 pulumi_arch=arm64 ;;
  *) echo "local-mesh: no prebuilt tools for $(uname -m): install minikube, kubectl and pulumi yourself (see README)" >&2; exit 1 ;;
esac

workdir=$(mktemp -d)
trap 'rm -rf "$workdir"' EXIT
mkdir -p "$tools_dir"

download() { # url file
  if ! curl --fail --silent --show-error --location --retry 2 --connect-timeout 10 --output "$2" "$1" 2>"$workdir/curl.err"; then
    echo "local-mesh: cannot download $1 ($(tail -n 1 "$workdir/curl.err")): check the network, or install the tool yourself (see README)" >&2
    exit 1
  fi
}

verify() { # file expected-sha256 name
  local actual
  actual=$(sha256sum "$1" | cut -d ' ' -f 1)
  if [ "$actual" != "$2" ]; then
    echo "local-mesh: $3 failed its SHA-256 check (expected $2, got $actual): not installed" >&2
    exit 1
  fi
}

fetch_binary() { # name version url
  download "$3" "$workdir/$1"
  download "$3.sha256" "$workdir/$1.sha256"
  verify "$workdir/$1" "$(cut -d ' ' -f 1 "$workdir/$1.sha256")" "$1 $2"
  install -m 0755 "$workdir/$1" "$tools_dir/$1"
  echo "local-mesh: installed $1 $2 into $tools_dir" >&2
}

if ! command -v minikube >/dev/null 2>&1; then
  fetch_binary minikube "$MINIKUBE_VERSION" "$MINIKUBE_BASE_URL/$MINIKUBE_VERSION/minikube-linux-$arch"
fi
if ! command -v kubectl >/dev/null 2>&1; then
  fetch_binary kubectl "$KUBECTL_VERSION" "$KUBECTL_BASE_URL/$KUBECTL_VERSION/bin/linux/$arch/kubectl"
fi
pulumi_is_recent() { # `pulumi version` prints e.g. v3.272.0
  local found
  found=$(pulumi version 2>/dev/null) || return 1
  found=${found#v}
  [ "$(printf '%s\n%s\n' "$PULUMI_MINIMUM_VERSION" "$found" | sort -V | head -n 1)" = "$PULUMI_MINIMUM_VERSION" ]
}

if ! command -v pulumi >/dev/null 2>&1 || ! pulumi_is_recent; then
  if command -v pulumi >/dev/null 2>&1; then
    echo "local-mesh: pulumi $(pulumi version 2>/dev/null) on PATH is older than $PULUMI_MINIMUM_VERSION: fetching $PULUMI_VERSION" >&2
  fi
  archive="pulumi-v$PULUMI_VERSION-linux-$pulumi_arch.tar.gz"
  download "$PULUMI_BASE_URL/v$PULUMI_VERSION/$archive" "$workdir/$archive"
  download "$PULUMI_BASE_URL/v$PULUMI_VERSION/pulumi-$PULUMI_VERSION-checksums.txt" "$workdir/checksums.txt"
  expected=$(awk -v name="$archive" '$2 == name { print $1 }' "$workdir/checksums.txt")
  if [ -z "$expected" ]; then
    echo "local-mesh: pulumi-$PULUMI_VERSION-checksums.txt lists no $archive: not installed" >&2
    exit 1
  fi
  verify "$workdir/$archive" "$expected" "pulumi $PULUMI_VERSION"
  # The archive holds pulumi/pulumi and its language hosts.
  tar -xzf "$workdir/$archive" -C "$tools_dir" --strip-components=1
  echo "local-mesh: installed pulumi $PULUMI_VERSION into $tools_dir" >&2
fi
