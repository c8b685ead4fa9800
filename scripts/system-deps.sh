#!/usr/bin/env bash
# Install the system packages the sandbox backends and the image build need (Debian):
# docker.io (engine), bubblewrap, libseccomp2 and python3-venv (bwrap backend: its seccomp
# filter and its grader environment), debootstrap (offline base image), chromium and
# fonts-noto-cjk (the browser tests drive Debian's chromium through Playwright; the Chinese
# pages need the CJK fonts), postgresql and redis-server (the scale-out tests start both on
# 127.0.0.1: scripts/start-services.sh), docker-compose (CI checks docker-compose.yml),
# nodejs and npm (scripts/install-browser-deps.sh installs the pinned axe-core), or
# only the packages named as arguments (`make demo` asks for
# the bwrap backend's alone).
# Idempotent and quiet: does nothing when all are installed.
set -euo pipefail

PACKAGES=("$@")
[ "${#PACKAGES[@]}" -gt 0 ] || PACKAGES=(docker.io bubblewrap libseccomp2 python3-venv debootstrap chromium fonts-noto-cjk postgresql redis-server docker-compose nodejs)
# Debian's nodejs comes without npm (its own package); NodeSource's nodejs includes it.
[ "$#" -gt 0 ] || command -v npm >/dev/null || PACKAGES+=(npm)

missing=()
for pkg in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' \
        || missing+=("$pkg")
done
[ "${#missing[@]}" -eq 0 ] && exit 0

[ "$(id -u)" -eq 0 ] || { echo "system-deps: run as root to install: ${missing[*]}" >&2; exit 1; }
echo "system-deps: installing ${missing[*]}" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
