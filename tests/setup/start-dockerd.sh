#!/bin/sh
# Start the Docker engine for the Molecule tests if nothing answers yet.
#
# The test machines have no init system that starts dockerd (PID 1 is not
# systemd), so we start it ourselves, in the background, logging to a file.
# CI must fail rather than skip when the engine cannot start: on failure this
# prints the tail of the log and exits non-zero.
#
# Usage: tests/setup/start-dockerd.sh
# Environment:
#   DOCKERD_LOG      log file (default /var/log/sysreport-dockerd.log)
#   DOCKERD_TIMEOUT  seconds to wait for the engine to answer (default 60)
#   DOCKERD_ARGS     extra dockerd arguments (e.g. a second engine for a
#                    try-out: -H unix:///tmp/d2.sock --data-root ... with
#                    DOCKER_HOST pointing at it)
set -eu

log=${DOCKERD_LOG:-/var/log/sysreport-dockerd.log}
timeout=${DOCKERD_TIMEOUT:-60}

if docker info >/dev/null 2>&1; then
    echo "dockerd: already running"
    exit 0
fi

command -v dockerd >/dev/null 2>&1 || {
    echo "dockerd: not installed; run tests/setup/install-host-packages.sh first" >&2
    exit 1
}

# start_engine FLAGS...: start dockerd in its own session and wait until
# `docker info` answers. Returns 1 if it died or did not answer in time.
start_engine() {
    echo "dockerd: starting (${DOCKERD_ARGS:-} $*), log in $log"
    echo "=== $(date -u +%FT%TZ) dockerd ${DOCKERD_ARGS:-} $*" >>"$log"
    # Containers inherit the engine's open-files limit. A systemd host gives
    # PID 1 a hard limit of 512Ki or more, and dbus-daemon and systemd in
    # the containers expect that ("Failed to set fd limit"); a CI runner's
    # shell may be far lower, so raise it (as root we may, up to nr_open).
    (
        # shellcheck disable=SC3045  # dash (Debian's sh) has ulimit -n and -H
        ulimit -n 1048576 2>/dev/null ||
            echo "dockerd: cannot raise the open-files limit (hard $(ulimit -Hn), no CAP_SYS_RESOURCE?); containers inherit it"
        # shellcheck disable=SC2086  # DOCKERD_ARGS is a list of arguments
        exec setsid nohup dockerd ${DOCKERD_ARGS:-} "$@" >>"$log" 2>&1 </dev/null
    ) &
    pid=$!
    waited=0
    while [ "$waited" -lt "$timeout" ]; do
        if docker info >/dev/null 2>&1; then
            echo "dockerd: ready after ${waited}s (pid $pid)"
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "dockerd: exited during start-up" >&2
            return 1
        fi
        sleep 1
        waited=$((waited + 1))
    done
    echo "dockerd: no answer after ${timeout}s" >&2
    kill "$pid" 2>/dev/null || true
    sleep 2
    return 1
}

# The defaults (overlay2, cgroupfs, a bridge with iptables NAT) work on our
# test machines. The Molecule containers use network_mode none, so if this
# kernel cannot set up the bridge or iptables, run the engine without them
# rather than not at all (only `docker build`/`run` with the default bridge
# network need it).
if start_engine; then
    exit 0
fi
echo "dockerd: retrying without the default bridge and iptables" >&2
if start_engine --bridge=none --iptables=false --ip6tables=false; then
    echo "dockerd: WARNING: no bridge network; use --network none for containers" >&2
    exit 0
fi

echo "dockerd: FAILED to start; last lines of $log:" >&2
tail -n 40 "$log" >&2
exit 1
