#!/usr/bin/env bash
# Build the grader image (Dockerfile target `grader`) offline.
#
#   1. assay-base:bookworm, if missing: debootstrap a minimal Debian from the mirror that
#      this machine's apt is configured with, then `docker import` it.
#   2. var/wheelhouse: `pip download` the grader's wheels (linux x86_64, cp311), skipped
#      when the package list and pins have not changed.
#   3. assay-grader:<hash of the build inputs>, also tagged assay-grader:latest; skipped
#      when that tag already exists.
#
# Environment: TF_PACKAGE (default tensorflow-cpu; "tensorflow[and-cuda]" for GPUs),
# GRADER_IMAGE (default assay-grader), BASE_IMAGE (default assay-base:bookworm),
# PYTHON (the interpreter whose pip downloads wheels; default .venv/bin/python or python3).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

SUITE=bookworm
BASE_IMAGE="${BASE_IMAGE:-assay-base:bookworm}"
GRADER_IMAGE="${GRADER_IMAGE:-assay-grader}"
TF_PACKAGE="${TF_PACKAGE:-tensorflow-cpu}"
WHEELHOUSE="$ROOT/var/wheelhouse"
PYTHON="${PYTHON:-$([ -x "$ROOT/.venv/bin/python" ] && echo "$ROOT/.venv/bin/python" || echo python3)}"

log() { printf '[build-grader-image] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Print "URI KEYRING" of the first apt source for $SUITE (deb822 .sources, then one-line).
debian_mirror() {
    local f
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk -v suite="$SUITE" '
            BEGIN { RS = ""; FS = "\n" }
            {
                types = ""; uris = ""; suites = ""; key = ""; enabled = "yes"
                for (i = 1; i <= NF; i++) {
                    if ($i ~ /^[ \t]*#/) continue
                    split($i, kv, ":[ \t]*"); name = tolower(kv[1]); value = substr($i, length(kv[1]) + 2)
                    gsub(/^[ \t]+|[ \t]+$/, "", value)
                    if (name == "types") types = value
                    else if (name == "uris") uris = value
                    else if (name == "suites") suites = value
                    else if (name == "signed-by") key = value
                    else if (name == "enabled") enabled = tolower(value)
                }
                if (enabled == "no" || (" " types " ") !~ / deb /) next
                if ((" " suites " ") ~ (" " suite " ")) { split(uris, u, " "); print u[1], key; exit }
            }' "$f"
    done
    cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | awk -v suite="$SUITE" '
        $1 == "deb" {
            key = ""; i = 2
            if ($2 ~ /^\[/) {
                for (; i <= NF; i++) {
                    if ($i ~ /signed-by=/) { key = $i; sub(/.*signed-by=/, "", key); sub(/\]$/, "", key) }
                    if ($i ~ /\]$/) break
                }
                i++
            }
            if ($(i + 1) == suite) { print $i, key; exit }
        }'
}

build_base_image() {
    if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
        log "base image $BASE_IMAGE exists"
        return
    fi
    command -v debootstrap >/dev/null || die "debootstrap is missing (scripts/system-deps.sh)"
    local mirror keyring rootfs
    read -r mirror keyring < <(debian_mirror | head -n 1) || true
    [ -n "${mirror:-}" ] || die "no apt source for $SUITE in /etc/apt/sources.list(.d)"
    rootfs="$ROOT/var/rootfs.$$"
    trap "rm -rf '$rootfs'" EXIT
    log "debootstrap $SUITE from $mirror into $rootfs"
    mkdir -p "$ROOT/var/debootstrap-cache"
    debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates \
        --cache-dir="$ROOT/var/debootstrap-cache" ${keyring:+--keyring="$keyring"} \
        "$SUITE" "$rootfs" "$mirror" >"$ROOT/var/debootstrap.log" 2>&1 \
        || die "debootstrap failed; see var/debootstrap.log"
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/* "$rootfs"/usr/share/doc/* \
        "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/*
    log "docker import -> $BASE_IMAGE"
    tar -C "$rootfs" -c . | docker import - "$BASE_IMAGE" >/dev/null
    rm -rf "$rootfs"
    trap - EXIT
}

# Exact pins: requirements.txt when present, else the Dockerfile's FALLBACK_PINS.
write_constraints() {
    if [ -f requirements.txt ]; then
        cat requirements.txt
    else
        sed -n 's/^ARG FALLBACK_PINS="\(.*\)"$/\1/p' Dockerfile | tr ' ' '\n'
    fi
}

grader_packages() {
    echo "$TF_PACKAGE"
    sed -n 's/^ARG GRADER_PACKAGES="\(.*\)"$/\1/p' Dockerfile | tr ' ' '\n'
}

fill_wheelhouse() {
    local constraints stamp
    mkdir -p "$WHEELHOUSE"
    constraints="$ROOT/var/grader-constraints.txt"
    write_constraints >"$constraints"
    stamp="$( (cat "$constraints"; grader_packages) | sha256sum | cut -c1-64)"
    if [ "$(cat "$WHEELHOUSE/.stamp" 2>/dev/null)" = "$stamp" ]; then
        log "wheelhouse up to date"
        return
    fi
    log "pip download into var/wheelhouse"
    # shellcheck disable=SC2046
    "$PYTHON" -m pip download --quiet --quiet --dest "$WHEELHOUSE" --only-binary=:all: \
        --implementation cp --python-version 3.11 --abi cp311 --abi abi3 --abi none \
        --platform manylinux_2_36_x86_64 --platform manylinux_2_28_x86_64 \
        --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 --platform manylinux1_x86_64 --platform linux_x86_64 \
        -c "$constraints" $(grader_packages)
    echo "$stamp" >"$WHEELHOUSE/.stamp"
}

# Hash of everything the image is built from.
input_hash() {
    {
        sha256sum Dockerfile sandbox/harness.py
        [ -f requirements.txt ] && sha256sum requirements.txt
        echo "TF_PACKAGE=$TF_PACKAGE"
        docker image inspect --format '{{.Id}}' "$BASE_IMAGE"
    } | sha256sum | cut -c1-12
}

build_grader_image() {
    local tag
    [ -f sandbox/harness.py ] || die "sandbox/harness.py is missing"
    tag="$GRADER_IMAGE:$(input_hash)"
    if docker image inspect "$tag" >/dev/null 2>&1; then
        log "$tag exists; build skipped"
    else
        log "docker build $tag"
        DOCKER_BUILDKIT=0 docker build --target grader --build-arg BASE_IMAGE="$BASE_IMAGE" \
            --build-arg TF_PACKAGE="$TF_PACKAGE" --label "assay.inputs=$tag" -t "$tag" . \
            >"$ROOT/var/grader-build.log" 2>&1 || die "docker build failed; see var/grader-build.log"
    fi
    docker tag "$tag" "$GRADER_IMAGE:latest"
    log "ready: $tag (also $GRADER_IMAGE:latest)"
}

main() {
    docker info >/dev/null 2>&1 || die "no Docker engine answers (scripts/start-dockerd.sh)"
    build_base_image
    fill_wheelhouse
    build_grader_image
}

main "$@"
