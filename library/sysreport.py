#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: sysreport contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: sysreport
short_description: Collect a host's sysreport health report, and optionally send it now
description:
  - Collects the host's health report (CPU, load, memory, swap, file systems, network,
    processes, failed systemd units, users, temperatures) and judges it against thresholds,
    exactly as C(sysreport collect --format json) does, and returns it as structured data
    together with the overall status and the list of problems.
  - The collection code is the agent's own (C(agent/sysreport) in this repository); it travels
    with the module as the module_utils package C(ansible.module_utils.sysreport), so the host
    needs no agent, only Python 3.9 or later and the psutil library.
  - psutil (and C(tomli) on Python < 3.11) is imported from the Python that runs the
    module, or else from the agent's virtual environment (installed by the sysreport role)
    when that environment was built for the same Python version.
  - The host's thresholds and report settings are read from O(config) when that file exists
    and can be parsed (C(tomllib) on Python 3.11+, C(tomli) on older Pythons when it is
    importable; otherwise the file is skipped with a warning). The module's options
    override them.
  - With O(send=true) the installed agent (C(sysreport send)) collects, remembers and
    delivers the report by email now, through its outbox and retry rules.
  - Collecting never changes the host and never writes the agent's history.
  - The report document, the configuration file and the agent's commands are described
    in C(agent/README.md) of the sysreport repository.
version_added: "0.1.0"
author:
  - sysreport contributors
options:
  sections:
    description:
      - The report sections to collect. An empty list means the host's configured
        sections (C(report.sections)), which default to all of them.
    type: list
    elements: str
    choices: [host, cpu, load, memory, swap, filesystems, network, processes, systemd, users, temperatures]
    default: []
  top_processes:
    description:
      - How many processes to list by memory and by CPU (0 to 100).
      - Default is the host's C(report.top_processes), which defaults to 5.
    type: int
  cpu_sample_seconds:
    description:
      - The window over which CPU use (total and per process) is measured, in seconds
        (more than 0, at most 2).
      - The other collectors run inside that window, so only what is left of it is spent
        waiting. The module's default is shorter than the agent's (0.1) to keep an ad-hoc
        run across a fleet as fast as M(ansible.builtin.ping); the host's
        C(report.cpu_sample_seconds) is not used.
    type: float
    default: 0.05
  thresholds:
    description:
      - "Thresholds that override the host's C([thresholds]) table, key by key, with the
        same names and shapes as the configuration file, for example
        C({disk_percent: {warn: 70, crit: 85}, failed_units: warn}) or per mount point
        C({mounts: {/var: {disk_percent: {warn: 90, crit: 95}}}})."
      - Each threshold given replaces the host's one whole (both C(warn) and C(crit)
        are required). Invalid values fail the task with one line per problem.
    type: dict
    default: {}
  config:
    description:
      - The agent's configuration file on the host. Read for thresholds and report
        settings when it exists; passed to C(sysreport send) with O(send=true).
    type: path
    default: /etc/sysreport/sysreport.toml
  send:
    description:
      - Also deliver the host's report by email now, through the installed agent
        (see the sysreport role). Where systemd runs and the role's C(sysreport.service)
        is installed, the module starts that unit (C(systemctl start sysreport.service)),
        which runs C(sysreport send) with the SMTP password as its credential, its
        hardening and its state directory, exactly as the daily timer does. Elsewhere it
        runs O(agent) C(--config) O(config) C(send) itself.
      - The task then reports C(changed). When the mail server cannot be reached the agent
        keeps the message in its outbox for the timer to retry, and the task fails saying so.
      - In check mode nothing is sent; the result says what would have been run.
    type: bool
    default: false
  agent:
    description:
      - The installed agent's command, used by O(send=true); its virtual environment also
        provides psutil when the module's Python has none.
    type: path
    default: /opt/sysreport/venv/bin/sysreport
  show_cmdline:
    description:
      - Include the listed processes' command lines in the result. They can carry secrets
        (a password passed as an argument), and Ansible prints and logs results, so they
        are left out by default, as in the API (C(api.show_cmdline)).
    type: bool
    default: false
notes:
  - The module has no secret options, so none is marked C(no_log). The SMTP password never
    passes through it; with O(send=true) the agent reads it on the host as it does
    from its timer.
  - Process command lines, which can carry secrets, are left out of the result unless
    O(show_cmdline=true).
  - Supports check mode fully. Collecting changes nothing, so it also runs in check mode.
