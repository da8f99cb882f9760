#!/usr/bin/python3
# Copyright: sysreport contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read everything the sysreport role needs to decide in one remote call."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: sysreport_probe
short_description: Report the state of a sysreport installation in one call
description:
  - Reads the init system, the OS release, the host's Python, the systemd version,
    the agent version installed in the venv, the state of the managed files and of
    the sysreport units, so that the role can skip every task whose target is
    already right. It changes nothing.
  - One module call replaces a fact gathering, a handful of C(stat) calls and
    C(systemctl) queries: the idempotent run stays close to its ping floor.
options:
  venv:
    description: Path of the agent's virtual environment.
    type: path
    required: true
  paths:
    description:
      - Files and directories to describe in C(files): existence, type, mode, owner and,
        for regular files, the SHA-1 of the content. The role compares them with what it
        wants on the controller. Never list secret files here.
    type: list
    elements: path
    default: []
  secrets:
    description:
      - Secret files the role wants, each with C(path) and C(content). The module compares
        them with the files (content, root ownership, mode 0600) and returns only the paths
        that differ in C(secrets_differ): no content, no checksum. C(content) is C(no_log),
        and the arguments travel over the connection (stdin with pipelining), never on a
        command line. A C(content) of C(null) means the file must not exist.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Path of the secret file.
        type: path
        required: true
      content:
        description: The wanted content (C(no_log)); C(null) when the file must not exist.
        type: str
  read:
    description: Files whose text is returned in C(contents) (small, non-secret files only).
    type: list
    elements: path
    default: []
  units:
    description: Units whose C(UnitFileState) and C(ActiveState) are returned.
    type: list
    elements: str
    default: []
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
author: sysreport contributors
"""

EXAMPLES = r"""
- name: Probe the host.
  sysreport_probe:
    venv: /opt/sysreport/venv
    paths: [/etc/sysreport, /etc/sysreport/sysreport.toml]
    units: [sysreport.timer]
  register: __sysreport_probe
"""

RETURN = r"""
init:
  description: Name of PID 1 (C(systemd) on a systemd host).
  returned: always
  type: str
  sample: systemd
os:
  description: ID and VERSION_ID from /etc/os-release.
  returned: always
  type: dict
  sample: {"id": "debian", "version_id": "12"}
