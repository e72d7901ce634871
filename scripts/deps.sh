#!/usr/bin/env bash
# scripts/deps.sh - install the Debian packages faultline needs, when missing.
# Idempotent and quiet when everything is present. Needs root (or sudo) only
# when something has to be installed. Usage: scripts/deps.sh [build|live|all|bench|mutants|slurm]
set -euo pipefail

what=${1:-build}

build_pkgs=(gcc make pkg-config curl python3 libevent-dev libhiredis-dev libpq-dev
            libcurl4-openssl-dev check libsubunit-dev libfyaml-dev
            libjansson-dev libssl-dev libgmime-3.0-dev)
live_pkgs=(redis-server redis-tools postgresql postgresql-client
           libxml2-utils chromium nodejs  # nodejs (with npm): examples/deliver
           parallel yamllint python3-yaml  # tests of the sharding examples
           man-db)  # tests/cli/install.sh renders the manual page
bench_pkgs=(haproxy valgrind)  # make bench: the reference proxy; callgrind for instruction counts
mutants_pkgs=(python3-clang patch)  # make mutants: libclang for the operator pass
slurm_pkgs=(slurm-wlm munge)  # make test-slurm: a one-node cluster on loopback

case "$what" in
  build) pkgs=("${build_pkgs[@]}") ;;
  live|all) pkgs=("${build_pkgs[@]}" "${live_pkgs[@]}") ;;
  bench) pkgs=("${build_pkgs[@]}" "${live_pkgs[@]}" "${bench_pkgs[@]}") ;;
  mutants) pkgs=("${build_pkgs[@]}" "${mutants_pkgs[@]}") ;;
  slurm) pkgs=("${build_pkgs[@]}" "${slurm_pkgs[@]}") ;;
  *) echo "usage: $0 [build|live|all|bench|mutants|slurm]" >&2; exit 2 ;;
esac

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "deps: need root to install: ${missing[*]}" >&2; exit 1; }
  sudo=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >/dev/null
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