requirements:
  - Python 3.9 or later on the host.
  - psutil on the host, in the module's Python or in the agent's virtual environment
    (both installed by the sysreport role; or the OS package C(python3-psutil)).
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    platforms: linux
"""

EXAMPLES = r"""
- name: Collect every host's report
  sysreport:
  register: report

- name: Show the hosts that are not OK
  ansible.builtin.debug:
    msg: "{{ report.status }}: {{ report.problems | map(attribute='message') | join(', ') }}"
  when: report.status != 'OK'

- name: Check only the disks, with stricter thresholds than the hosts' own
  sysreport:
    sections: [filesystems]
    thresholds:
      disk_percent: {warn: 70, crit: 85}
      mounts:
        /var/lib/docker:
          disk_percent: {warn: 90, crit: 95}

- name: Send every host's report by email now, through the installed agent
  sysreport:
    send: true

# Ad hoc, from the command line:
#   ansible all -m sysreport -a 'sections=filesystems,memory'
#   ansible all -m sysreport -a 'send=true' --check
"""

RETURN = r"""
status:
  description: The overall status of the host, the worst of its problems.
  returned: success
  type: str
  choices: [OK, WARN, CRIT]
  sample: WARN
problems:
  description: What is wrong, worst first; empty when the status is OK.
  returned: success
  type: list
  elements: dict
  contains:
    severity:
      description: C(WARN) or C(CRIT).
      type: str
    section:
      description: The report section the problem was found in.
      type: str
    subject:
      description: What the problem is about (a mount point, a unit, a sensor).
      type: str
    message:
      description: A short sentence, fit for an email subject.
      type: str
  sample:
    - {severity: WARN, section: filesystems, subject: /, message: "/ 83% full"}
report:
  description:
    - The whole report document, schema version 1, the same as
      C(sysreport collect --format json) prints (agent/README.md describes every field).
    - A section that could not be collected is null and explained in C(unavailable);
      a section left out by O(sections) is null.
  returned: success
  type: dict
  sample:
    schema_version: 1
    generated_at: "2026-12-03T13:00:04+00:00"
    agent: {version: 0.1.0}
    host: {hostname: web1, fqdn: web1.example.org, os: Debian GNU/Linux 12 (bookworm),
           kernel: 6.1.0-27-amd64, boot_time: "2026-11-20T08:12:40+00:00", uptime_seconds: 1141044}
    memory: {total: 8254312448, available: 5023170560, used: 2911436800, percent: 39.1}
    filesystems:
      - {mount: /, device: /dev/vda1, fstype: ext4, total: 42003120128, used: 34863124480,
         free: 5000589312, percent: 83.0, inodes_total: 2621440, inodes_used: 350211,
         inodes_percent: 13.4}
    unavailable: {temperatures: "not available: no sensors reported"}
    status: WARN
    problems:
      - {severity: WARN, section: filesystems, subject: /, message: "/ 83% full"}
config_path:
  description: The host's configuration file that was read, or null when none was used.
  returned: success
  type: str
  sample: /etc/sysreport/sysreport.toml
sent:
  description:
    - Whether the agent delivered the report now (always false without O(send=true)
      and in check mode).
    - With C(report.only_when_not_ok) set on the host and an OK status the agent sends
      nothing; then O(send=true) reports neither C(sent) nor C(changed).
  returned: success
  type: bool
  sample: false
cmd:
  description: The agent command that was run (or, in check mode, would have been run).
  returned: when O(send=true)
  type: list
  elements: str
  sample: [systemctl, start, sysreport.service]
rc:
  description: The agent's exit code (0 delivered, 75 kept in the outbox for retry,
    78 configuration error); through the unit, its C(ExecMainStatus).
  returned: when O(send=true), not in check mode
  type: int
  sample: 0
stderr_lines:
  description: The agent's log lines ("LEVEL message"); through the unit, when it failed,
    the unit's last journal lines.
  returned: when O(send=true), not in check mode
  type: list
  elements: str
  sample: ["INFO delivered to 1 recipient"]
