#!/usr/bin/env bash
# Fetch the CLIs local-mesh drives, if they are not on PATH or older than
# local-mesh needs, at pinned versions into a project-local folder (nothing
# system-wide), each verified against the SHA-256 checksum its publisher
# releases beside it. Every tool is tried; what could not be fetched is listed
# at the end, one line each, and the script then exits 1.
# Usage: fetch-tools.sh DIR   (binaries land in DIR; put it on PATH)
# Docker is not fetched: it needs a daemon and root, and is a prerequisite.
set -euo pipefail
tools_dir=${1:?usage: fetch-tools.sh DIR}

case "${BASH_SOURCE[0]}" in */*) here=${BASH_SOURCE[0]%/*} ;; *) here=. ;; esac
# shellcheck source=SCRIPTDIR/../components/tool-versions.env
source "$here/../components/tool-versions.env"
MINIKUBE_BASE_URL=${MINIKUBE_BASE_URL:-https://github.com/kubernetes/minikube/releases/download}
KUBECTL_BASE_URL=${KUBECTL_BASE_URL:-https://dl.k8s.io/release}
PULUMI_BASE_URL=${PULUMI_BASE_URL:-https://github.com/pulumi/pulumi/releases/download}
# Each download, retries included, ends within DOWNLOAD_MAX_SECONDS, and gives
# up sooner when it moves less than 1 KiB/s for DOWNLOAD_STALL_SECONDS (a server
# that accepts and never answers). curl: --max-time bounds one attempt,
# --retry-max-time stops retrying once that much time has passed, and
# --speed-limit/--speed-time abort a stalled transfer (curl docs/cmdline-opts
# max-time.d, retry-max-time.d, speed-limit.d, speed-time.d).
DOWNLOAD_MAX_SECONDS=${DOWNLOAD_MAX_SECONDS:-600}
DOWNLOAD_STALL_SECONDS=${DOWNLOAD_STALL_SECONDS:-30}

# Each publisher builds for Linux and macOS (darwin), amd64 and arm64:
# minikube-<os>-<arch> + .sha256 (kubernetes/minikube Makefile, `checksum`,
# v1.38.1), dl.k8s.io/release/<v>/bin/<os>/<arch>/kubectl + .sha256
# (kubernetes/website docs/tasks/tools/install-kubectl-{linux,macos}.md),
# pulumi-v<V>-<os>-<x64|arm64>.tar.gz + pulumi-<V>-checksums.txt
# (pulumi/pulumi .goreleaser.yml, archives and checksum name_template, v3.259.0).
# `uname -m` is aarch64 on Linux arm64 (linux arch/arm64/Makefile, UTS_MACHINE)
# and arm64 on Apple silicon (Homebrew/install install.sh).
system=$(uname -s)
case "$system" in
  Linux) os=linux ;;
  Darwin) os=darwin ;;
  *) os='' ;;
esac
case "$(uname -m)" in
  x86_64 | amd64) arch=amd64 pulumi_arch=x64 ;;
  aarch64 | arm64) arch=arm64 pulumi_arch=arm64 ;;
  *) arch='' pulumi_arch='' ;;
esac
# GNU coreutils has sha256sum; macOS ships Perl's shasum, whose `-a 256`
# prints the same "<hash>  <file>" (perl's shasum 6.02, Digest::SHA: the
# digest, then " " and the mode symbol, " " in text mode, then the file).
if command -v sha256sum >/dev/null 2>&1; then
  sha256='sha256sum'
elif command -v shasum >/dev/null 2>&1; then
  sha256='shasum -a 256'
else
  sha256=''
fi

workdir=$(mktemp -d)
trap 'rm -rf "$workdir"' EXIT
mkdir -p "$tools_dir"
failures=()

download() { # url file; on failure, records why and returns 1
  if ! curl --fail --silent --show-error --location --connect-timeout 10 \
    --max-time "$DOWNLOAD_MAX_SECONDS" --speed-limit 1024 --speed-time "$DOWNLOAD_STALL_SECONDS" \
    --retry 2 --retry-max-time "$DOWNLOAD_MAX_SECONDS" \
    --output "$2" "$1" 2>"$workdir/curl.err"; then
    failures+=("local-mesh: cannot download $1 ($(tail -n 1 "$workdir/curl.err")): check the network, or install the tool yourself (see README)")
    return 1
  fi
}

verify() { # file expected-sha256 name
  local actual
  # $sha256 is a command and its options, split on purpose.
  # shellcheck disable=SC2086
  actual=$($sha256 "$1" | cut -d ' ' -f 1)
  if [ "$actual" != "$2" ]; then
    failures+=("local-mesh: $3 failed its SHA-256 check (expected $2, got $actual): not installed")
    return 1
  fi
}

fetch_binary() { # name version url
  download "$3" "$workdir/$1" || return 0
  download "$3.sha256" "$workdir/$1.sha256" || return 0
  verify "$workdir/$1" "$(cut -d ' ' -f 1 "$workdir/$1.sha256")" "$1 $2" || return 0
  install -m 0755 "$workdir/$1" "$tools_dir/$1"
  echo "local-mesh: installed $1 $2 into $tools_dir" >&2
}

fetch_pulumi() {
  local archive expected
  archive="pulumi-v$PULUMI_PINNED-$os-$pulumi_arch.tar.gz"
  download "$PULUMI_BASE_URL/v$PULUMI_PINNED/$archive" "$workdir/$archive" || return 0
  download "$PULUMI_BASE_URL/v$PULUMI_PINNED/pulumi-$PULUMI_PINNED-checksums.txt" "$workdir/checksums.txt" || return 0
  expected=$(awk -v name="$archive" '$2 == name { print $1 }' "$workdir/checksums.txt")
  if [ -z "$expected" ]; then
    failures+=("local-mesh: pulumi-$PULUMI_PINNED-checksums.txt lists no $archive: not installed")
    return 0
  fi
  verify "$workdir/$archive" "$expected" "pulumi v$PULUMI_PINNED" || return 0
  # The archive holds pulumi/pulumi and its language hosts. macOS's tar
  # (libarchive's bsdtar) strips components too (Apple's libarchive,
  # tar/test/test_strip_components.c).
  tar -xzf "$workdir/$archive" -C "$tools_dir" --strip-components=1
  echo "local-mesh: installed pulumi v$PULUMI_PINNED into $tools_dir" >&2
}

installed_version() { # tool: its version without the v, empty if it does not say
  case "$1" in
    # `minikube version --short` prints e.g. v1.38.1 (minikube cmd/minikube/cmd/version.go).
    minikube) minikube version --short 2>/dev/null | head -n 1 ;;
    # The client's gitVersion, e.g. "gitVersion": "v1.35.1" (kubectl pkg/cmd/version/version.go).
    kubectl) kubectl version --client --output=json 2>/dev/null | sed -n 's/.*"gitVersion": *"\([^"]*\)".*/\1/p' | head -n 1 ;;
    # `pulumi version` prints e.g. v3.272.0 (pulumi/pulumi pkg/cmd/pulumi/version/version.go).
    pulumi) pulumi version 2>/dev/null | head -n 1 ;;
  esac | sed -n 's/^v\{0,1\}\([0-9][0-9.]*\).*/\1/p'
}

