#!/bin/bash
# Build the Debian base images the Molecule scenarios boot with systemd.
#
# Usage: molecule/images/build.sh [RELEASE...]     (default: bullseye bookworm trixie)
#
# Each release becomes the local image sysreport-debian:<release>: a minbase
# root file system (mmdebstrap, or debootstrap if that is missing) with
# systemd as PID 1, python3 and python3-venv for Ansible and the role, trimmed of what cannot work or is useless in a
# container, imported with `docker import` (no registry needed).
#
# Caching, in order (the "recipe hash" covers this file, the release and the
# mirror, so any change to the recipe rebuilds):
#   1. the image exists with label org.sysreport.recipe=<hash>  -> nothing to do
#   2. $SYSREPORT_IMAGE_CACHE/<release>-<hash>.tar.zst exists    -> import it (seconds)
#   3. otherwise bootstrap it (under a minute), save the tarball, import.
# Releases are built in parallel; each one's log is in $SYSREPORT_IMAGE_CACHE/logs/.
#
# Environment:
#   SYSREPORT_IMAGE_CACHE    cache directory (default /var/cache/sysreport-images)
#   SYSREPORT_DEBIAN_MIRROR  Debian mirror (default: the one this machine's apt uses)
#   SYSREPORT_IMAGE_REBUILD  1 = ignore the cached image and tarball
#   SYSREPORT_IMAGE_REPOSITORY  image name (default sysreport-debian)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
self="$here/$(basename "$0")"
cache=${SYSREPORT_IMAGE_CACHE:-/var/cache/sysreport-images}
repository=${SYSREPORT_IMAGE_REPOSITORY:-sysreport-debian}
label=org.sysreport.recipe

# The packages on top of minbase. systemd-sysv gives /sbin/init; dbus lets
# systemctl and systemd-analyze talk to PID 1 the way they do on a host;
# python3 + python3-venv: Ansible's modules and the role's `python3 -m venv`;
# python3-apt: Ansible's apt module; sudo and acl: `become` and `become_user`
# (Ansible shares its temporary files with an unprivileged user via setfacl);
# procps: ps/pgrep for debugging and the verify steps.
packages=systemd,systemd-sysv,dbus,python3,python3-venv,python3-apt,sudo,acl,procps

log() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*"; }
die() { log "ERROR: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (bootstrapping and the Docker engine need it)"
command -v mmdebstrap >/dev/null || command -v debootstrap >/dev/null \
    || die "neither mmdebstrap nor debootstrap is installed; run tests/setup/install-host-packages.sh"
for tool in docker zstd wget; do
    command -v "$tool" >/dev/null || die "$tool is missing; run tests/setup/install-host-packages.sh"
done
docker info >/dev/null 2>&1 || die "the Docker engine does not answer; run tests/setup/start-dockerd.sh"

# The Debian mirror this machine's apt uses (deb822 or one-line sources), so
# bootstrapping goes where the network allows, plus apt's proxy if it has one.
host_mirror() {
    local uri
    uri=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' \
          | grep -v -- '-security' | grep -m1 '/debian/\?$' || true)
    [ -n "$uri" ] || uri=$(grep -hs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
          | awk '{print $2}' | grep -m1 '/debian/\?$' || true)
    echo "${uri:-http://deb.debian.org/debian}"
}
mirror=${SYSREPORT_DEBIAN_MIRROR:-$(host_mirror)}
mirror=${mirror%/}
proxy=$(apt-config dump 2>/dev/null | sed -n 's/^Acquire::http::Proxy "\(.*\)";$/\1/p' | head -n1)
if [ -n "$proxy" ] && [ -z "${http_proxy:-}" ]; then
    export http_proxy=$proxy
fi

recipe_hash() { # RELEASE
    { cat "$self"; echo "$1 $mirror"; } | sha256sum | cut -c1-16
}

# The suite is fetchable if the mirror has its Release file; old releases move
# to archive.debian.org when they leave the mirrors, so try that next.
find_mirror() { # RELEASE -> prints a mirror URL or nothing
    local m
    for m in "$mirror" http://archive.debian.org/debian; do
        if wget -q -T 20 -t 2 -O /dev/null "$m/dists/$1/Release"; then
            echo "$m"
            return 0
        fi
    done
    return 0
}

# Everything that turns a bootstrapped tree into a container that boots to
# `running`, done on the tree from outside (no chroot scripts to maintain).
customize() { # ROOTFS RELEASE MIRROR
    local root=$1 release=$2 m=$3

    # A fresh random machine ID per container (empty file = systemd makes a
    # transient one at boot; "uninitialized" would also trigger first-boot
    # presets, which we do not want).
    : >"$root/etc/machine-id"
    rm -f "$root/var/lib/dbus/machine-id"

    # Units that cannot work, or only make noise, in a container: consoles,
    # hardware, file system maintenance and apt's network timers (the
    # containers have no network). Masked, so that nothing pulls them in.
    local unit
    for unit in getty@tty1.service console-getty.service serial-getty@.service \
                systemd-remount-fs.service systemd-firstboot.service \
                e2scrub_reap.service e2scrub_all.timer fstrim.timer \
                apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer \
                systemd-pstore.service systemd-hwdb-update.service \
                systemd-journald-audit.socket; do
        ln -sfn /dev/null "$root/etc/systemd/system/$unit"
    done
    rm -f "$root"/etc/systemd/system/*.wants/getty@tty1.service \
          "$root"/etc/systemd/system/*.wants/e2scrub_reap.service \
          "$root"/etc/systemd/system/*.wants/systemd-pstore.service \
          "$root"/etc/systemd/system/timers.target.wants/*.timer

    # Where a real host's systemd would make / a shared mount, systemd in a
    # container leaves propagation to the container manager, and Docker's
    # root is a slave: the credentials file system that PID 1 sets up in a
    # private namespace and moves to /run/credentials/<unit> never reaches
    # the service, which finds an empty root-only directory. See
    # molecule/README.md ("LoadCredential="). This wrapper is our container
    # manager's part: make / shared, then become systemd.
    install -D -m 0755 /dev/stdin "$root/usr/local/sbin/container-init" <<'EOF'
#!/bin/sh
# PID 1 of the sysreport test containers: set up what a host gives systemd,
# then exec systemd (it stays PID 1).
# Mount propagation: systemd makes / shared only outside containers; LoadCredential=
# and other namespaced mounts rely on it (see molecule/README.md).
mount --make-rshared / || echo "container-init: cannot make / shared; LoadCredential= will not work" >&2
exec /lib/systemd/systemd "$@"
EOF
    # /sbin/init is the usual Molecule `command:`; make it go through the
    # wrapper too (diverted, so dpkg knows), or the fix silently depends on
    # which of the two names a scenario uses.
    local init
    init=$(grep -m1 -E '^(/usr)?/sbin/init$' "$root/var/lib/dpkg/info/systemd-sysv.list")
    chroot "$root" dpkg-divert --quiet --local --no-rename --divert "$init.systemd" --add "$init"
    ln -sfn /usr/local/sbin/container-init "$root$init"

    # Apt points at the same mirror; the package lists and caches are dropped
    # (the containers have no network, the role must not need them).
    printf 'deb %s %s main\n' "$m" "$release" >"$root/etc/apt/sources.list"
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin \
           "$root"/var/cache/apt/archives/*.deb "$root"/var/log/*.log \
           "$root"/var/log/apt/* "$root"/tmp/* "$root"/var/tmp/*
    # Documentation and translations: a third of the tree, never read in tests.
    rm -rf "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* \
           "$root"/usr/share/locale/*
}

# Debian's minbase (Priority: required + apt) plus our packages, into ROOTFS.
# mmdebstrap is preferred: it resolves with apt and unpacks with few dpkg
# runs, three to four times faster than debootstrap here (about 35 s instead
# of 80-130 s a release on two busy cores); debootstrap is the fallback.
bootstrap() { # RELEASE ROOTFS MIRROR
    local release=$1 rootfs=$2 m=$3
    if command -v mmdebstrap >/dev/null; then
        local hooks=()
        # bookworm and later are merged-/usr systems (usr-is-merged); the hook
        # makes the symlinks itself instead of pulling in usrmerge and perl.
        # bullseye has no usr-is-merged package, so it stays unmerged.
        [ "$release" = bullseye ] || hooks=(--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr)
        log "$release: mmdebstrap from $m"
        mmdebstrap --variant=minbase "${hooks[@]}" --include="$packages" \
            --dpkgopt=force-unsafe-io "$release" "$rootfs" "$m"
        # Build-time speed-ups only; the image's dpkg and apt stay stock.
        rm -f "$rootfs/etc/dpkg/dpkg.cfg.d/99mmdebstrap" "$rootfs/etc/apt/apt.conf.d/00mmdebstrap"
    else
        log "$release: debootstrap from $m"
        mkdir -p "$cache/debs-$release"
        debootstrap --variant=minbase --include="$packages" \
            --cache-dir="$cache/debs-$release" "$release" "$rootfs" "$m"
    fi
}

build_release() { # RELEASE
    local release=$1 hash image tarball start t0 rootfs m
    hash=$(recipe_hash "$release")
    image="$repository:$release"
    tarball="$cache/$release-$hash.tar.zst"
    start=$(date +%s)

    if [ "${SYSREPORT_IMAGE_REBUILD:-0}" != 1 ] &&
       [ "$(docker image inspect -f "{{ index .Config.Labels \"$label\" }}" "$image" 2>/dev/null)" = "$hash" ]; then
        log "$release: $image is up to date (recipe $hash)"
        return 0
    fi

    if [ "${SYSREPORT_IMAGE_REBUILD:-0}" = 1 ] || [ ! -s "$tarball" ]; then
        m=$(find_mirror "$release")
        if [ -z "$m" ]; then
            log "$release: SKIPPED: neither $mirror nor archive.debian.org serves dists/$release/Release from here" >&2
            return 3
        fi
        rootfs="$cache/rootfs-$release"
        rm -rf "$rootfs"
        t0=$(date +%s)
        bootstrap "$release" "$rootfs" "$m" \
            || die "$release: bootstrapping the root file system failed; see the messages above"
        log "$release: bootstrap took $(( $(date +%s) - t0 ))s"
        customize "$rootfs" "$release" "$m"
        t0=$(date +%s)
        rm -f "$cache/$release"-*.tar.zst   # older recipes
        tar --numeric-owner --xattrs --acls -C "$rootfs" -c . | zstd -q -T0 -3 -o "$tarball.tmp"
        mv "$tarball.tmp" "$tarball"
        rm -rf "$rootfs"
        log "$release: tarball $(du -h "$tarball" | cut -f1) in $(( $(date +%s) - t0 ))s"
    fi

    t0=$(date +%s)
    zstd -q -dc "$tarball" | docker import \
        --change 'CMD ["/sbin/init"]' \
        --change 'ENV container=docker' \
        --change "LABEL $label=$hash" \
        --message "sysreport test image, recipe $hash" - "$image" >/dev/null
    log "$release: imported $image in $(( $(date +%s) - t0 ))s"
    log "$release: done in $(( $(date +%s) - start ))s"
}

releases=("$@")
[ ${#releases[@]} -gt 0 ] || releases=(bullseye bookworm trixie)
mkdir -p "$cache/logs"

# One build at a time on this machine (several make targets may ask at once);
# a second run waits, then finds the images up to date.
exec 9>"$cache/.lock"
if ! flock -n 9; then
    log "waiting for another build.sh to finish"
    flock 9
fi

# In parallel: bootstrapping waits on the network part of the time, so two
# cores build three releases faster together than one after another.
declare -A pids
t_all=$(date +%s)
for release in "${releases[@]}"; do
    build_release "$release" >"$cache/logs/$release.log" 2>&1 &
    pids[$release]=$!
done
failed=0 skipped=""
for release in "${releases[@]}"; do
    rc=0
    wait "${pids[$release]}" || rc=$?
    grep -E '^[0-9:]{8} ' "$cache/logs/$release.log" | grep -v '^[0-9:]* I: ' || true
    if [ "$rc" -eq 3 ]; then
        skipped="$skipped $release"
    elif [ "$rc" -ne 0 ]; then
        failed=1
        log "$release: FAILED (exit $rc); last lines of $cache/logs/$release.log:" >&2
        tail -n 25 "$cache/logs/$release.log" >&2
    fi
done
log "all: $(( $(date +%s) - t_all ))s"
[ -z "$skipped" ] || log "skipped (not fetchable):$skipped" >&2
exit "$failed"
