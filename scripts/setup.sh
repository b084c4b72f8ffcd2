#!/usr/bin/env bash
# One step from a fresh Debian/Ubuntu machine (as root, Node >= 20) to a built
# gatio: installs the system packages that are missing, the npm dependencies,
# and builds the addon and the TypeScript. Safe to run again: it skips what is
# already there.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
pkg-config --exists liburing 2>/dev/null || need+=(liburing-dev)
pkg-config --exists hwloc 2>/dev/null || need+=(libhwloc-dev)
pkg-config --exists numa 2>/dev/null || need+=(libnuma-dev)
# llhttp's C sources (the HTTP parser built into the addon): Debian's node-llhttp ships them
[ -f /usr/share/llhttp/llhttp.c ] && [ -f /usr/share/include/llhttp/llhttp.h ] || need+=(node-llhttp)
# the HTTP tests' real clients
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v wrk >/dev/null 2>&1 || need+=(wrk)
command -v g++ >/dev/null 2>&1 || need+=(g++)
command -v make >/dev/null 2>&1 || need+=(make)
command -v python3 >/dev/null 2>&1 || need+=(python3)

if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "gatio setup: missing system packages: ${need[*]}; run as root or: sudo apt-get install -y ${need[*]}" >&2
    exit 1
  fi
  echo "gatio setup: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# npm ci installs exactly package-lock.json (which lists every platform's
# optional packages, so it never rewrites it) and runs our install hook,
# which builds the addon.
npm ci --no-audit --no-fund
npm run build:ts
