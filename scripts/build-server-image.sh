#!/usr/bin/env bash
# Build the server image (Dockerfile target `server`: gunicorn web app and `assay worker`)
# offline, from the same base as the grader image.
#
#   1. assay-base:bookworm must exist: scripts/build-grader-image.sh makes it (debootstrap).
#   2. var/server-wheelhouse gets the server's wheels (pip download, exact pins from
#      requirements.txt), skipped when the package list and pins have not changed.
#   3. assay-server:<hash of the build inputs>, also tagged assay-server:latest; skipped
#      when that tag already exists.
#
# Environment: SERVER_IMAGE (default assay-server), BASE_IMAGE (default assay-base:bookworm),
# PYTHON (the interpreter whose pip downloads wheels; default .venv/bin/python or python3).
# The base image's Python is 3.11.2: redis needs async-timeout below 3.11.3, a marker pip
# download judges by the running interpreter, so it is named explicitly.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

BASE_IMAGE="${BASE_IMAGE:-assay-base:bookworm}"
SERVER_IMAGE="${SERVER_IMAGE:-assay-server}"
# Its own wheelhouse: adding to var/wheelhouse would change the grader stages' build context.
WHEELHOUSE="$ROOT/var/server-wheelhouse"
PYTHON="${PYTHON:-$([ -x "$ROOT/.venv/bin/python" ] && echo "$ROOT/.venv/bin/python" || echo python3)}"

log() { printf '[build-server-image] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

server_packages() {
    sed -n 's/^ARG SERVER_PACKAGES="\(.*\)"$/\1/p' Dockerfile | tr ' ' '\n'
}

fill_wheelhouse() {
    local stamp
    mkdir -p "$WHEELHOUSE"
    stamp="$( (cat requirements.txt; server_packages) | sha256sum | cut -c1-64)"
    if [ "$(cat "$WHEELHOUSE/.stamp" 2>/dev/null)" = "$stamp" ]; then
        log "server wheelhouse up to date"
        return
    fi
    log "pip download into var/server-wheelhouse"
    # shellcheck disable=SC2046
    "$PYTHON" -m pip download --quiet --quiet --dest "$WHEELHOUSE" --only-binary=:all: \
        --implementation cp --python-version 3.11 --abi cp311 --abi abi3 --abi none \
        --platform manylinux_2_36_x86_64 --platform manylinux_2_28_x86_64 \
        --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 --platform manylinux1_x86_64 --platform linux_x86_64 \
        -c requirements.txt $(server_packages) async-timeout
    echo "$stamp" >"$WHEELHOUSE/.stamp"
}

input_hash() {
    {
        sha256sum Dockerfile requirements.txt
        find graders sandbox server challenges -type f ! -name '*.pyc' -print0 | sort -z \
            | xargs -0 sha256sum
        docker image inspect --format '{{.Id}}' "$BASE_IMAGE"
    } | sha256sum | cut -c1-12
}

main() {
    docker info >/dev/null 2>&1 || die "no Docker engine answers (scripts/start-dockerd.sh)"
    docker image inspect "$BASE_IMAGE" >/dev/null 2>&1 \
        || die "$BASE_IMAGE is missing: run scripts/build-grader-image.sh (make image) first"
    fill_wheelhouse
    local tag
    tag="$SERVER_IMAGE:$(input_hash)"
    if docker image inspect "$tag" >/dev/null 2>&1; then
        log "$tag exists; build skipped"
    else
        log "docker build $tag"
        DOCKER_BUILDKIT=0 docker build --target server --build-arg BASE_IMAGE="$BASE_IMAGE" \
            --label "assay.inputs=$tag" -t "$tag" . \
            >"$ROOT/var/server-build.log" 2>&1 || die "docker build failed; see var/server-build.log"
    fi
    docker tag "$tag" "$SERVER_IMAGE:latest"
    log "ready: $tag (also $SERVER_IMAGE:latest)"
}

main "$@"
