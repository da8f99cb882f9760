#!/bin/bash
# Boot each image the way Molecule does and check that it behaves like a host.
#
# Usage: molecule/images/check.sh [RELEASE...]     (default: bullseye bookworm trixie)
#
# For each sysreport-debian:<release> image: start a container with the
# platform options from molecule/README.md, wait for `systemctl
# is-system-running` to say running (degraded counts as a failure here: the
# images are meant to boot clean), run systemd-analyze security and verify, and
# start a oneshot unit with LoadCredential= under an unprivileged User= and
# under DynamicUser=yes that must be able to read its credential.
# Prints the time each boot took; exits non-zero on the first broken release
# after printing the journal.
set -euo pipefail

releases=("$@")
[ ${#releases[@]} -gt 0 ] || releases=(bullseye bookworm trixie)

log() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*"; }

# The same options as the Molecule platforms (molecule/README.md).
run_container() { # NAME IMAGE
    docker run -d --name "$1" --hostname "$1" \
        --cap-add SYS_ADMIN \
        --cgroupns host \
        -v /sys/fs/cgroup:/sys/fs/cgroup:rw \
        --tmpfs /run --tmpfs /run/lock \
        --security-opt seccomp=unconfined \
        --security-opt apparmor=unconfined \
        --network none \
        --stop-signal SIGRTMIN+3 \
        "$2" /sbin/init >/dev/null
}

# A oneshot unit as the role's service uses credentials: a 0600 root file
# passed with LoadCredential= to a service that runs as another user.
# shellcheck disable=SC2016  # expanded by the shell in the container, not here
credential_test='set -e
mkdir -p /etc/sysreport
printf s3cret >/etc/sysreport/smtp-password
chmod 0600 /etc/sysreport/smtp-password
id credtest >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin credtest
for kind in user dynamic; do
  if [ $kind = user ]; then who=User=credtest; else who=DynamicUser=yes; fi
  cat >/etc/systemd/system/credtest-$kind.service <<EOF
[Unit]
Description=LoadCredential= check ($kind)
[Service]
Type=oneshot
$who
LoadCredential=smtp-password:/etc/sysreport/smtp-password
ExecStart=/bin/sh -c "ls -la \$\$CREDENTIALS_DIRECTORY; test \"\$\$(cat \$\$CREDENTIALS_DIRECTORY/smtp-password)\" = s3cret"
EOF
done
systemctl daemon-reload
for kind in user dynamic; do
  if systemctl start credtest-$kind.service; then
    echo "LoadCredential ($kind): readable by the service user"
  else
    echo "LoadCredential ($kind): FAILED"; journalctl -u credtest-$kind.service --no-pager -o cat; exit 1
  fi
done'

rc=0
for release in "${releases[@]}"; do
    name=sysreport-check-$release
    docker rm -f "$name" >/dev/null 2>&1 || true
    t0=$(date +%s%N)
    run_container "$name" "sysreport-debian:$release"
    # Poll: right after `docker run`, PID 1 may not answer yet ("offline" or
    # no bus); `--wait` then blocks until start-up has finished.
    state=unknown
    for _ in $(seq 1 60); do
        state=$(docker exec "$name" systemctl is-system-running --wait 2>/dev/null || true)
        case "$state" in running|degraded|maintenance|stopping) break ;; esac
        sleep 0.5
    done
    ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    boot=$((ms / 1000)).$((ms % 1000 / 100))
    version=$(docker exec "$name" systemctl --version | head -n1)
    log "$release: $version: $state after ${boot}s"
    ok=1
    if [ "$state" != running ]; then
        ok=0
        docker exec "$name" systemctl --failed --no-pager || true
    fi
    if ! docker exec "$name" systemd-analyze security --no-pager systemd-journald.service | tail -n1; then
        ok=0; log "$release: systemd-analyze security FAILED"
    fi
    # --man=no: the images carry no man pages (Documentation= would fail).
    if ! docker exec "$name" systemd-analyze verify --man=no systemd-journald.service; then
        ok=0; log "$release: systemd-analyze verify FAILED"
    fi
    if ! docker exec "$name" sh -c "$credential_test"; then
        ok=0
    fi
    if [ "$ok" = 1 ]; then
        log "$release: OK"
        docker rm -f "$name" >/dev/null
    else
        rc=1
        log "$release: BROKEN; journal follows; container $name left running for inspection" >&2
        docker exec "$name" journalctl -b --no-pager -p warning | tail -n 40 >&2 || true
    fi
done
exit "$rc"
