#!/usr/bin/env bash
# Installs what slimnet needs on a Debian machine with Node 20 and builds the
# native addon. Each step is skipped when its result is already there, so the
# script is a no-op on a ready machine. Set SLIMNET_SKIP_APT=1 to skip apt
# (e.g. when LIBTORCH points at your own libtorch).
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(libtorch-dev libgloo-dev libopenblas0-openmp python3-torch dataset-fashion-mnist cmake g++ ninja-build)

missing=()
if [ "${SLIMNET_SKIP_APT:-0}" != "1" ] && command -v dpkg-query >/dev/null; then
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "slimnet setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# npm ci when node_modules is missing or older than the lockfile. Its install
# step builds the addon (package.json "install": scripts/build-native.mjs);
# onnxruntime-node's would download CUDA files, which slimnet does not use
# (.npmrc says the same for a bare `npm ci`).
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "slimnet setup: npm ci"
  ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund --loglevel=error
fi

# A no-op when npm ci just built the addon; otherwise builds it when a native
# source is newer than it (or it is missing).
node scripts/build-native.mjs
