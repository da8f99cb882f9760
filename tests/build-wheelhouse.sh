#!/bin/bash
# Build the wheelhouses that the sysreport role installs from (make wheelhouse).
#
#   tests/build-wheelhouse.sh [OUT]        default OUT: dist/wheelhouse
#
# OUT gets the agent's wheel plus the binary wheels of its dependencies (with the
# [api] extra) for CPython 3.9, 3.11 and 3.13 on manylinux x86_64: Debian 11, 12
# and 13. OUT/../test-wheelhouse gets what Molecule's test SMTP server needs inside
# the containers (aiosmtpd, cryptography). Nothing is installed on the controller.
#
# Environment:
#   SYSREPORT_BUILD_VERSION   build the agent's wheel as this version instead of the
#                             one in agent/sysreport/__init__.py (from a temporary
#                             copy of agent/; the upgrade/downgrade tests use it)
#   PYTHON                    controller Python with pip (default .venv/bin/python)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-dist/wheelhouse}
tests_out="$(dirname "$out")/test-wheelhouse"
python=${PYTHON:-.venv/bin/python}
pythons=(3.9 3.11 3.13)
platforms=(--platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64)
pip=("$python" -m pip --disable-pip-version-check --quiet)

mkdir -p "$out" "$tests_out"
src=./agent
if [ -n "${SYSREPORT_BUILD_VERSION:-}" ]; then
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    cp -r agent "$tmp/agent"
    rm -rf "$tmp/agent"/*.egg-info "$tmp/agent/build"
    sed -i "s/^__version__ = .*/__version__ = \"$SYSREPORT_BUILD_VERSION\"/" "$tmp/agent/sysreport/__init__.py"
    src="$tmp/agent"
fi
version=$(sed -n 's/^__version__ = "\(.*\)"/\1/p' "$src/sysreport/__init__.py")
# Only this agent version in OUT: the role refuses a wheelhouse that holds several
# unless sysreport_version picks one.
rm -f "$out"/sysreport-*.whl
"${pip[@]}" wheel --no-deps --no-build-isolation --wheel-dir "$out" "$src"
# pip download evaluates environment markers against the controller's Python, not
# --python-version (pip issue 11664): name the dependencies that only older Pythons
# need ("tomli; python_version < '3.11'", anyio's exceptiongroup) for those.
declare -A marker_deps=([3.9]="tomli exceptiongroup")
for py in "${pythons[@]}"; do
    # shellcheck disable=SC2086  # marker_deps holds a word list on purpose
    "${pip[@]}" download --dest "$out" --find-links "$out" --only-binary=:all: \
        --implementation cp --python-version "$py" "${platforms[@]}" "sysreport[api]==$version" ${marker_deps[$py]:-}
    "${pip[@]}" download --dest "$tests_out" --only-binary=:all: \
        --implementation cp --python-version "$py" "${platforms[@]}" "aiosmtpd==1.4.6" cryptography
done
echo "wheelhouse: $out ($(ls "$out" | wc -l) wheels, sysreport $version); test wheelhouse: $tests_out"
