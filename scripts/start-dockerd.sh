#!/usr/bin/env bash
# Start a Docker engine for the grader sandboxes, unless one already answers.
#
# Graders have no network, so the engine needs neither iptables rules nor a bridge:
# `dockerd --iptables=false --bridge=none`. On this workplace's VMs (ext4 root, cgroup v1
# hybrid) the default overlay2 storage driver works; if dockerd dies at start-up with
# overlay2 (e.g. on an overlay or fuse root), the script retries once with vfs.
#
# Environment: DOCKERD_LOG (default /var/log/assay-dockerd.log), DOCKERD_TIMEOUT (seconds
# to wait for the engine to answer, default 60).
set -euo pipefail

LOG="${DOCKERD_LOG:-/var/log/assay-dockerd.log}"
TIMEOUT="${DOCKERD_TIMEOUT:-60}"

log() { printf '[start-dockerd] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

answers() { docker info >/dev/null 2>&1; }

# Start dockerd in its own session (it outlives this script) and print its pid.
launch() {
    setsid nohup dockerd --iptables=false --bridge=none "$@" >>"$LOG" 2>&1 </dev/null &
    echo $!
}

# Wait until the engine answers; fail early if the daemon exits.
wait_for() {
    local pid="$1" waited=0
    while [ "$waited" -lt "$TIMEOUT" ]; do
        answers && return 0
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 1
        waited=$((waited + 1))
    done
    return 2
}

main() {
    if answers; then
        log "engine already answers"
        return
    fi
    command -v dockerd >/dev/null || die "dockerd is missing (scripts/system-deps.sh)"
    [ "$(id -u)" -eq 0 ] || die "dockerd must be started as root"
    local pid status=0
    pid="$(launch)"
    wait_for "$pid" || status=$?
    if [ "$status" -eq 1 ]; then
        log "dockerd exited with the default storage driver; retrying with vfs (see $LOG)"
        pid="$(launch --storage-driver=vfs)"
        status=0
        wait_for "$pid" || status=$?
    fi
    [ "$status" -eq 0 ] || die "engine did not answer within ${TIMEOUT}s; see $LOG"
    log "engine up (pid $pid, log $LOG)"
}

main "$@"