"""

import json
import os
import sys
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

SECTIONS = ["host", "cpu", "load", "memory", "swap", "filesystems", "network",
            "processes", "systemd", "users", "temperatures"]

EX_OK = 0
EX_TEMPFAIL = 75
EX_CONFIG = 78

# The role's oneshot unit that runs `sysreport send` with the SMTP password as a credential.
UNIT = 'sysreport.service'
UNIT_DIRS = ('/etc/systemd/system', '/usr/lib/systemd/system', '/lib/systemd/system')

# Filled by import_pipeline(): the agent's modules, or why they cannot be imported.
sr_config = None
sr_report = None


def venv_site_packages(agent):
    """The site-packages of the agent's venv built for *this* Python, or None.

    /opt/sysreport/venv/bin/sysreport -> /opt/sysreport/venv/lib/python3.11/site-packages.
    Only the same major.minor: psutil is a compiled extension.
    """
    venv = os.path.dirname(os.path.dirname(agent))
    path = os.path.join(venv, 'lib', 'python%d.%d' % sys.version_info[:2], 'site-packages')
    return path if os.path.isdir(path) else None


def import_pipeline(agent):
    """Import the agent's config and report modules; return the psutil ImportError's
    traceback (None on success).

    The agent's venv (when built for this Python) joins the end of sys.path: psutil, and
    tomli on Python < 3.11, come from there when the host's Python has none."""
    global sr_config, sr_report
    extra = venv_site_packages(agent)
    if extra and extra not in sys.path:
        sys.path.append(extra)  # appended: the host's own packages keep priority
    try:
        import psutil  # noqa: F401  pylint: disable=unused-import
    except ImportError:
        return traceback.format_exc()
    from ansible.module_utils.sysreport import config as sr_config
    from ansible.module_utils.sysreport import report as sr_report
    return None


def merge_thresholds(host, override):
    """The host's [thresholds] table with the module's override on top, key by key;
    mounts merge per mount point. Neither argument is modified."""
    merged = dict(host)
    for key, value in override.items():
        if key == 'mounts' and isinstance(value, dict) and isinstance(host.get('mounts'), dict):
            mounts = dict(host['mounts'])
            for mount, table in value.items():
                if isinstance(table, dict) and isinstance(mounts.get(mount), dict):
                    mounts[mount] = dict(mounts[mount], **table)
                else:
                    mounts[mount] = table
            merged['mounts'] = mounts
        else:
            merged[key] = value
    return merged


def module_overrides(params):
    """The raw-table fragment that the module's options set (validated by the agent's rules)."""
    report = {'cpu_sample_seconds': params['cpu_sample_seconds']}
    if params['sections']:
        report['sections'] = list(params['sections'])
    if params['top_processes'] is not None:
        report['top_processes'] = params['top_processes']
    data = {'report': report}
    if params['thresholds']:
        data['thresholds'] = params['thresholds']
    return data


def host_table(path, warn):
    """The host's raw configuration table and the file it came from, or ({}, None)
    with a warning when the file is absent, unparseable or invalid."""
    if not os.path.exists(path):
        return {}, None
    data, where, problems = sr_config.read(path, require_file=True)
    if not problems:
        problems = sr_config.validate(data, where)
    if problems:
        warn('Ignoring the host configuration %s (built-in defaults used instead): %s'
             % (path, '; '.join(problems)))
        return {}, None
    return data, where


def effective_table(host, overrides):
    """The host's table with the module's overrides applied."""
    data = {table: dict(values) for table, values in host.items() if isinstance(values, dict)}
    data.setdefault('report', {}).update(overrides['report'])
    if 'thresholds' in overrides:
        data['thresholds'] = merge_thresholds(data.get('thresholds', {}), overrides['thresholds'])
    return data


def build_config(table, where):
    """The agent's configuration object from a raw table already validated above.

    config.load() only reads files; _build() is the step after its validation."""
    return sr_config._build(table, where)  # pylint: disable=protected-access


def send_command(agent, config, unit):
    """How to send now: through the role's unit when systemd runs it (the SMTP password
    reaches the agent only as that unit's credential), else the agent command itself."""
    if unit:
        return ['systemctl', 'start', unit]
    return [agent, '--config', config, 'send']


def installed_unit(name=UNIT):
    """The agent's systemd unit when systemd is running and the unit is installed."""
    if os.path.isdir('/run/systemd/system') and \
            any(os.path.exists(os.path.join(d, name)) for d in UNIT_DIRS):
        return name
    return None


