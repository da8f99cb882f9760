#!/bin/bash
# Run the role's Molecule scenarios (make test-molecule), each with its output kept in
# build/molecule/<scenario>.log, then prove that the Vault-encrypted SMTP password and
# API token never appear in Molecule's own output (every task, diff and result).
#
#   tests/run-molecule.sh [SCENARIO...]        default: default index
#
# Prints each scenario's wall time; exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
export ANSIBLE_FORCE_COLOR=0 PY_COLORS=0
scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] || scenarios=(default index)
logs=build/molecule
mkdir -p "$logs"

# The secrets, read from the vault file into memory only (never printed, never on a
# command line: grep reads them with -f from a root-only temporary file).
secrets=$(mktemp)
chmod 600 "$secrets"
trap 'rm -f "$secrets"' EXIT
ansible-vault view --vault-id test@playbooks/inventory/test-vault-password molecule/shared/vars/vault.yml \
    | python3 -c '
import json, re, sys, yaml
# Each secret as is, JSON-escaped (as Ansible prints it), and its longest plain run.
for value in map(str, yaml.safe_load(sys.stdin).values()):
    print(value)
    print(json.dumps(value)[1:-1])
    print(max(re.findall(r"[A-Za-z0-9 -]{8,}", value) or [value], key=len))
' > "$secrets"

status=0
for scenario in "${scenarios[@]}"; do
    log="$logs/$scenario.log"
    start=$(date +%s)
    echo "molecule test -s $scenario (log: $log)"
    passed=true
    molecule test -s "$scenario" > "$log" 2>&1 || passed=false
    # Before the tail is printed: a failing run's error output is where a leak is likeliest.
    if grep -qF -f "$secrets" "$log"; then
        echo "FAILED: a Vault secret appears in Molecule's output ($log; not shown here)"
        status=1
        break
    fi
    echo "passed: no Vault secret in $log"
    if ! $passed; then
        tail -n 80 "$log"
        echo "FAILED: molecule test -s $scenario after $(( $(date +%s) - start ))s"
        status=1
        break
    fi
    echo "passed: molecule test -s $scenario in $(( $(date +%s) - start ))s"
done
exit $status