at_least() { # found minimum
  [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n 1)" = "$2" ]
}

# The checks run with bash 3.2 too (macOS): no ${var^^}.
for tool in minikube kubectl pulumi; do
  case "$tool" in
    minikube) minimum=$MINIKUBE_MINIMUM pinned=$MINIKUBE_PINNED ;;
    kubectl) minimum=$KUBECTL_MINIMUM pinned=$KUBECTL_PINNED ;;
    pulumi) minimum=$PULUMI_MINIMUM pinned=$PULUMI_PINNED ;;
  esac
  if command -v "$tool" >/dev/null 2>&1; then
    found=$(installed_version "$tool")
    if [ -z "$found" ]; then
      echo "local-mesh: $tool on PATH does not say its version: fetching v$pinned into $tools_dir" >&2
    elif at_least "$found" "$minimum"; then
      continue
    else
      echo "local-mesh: $tool v$found on PATH is older than $minimum: fetching v$pinned into $tools_dir" >&2
    fi
  fi
  if [ -z "$os" ]; then
    failures+=("local-mesh: no prebuilt $tool for $system (local-mesh fetches Linux and macOS builds): install $tool $minimum or newer yourself (see docs/prerequisites.md)")
    continue
  fi
  if [ -z "$arch" ]; then
    failures+=("local-mesh: no prebuilt $tool for $(uname -m): install $tool $minimum or newer yourself (see README)")
    continue
  fi
  if [ -z "$sha256" ]; then
    failures+=("local-mesh: neither sha256sum nor shasum is on PATH to check $tool: install one (coreutils or perl), or install $tool $minimum or newer yourself")
    continue
  fi
  case "$tool" in
    minikube) fetch_binary minikube "v$pinned" "$MINIKUBE_BASE_URL/v$pinned/minikube-$os-$arch" ;;
    kubectl) fetch_binary kubectl "v$pinned" "$KUBECTL_BASE_URL/v$pinned/bin/$os/$arch/kubectl" ;;
    pulumi) fetch_pulumi ;;
  esac
done

if [ "${#failures[@]}" -gt 0 ]; then
  printf '%s\n' "${failures[@]}" >&2
  exit 1
fi
