#!/bin/sh
# Install the Debian packages the test suite needs on the controller.
#
# Idempotent and quiet: does nothing when everything is installed, runs
# `apt-get update` only when a package cannot be found in the current lists.
# Targets a fresh Debian 12 (bookworm) CI machine, run as root.
#
# Usage: tests/setup/install-host-packages.sh [EXTRA_PACKAGE...]
set -eu

# docker.io       the engine Molecule's docker driver talks to (pulls containerd, runc)
# iptables        the engine's default bridge network
# mmdebstrap      builds the Debian base images (molecule/images/build.sh)
# debootstrap     its fallback, and the debootstrap scripts for every release
# wget            build.sh checks which mirror serves a release
# debian-archive-keyring  the signing keys of bullseye, bookworm and trixie
# zstd            compresses the cached rootfs tarballs
# hyperfine time  benchmarks (agent run time, memory)
# openssl         throw-away TLS certificates for the local SMTP server in tests
# acl             getfacl/setfacl for checking credential directories
# git make curl ca-certificates  the basics a fresh machine may lack
packages="docker.io iptables mmdebstrap debootstrap wget debian-archive-keyring zstd
hyperfine time openssl acl git make curl ca-certificates $*"

missing=""
for p in $packages; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [ "$status" = "installed" ] || missing="$missing $p"
done

if [ -z "$missing" ]; then
    echo "host packages: all installed"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "host packages: missing:$missing; run this script as root" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt_install() {
    # --no-install-recommends: docker.io recommends a lot we do not use.
    apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

echo "host packages: installing$missing"
# shellcheck disable=SC2086  # word splitting of the package list is intended
if ! apt_install $missing 2>/dev/null; then
    echo "host packages: refreshing the package lists"
    apt-get update -qq
    # shellcheck disable=SC2086
    apt_install $missing
fi
echo "host packages: done"