python:
  description: Version of the Python that runs this module (the host's Python 3).
  returned: always
  type: str
  sample: "3.11"
systemd_version:
  description: Major version of systemd, 0 when unknown.
  returned: always
  type: int
  sample: 252
venv_python:
  description: Python version the venv was created with, empty when there is no venv.
  returned: always
  type: str
  sample: "3.11"
installed:
  description: Installed distributions of interest in the venv (name -> version).
  returned: always
  type: dict
  sample: {"sysreport": "0.1.0", "fastapi": "0.115.0"}
files:
  description: Path -> C(exists), C(isdir), C(mode), C(uid), C(gid), C(checksum) (SHA-1, regular files only).
  returned: always
  type: dict
  sample: {"/etc/sysreport": {"exists": true, "isdir": true, "mode": "0755", "uid": 0, "gid": 0, "checksum": ""}}
secrets_differ:
  description: Paths from I(secrets) that are missing or differ in content, owner or mode.
  returned: always
  type: list
  sample: ["/etc/sysreport/credentials/smtp-password"]
contents:
  description: Text of the files in I(read) (empty string when missing).
  returned: always
  type: dict
units:
  description: Unit name -> {UnitFileState, ActiveState}.
  returned: always
  type: dict
  sample: {"sysreport.timer": {"UnitFileState": "enabled", "ActiveState": "active"}}
"""

import glob
import hashlib
import os
import re
import stat
import subprocess
import sys

from ansible.module_utils.basic import AnsibleModule

MAX_READ = 65536


def read_text(path, limit=MAX_READ):
    try:
        with open(path, "r", encoding="utf-8", errors="replace") as handle:
            return handle.read(limit)
    except OSError:
        return ""


def os_release():
    info = {"id": "", "version_id": ""}
    for line in read_text("/etc/os-release").splitlines():
        key, _, value = line.partition("=")
        if key in ("ID", "VERSION_ID"):
            info[key.lower()] = value.strip().strip('"')
    return info


def sha1(path):
    digest = hashlib.sha1()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(65536), b""):
            digest.update(block)
    return digest.hexdigest()


def describe(path):
    """What the role needs to know of one path (lstat: a symlink is not followed)."""
    try:
        info = os.lstat(path)
    except OSError:
        return {"exists": False, "isdir": False, "mode": "", "uid": -1, "gid": -1, "checksum": ""}
    regular = stat.S_ISREG(info.st_mode)
    return {"exists": True, "isdir": stat.S_ISDIR(info.st_mode),
            "mode": "%04o" % stat.S_IMODE(info.st_mode), "uid": info.st_uid, "gid": info.st_gid,
            "checksum": sha1(path) if regular else ""}


def secret_differs(path, content):
    """True unless path is a root-owned 0600 regular file holding exactly content (or,
    for a content of None, unless there is no such path)."""
    if content is None:
        return os.path.lexists(path)
    try:
        info = os.lstat(path)
        if not stat.S_ISREG(info.st_mode) or info.st_uid != 0 or info.st_gid != 0 \
                or stat.S_IMODE(info.st_mode) != 0o600:
            return True
        with open(path, "rb") as handle:
            return handle.read() != content.encode("utf-8")
    except OSError:
        return True


def venv_state(venv):
    cfg = read_text(os.path.join(venv, "pyvenv.cfg"))
    match = re.search(r"^version(?:_info)?\s*=\s*(\d+\.\d+)", cfg, re.M)
    python = match.group(1) if match and os.path.exists(os.path.join(venv, "bin", "python")) else ""
    installed = {}
    for dist in glob.glob(os.path.join(venv, "lib", "python*", "site-packages", "*.dist-info")):
        name, _, version = os.path.basename(dist)[: -len(".dist-info")].partition("-")
        installed[name.lower().replace("_", "-")] = version
    return python, installed


def systemd_state(units):
    version, states = 0, {}
    try:
        out = subprocess.run(["systemctl", "--version"], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, universal_newlines=True, check=False).stdout
        match = re.match(r"systemd (\d+)", out)
        version = int(match.group(1)) if match else 0
    except OSError:
        return version, states
    if units:
        out = subprocess.run(["systemctl", "show", "--property=Id,UnitFileState,ActiveState", "--"] + units,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             universal_newlines=True, check=False).stdout
        # One block per unit, separated by an empty line, in the order asked.
        for unit, block in zip(units, out.strip().split("\n\n")):
            props = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
            states[unit] = {"UnitFileState": props.get("UnitFileState", ""),
                            "ActiveState": props.get("ActiveState", "")}
    return version, states


def main():
    module = AnsibleModule(
        argument_spec=dict(
            venv=dict(type="path", required=True),
            paths=dict(type="list", elements="path", default=[]),
            # Only the content is secret: a no_log path would be masked in the result too.
            secrets=dict(type="list", elements="dict", default=[], options=dict(
                path=dict(type="path", required=True),
                content=dict(type="str", no_log=True),
            )),
            read=dict(type="list", elements="path", default=[]),
            units=dict(type="list", elements="str", default=[]),
        ),
        supports_check_mode=True,
    )
    venv_python, installed = venv_state(module.params["venv"])
    systemd_version, units = systemd_state(module.params["units"])
    module.exit_json(
        changed=False,
        init=read_text("/proc/1/comm").strip(),
        os=os_release(),
        python="%d.%d" % sys.version_info[:2],
        systemd_version=systemd_version,
        venv_python=venv_python,
        installed=installed,
        files={path: describe(path) for path in module.params["paths"]},
        secrets_differ=[item["path"] for item in module.params["secrets"]
                        if secret_differs(item["path"], item["content"])],
        contents={path: read_text(path) for path in module.params["read"]},
        units=units,
    )


if __name__ == "__main__":
    main()