def last_sent(state_dir):
    """What the agent's last `send` did with its message ("delivered", "queued",
    "skipped"), from <state>/last-status.json; None when unknown."""
    try:
        with open(os.path.join(state_dir, 'last-status.json')) as handle:
            return json.load(handle).get('sent')
    except (OSError, ValueError, AttributeError):
        return None


def unit_outcome(module, unit):
    """(agent exit code, its last log lines) of the unit's last run."""
    rc, out, err = module.run_command(['systemctl', 'show', '--property=ExecMainStatus',
                                       '--value', unit])
    try:
        status = int(out.strip())
    except ValueError:
        status = -1
    rc, out, err = module.run_command(['journalctl', '--unit', unit, '--lines', '20',
                                       '--no-pager', '--output', 'cat'])
    return status, out.splitlines() if rc == 0 else []


def run_send(module, result, state_dir):
    """Send now (or say what would run in check mode)."""
    agent = module.params['agent']
    if not (os.path.isfile(agent) and os.access(agent, os.X_OK)):
        module.fail_json(msg='send=true needs the installed agent, but %s is not an executable; '
                             'install it with the sysreport role, or set agent= to its path' % agent,
                         **result)
    unit = installed_unit()
    cmd = send_command(agent, module.params['config'], unit)
    result['cmd'] = cmd
    result['changed'] = True
    if module.check_mode:
        result['msg'] = 'check mode: would send the report now with: %s' % ' '.join(cmd)
        return
    rc, stdout, stderr = module.run_command(cmd)
    if unit and rc != 0:
        status, lines = unit_outcome(module, unit)
        # A failed run leaves its exit code in ExecMainStatus. 0 there is an earlier run's:
        # then systemctl itself failed (access denied without become, a masked unit).
        if status not in (EX_OK, -1):
            rc = status
        result.update(rc=rc, stderr_lines=stderr.splitlines() + lines)
    else:
        result.update(rc=rc, stderr_lines=stderr.splitlines())
    if rc == EX_OK:
        if last_sent(state_dir) == 'skipped':
            # report.only_when_not_ok and an OK host: the agent sent nothing, rightly
            result.update(changed=False, msg='not sent: the status is OK and the host\'s '
                                             'report.only_when_not_ok is set')
            return
        result['sent'] = True
        result['msg'] = 'report sent'
        return
    if rc == EX_TEMPFAIL:
        why = 'the mail server could not take it now; it stays in the agent\'s outbox and ' \
              'the timer retries'
    elif rc == EX_CONFIG:
        why = 'configuration error in %s (see stderr_lines; `sysreport check-config` lists ' \
              'every problem)' % module.params['config']
    else:
        why = 'the agent failed with exit code %d (see stderr_lines)' % rc
    module.fail_json(msg='report not sent: %s' % why, **result)


def argument_spec():
    return dict(
        sections=dict(type='list', elements='str', choices=SECTIONS, default=[]),
        top_processes=dict(type='int'),
        cpu_sample_seconds=dict(type='float', default=0.05),
        thresholds=dict(type='dict', default={}),
        config=dict(type='path', default='/etc/sysreport/sysreport.toml'),
        send=dict(type='bool', default=False),
        agent=dict(type='path', default='/opt/sysreport/venv/bin/sysreport'),
        show_cmdline=dict(type='bool', default=False),
    )


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)

    psutil_error = import_pipeline(module.params['agent'])
    if psutil_error:
        module.fail_json(
            msg=missing_required_lib(
                'psutil', reason='to collect the report; install it with the sysreport role '
                                 '(roles/sysreport: the agent and psutil in its venv), or the '
                                 'OS package python3-psutil'),
            exception=psutil_error)

    overrides = module_overrides(module.params)
    problems = sr_config.validate(overrides, 'module options')
    if problems:
        module.fail_json(msg='Invalid options: %s' % '; '.join(problems), problems=problems)

    host, where = host_table(module.params['config'], module.warn)
    config = build_config(effective_table(host, overrides), where)
    report = sr_report.build(config, remember=False)
    if not module.params['show_cmdline']:
        sr_report.drop_cmdlines(report)

    result = dict(changed=False, sent=False, status=report['status'],
                  problems=report['problems'], report=report, config_path=where)
    if module.params['send']:
        run_send(module, result, config.state.directory)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
