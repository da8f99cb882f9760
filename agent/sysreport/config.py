"""Load and validate /etc/sysreport/sysreport.toml.

    >>> cfg = load("/etc/sysreport/sysreport.toml")
    >>> cfg.thresholds.disk_percent.warn, cfg.thresholds.mounts["/var"].disk_percent.crit
    (80, 95)

SCHEMA below is the one place where every key, its type, its default and its meaning
are defined; agent/README.md documents the same table (tests/test_config.py checks
that every key and default appears there). Validation reports every problem at once,
one line each: ``PATH: section.key: what is wrong and what to fix``.
"""

from __future__ import annotations

import os
import re
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:  # `typing` costs ~2 ms at start-up; annotations stay strings here
    from typing import Any, Callable, Dict, List, Optional, Tuple


DEFAULT_PATH = "/etc/sysreport/sysreport.toml"
ENV_CONFIG = "SYSREPORT_CONFIG"
CREDENTIAL_NAME = "smtp-password"  # file name under $CREDENTIALS_DIRECTORY

SECTIONS = ("host", "cpu", "load", "memory", "swap", "filesystems", "network",
            "processes", "systemd", "users", "temperatures")


class ConfigError(Exception):
    """One or more configuration problems; ``problems`` holds one line per problem."""

    def __init__(self, problems: List[str]):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


# --------------------------------------------------------------------------- schema

class Key:
    """One configuration key: its type, default, meaning and extra check."""

    def __init__(self, kind: str, default: Any, doc: str,
                 check: Optional[Callable[[Any], Optional[str]]] = None,
                 choices: Tuple[str, ...] = ()):
        self.kind = kind          # str int float bool list threshold choice
        self.default = default
        self.doc = doc
        self.check = check
        self.choices = choices


def _between(lo: float, hi: float, lo_open: bool = False) -> Callable[[Any], Optional[str]]:
    def check(value: Any) -> Optional[str]:
        if (value <= lo if lo_open else value < lo) or value > hi:
            left = "(" if lo_open else "["
            return "must be in %s%s, %s]" % (left, lo, hi)
        return None
    return check


def _at_least(lo: float) -> Callable[[Any], Optional[str]]:
    def check(value: Any) -> Optional[str]:
        return None if value >= lo else "must be >= %s" % lo
    return check


SCHEMA: Dict[str, Dict[str, Key]] = {
    "report": {
        "hostname": Key("str", "", 'name shown in the report and subject; "" = socket.gethostname()'),
        "top_processes": Key("int", 5, "how many processes to list by memory and by CPU",
                             _between(0, 100)),
        "cpu_sample_seconds": Key("float", 0.1, "CPU usage is sampled over this window (0 < x <= 2)",
                                  _between(0.0, 2.0, lo_open=True)),
        "only_when_not_ok": Key("bool", False, "send mail only when the status is WARN or CRIT "
                                "(the outbox is still flushed)"),
        "sections": Key("list", [], "[] = all sections; else a subset of: " + ", ".join(SECTIONS)),
    },
    "mail": {
        "to": Key("list", [], "recipients; required for send, flush and test-smtp"),
        "from": Key("str", "", 'From address; "" = smtp.username'),
        "subject_prefix": Key("str", "[sysreport]", "put before the subject"),
    },
    "smtp": {
        "host": Key("str", "smtp.gmail.com", "SMTP server"),
        "port": Key("int", 465, "SMTP port: 465 with security = \"tls\", 587 with \"starttls\"",
                    _between(1, 65535)),
        "security": Key("choice", "tls", "implicit TLS (port 465) or STARTTLS (port 587)",
                        choices=("tls", "starttls")),
        "username": Key("str", "", "login name; for Gmail the full address"),
        "password_file": Key("str", "", "file holding the (app) password; read after "
                             "$CREDENTIALS_DIRECTORY/smtp-password"),
        "password_env": Key("str", "SYSREPORT_SMTP_PASSWORD",
                            "name of the environment variable read last for the password"),
        "oauth2_file": Key("str", "", "yagmail OAuth2 JSON file, used instead of a password"),
        "ca_file": Key("str", "", "extra CA bundle to trust (private relay, tests); "
                       "\"\" = the system store"),
        "timeout": Key("float", 30, "seconds allowed for each SMTP operation", _between(0, 600, True)),
    },
    "state": {
        "directory": Key("str", "/var/lib/sysreport", "history, outbox, lock and last-status.json; "
                         "$STATE_DIRECTORY (set by systemd) wins"),
        "history_keep": Key("int", 90, "how many past reports to keep for trends", _at_least(0)),
        "outbox_max_messages": Key("int", 30, "undelivered messages kept; the oldest beyond "
                                   "this are dropped (logged)", _at_least(1)),
        "outbox_max_age_days": Key("float", 14, "undelivered messages older than this are "
                                   "dropped (logged)", _between(0, 3650, lo_open=True)),
    },
    "thresholds": {
        "cpu_percent": Key("threshold", {"warn": 90, "crit": 98}, "CPU busy %, sampled"),
        "load_per_core": Key("threshold", {"warn": 2.0, "crit": 4.0},
                             "15-minute load divided by logical cores"),
        "memory_percent": Key("threshold", {"warn": 85, "crit": 95}, "memory used %"),
        "swap_percent": Key("threshold", {"warn": 50, "crit": 80}, "swap used %"),
        "disk_percent": Key("threshold", {"warn": 80, "crit": 90}, "filesystem used %"),
        "inode_percent": Key("threshold", {"warn": 80, "crit": 90}, "inodes used %"),
        "days_until_full": Key("threshold", {"warn": 14, "crit": 3},
                               "forecast days until a filesystem is full (lower is worse)"),
        "temperature_celsius": Key("threshold", {"warn": 80, "crit": 90}, "sensor temperature"),
        "failed_units": Key("choice", "crit", "status for failed systemd units",
                            choices=("warn", "crit", "ignore")),
        "recent_reboot_hours": Key("float", 24, "WARN when uptime is below this; 0 = off",
                                   _at_least(0)),
    },
    "api": {
        "listen": Key("str", "127.0.0.1", "address the API listens on; any other than "
                      "loopback requires a token"),
        "port": Key("int", 8765, "API port", _between(1, 65535)),
        "token_file": Key("str", "", "file holding the API bearer token; read after "
                          "$CREDENTIALS_DIRECTORY/api-token"),
        "show_cmdline": Key("bool", False, "include process command lines (they can carry secrets)"),
    },
}

# thresholds whose values are percentages (0-100)
PERCENT_THRESHOLDS = ("cpu_percent", "memory_percent", "swap_percent", "disk_percent",
                      "inode_percent")
# thresholds where a lower value is worse: warn must be >= crit
LOWER_IS_WORSE = ("days_until_full",)
# keys allowed in [thresholds.mounts."<mount point>"]
MOUNT_KEYS = ("disk_percent", "inode_percent", "days_until_full")


def defaults() -> "Section":
    """The built-in configuration (what runs when /etc/sysreport/sysreport.toml is absent)."""
    return _build({}, path=None)


# --------------------------------------------------------------------------- the object

class Section:
    """Attribute access to one table: ``cfg.smtp.port``; ``cfg.mail["from"]`` (or
    ``cfg.mail.from_``) because ``from`` is a Python keyword."""

    def __init__(self, values: Dict[str, Any]):
        self.__dict__["_values"] = dict(values)

    def __getattr__(self, name: str) -> Any:
        values = self.__dict__["_values"]
        if name in values:
            return values[name]
        if name.endswith("_") and name[:-1] in values:
            return values[name[:-1]]
        raise AttributeError(name)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("configuration is read-only")

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def __contains__(self, name: str) -> bool:
        return name in self._values

    def get(self, name: str, default: Any = None) -> Any:
        return self._values.get(name, default)

    def keys(self) -> List[str]:
        return list(self._values)

    def as_dict(self) -> Dict[str, Any]:
        def plain(value: Any) -> Any:
            if isinstance(value, Section):
                return value.as_dict()
            if isinstance(value, dict):
                return {k: plain(v) for k, v in value.items()}
            if isinstance(value, list):
                return [plain(v) for v in value]
            return value
        return {k: plain(v) for k, v in self._values.items() if not k.startswith("_")}

    def __repr__(self) -> str:
        return "Section(%r)" % (self.as_dict(),)


def mount_thresholds(config: Section, mount: str) -> Section:
    """disk_percent, inode_percent and days_until_full for one mount point: its
    [thresholds.mounts."<mount>"] override where given, else the global ones."""
    override = config.thresholds.mounts.get(mount)
    if override is not None:
        return override
    return Section({k: config.thresholds[k] for k in MOUNT_KEYS})


# --------------------------------------------------------------------------- loading

def resolve_path(path: Optional[str] = None) -> Tuple[str, bool]:
    """(path, explicit): --config wins, then $SYSREPORT_CONFIG, then the default."""
    if path:
        return path, True
    env = os.environ.get(ENV_CONFIG)
    if env:
        return env, True
    return DEFAULT_PATH, False


def load(path: Optional[str] = None, require_file: bool = False) -> Section:
    """Read, validate and return the configuration; raise ConfigError listing every
    problem. An absent *default* file gives the built-in defaults (``cfg.path`` is
    None) unless require_file; a named file that is absent is an error."""
    data, where, problems = read(path, require_file)
    if problems:
        raise ConfigError(problems)
    problems = validate(data, where)
    if problems:
        raise ConfigError(problems)
    return _build(data, path=None if where == "<defaults>" else where)


def read(path: Optional[str] = None, require_file: bool = False
         ) -> Tuple[Dict[str, Any], str, List[str]]:
    """(raw table, where, problems) for the file that load() would use."""
    path, explicit = resolve_path(path)
    if not os.path.exists(path):
        if explicit or require_file:
            return {}, path, ["%s: file not found: create it (see agent/examples/sysreport.toml) "
                              "or name another with --config" % path]
        return {}, "<defaults>", []
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        return {}, path, ["%s: cannot read the file: %s" % (path, exc.strerror or exc)]
    if not raw.strip():
        return {}, path, []          # an empty file (or /dev/null): the defaults
    sys_tomllib = toml_module()
    if sys_tomllib is None:  # pragma: no cover - only without tomli on Python < 3.11
        return {}, path, ["%s: cannot parse TOML: install tomli (Python < 3.11)" % path]
    try:
        data = sys_tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        return {}, path, ["%s: byte %d: not UTF-8: save the file as UTF-8" % (path, exc.start)]
    except sys_tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = re.search(r"\s*\(at line (\d+), column (\d+)\)$", message)
        if match:
            where = "line %s, column %s" % match.groups()
            message = message[:match.start()]
        else:
            where = "syntax"
        return {}, path, ["%s: %s: TOML syntax error: %s; fix the syntax there"
                          % (path, where, message)]
    return data, path, []


def toml_module() -> Any:
    """tomllib (3.11+) or tomli; imported on first use (collect on defaults needs none)."""
    try:
        import tomllib
        return tomllib
    except ImportError:  # pragma: no cover - exercised on Python < 3.11
        try:
            import tomli
            return tomli
        except ImportError:
            return None


# --------------------------------------------------------------------------- validation

_ADDRESS = re.compile(r"^[^@\s<>\",;]+@[^@\s<>\",;]+$")


def address_problem(value: str) -> Optional[str]:
    """None when value is an address ("a@b.example" or "Name <a@b.example>")."""
    from email.utils import getaddresses, parseaddr
    if not isinstance(value, str) or not value.strip():
        return "empty address"
    name, addr = parseaddr(value)
    if not addr or not _ADDRESS.match(addr) or ("<" in value and not value.rstrip().endswith(">")):
        return "%r is not an e-mail address" % value
    # one address per entry, on one line: "a@x, b@y" or a line break would be sent as one
    # mangled To: and a different envelope
    if any(c < " " or c == "\x7f" for c in value) or len(getaddresses([value])) != 1:
        return "%r is not one e-mail address (one per entry, no line breaks)" % value
    return None


def _type_problem(key: Key, value: Any) -> Optional[str]:
    if key.kind in ("str", "choice"):
        if not isinstance(value, str):
            return "must be a string (in quotes), not %s" % _tname(value)
        if key.choices and value not in key.choices:
            return "%r is not one of %s" % (value, ", ".join(repr(c) for c in key.choices))
    elif key.kind == "bool":
        if not isinstance(value, bool):
            return "must be true or false, not %s" % _tname(value)
    elif key.kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            return "must be a whole number, not %s" % _tname(value)
    elif key.kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return "must be a number, not %s" % _tname(value)
    elif key.kind == "list":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return 'must be a list of strings, like ["a", "b"], not %s' % _tname(value)
    if key.check is not None and key.kind in ("int", "float"):
        return key.check(value)
    return None


def _tname(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "a whole number (%r)" % value
    if isinstance(value, float):
        return "a number (%r)" % value
    if isinstance(value, str):
        return "a string (%r)" % value
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__


def _unknown(where: str, dotted: str, name: str, known: List[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    hint = ("did you mean %s?" % (dotted.rsplit(".", 1)[0] + "." + close[0] if "." in dotted
                                   else close[0])) if close else \
        "known keys here: %s" % ", ".join(known)
    return "%s: %s: unknown key; %s" % (where, dotted, hint)


def _threshold_problems(where: str, dotted: str, name: str, value: Any) -> List[str]:
    if not isinstance(value, dict):
        return ["%s: %s: must be a table like {warn = 80, crit = 90}, not %s"
                % (where, dotted, _tname(value))]
    problems = []
    for sub in value:
        if sub not in ("warn", "crit"):
            problems.append(_unknown(where, dotted + "." + sub, sub, ["warn", "crit"]))
    ok = True
    for sub in ("warn", "crit"):
        if sub not in value:
            problems.append("%s: %s.%s: missing; give both warn and crit" % (where, dotted, sub))
            ok = False
            continue
        number = value[sub]
        if isinstance(number, bool) or not isinstance(number, (int, float)):
            problems.append("%s: %s.%s: must be a number, not %s" % (where, dotted, sub,
                                                                     _tname(number)))
            ok = False
        elif name in PERCENT_THRESHOLDS and not 0 <= number <= 100:
            problems.append("%s: %s.%s: %s is not a percentage; use 0 to 100"
                            % (where, dotted, sub, number))
            ok = False
        elif number < 0:
            problems.append("%s: %s.%s: must not be negative" % (where, dotted, sub))
            ok = False
    if ok:
        warn, crit = value["warn"], value["crit"]
        if name in LOWER_IS_WORSE and warn < crit:
            problems.append("%s: %s: warn (%s) is below crit (%s); fewer days is worse, so "
                            "warn must be >= crit" % (where, dotted, warn, crit))
        elif name not in LOWER_IS_WORSE and warn > crit:
            problems.append("%s: %s: warn (%s) is above crit (%s); make warn <= crit"
                            % (where, dotted, warn, crit))
    return problems


def validate(data: Dict[str, Any], where: str = "<defaults>",
             for_sending: bool = False) -> List[str]:
    """Every problem in a raw table, one line each. for_sending adds what `send`,
    `flush` and `test-smtp` need: at least one recipient and a login name."""
    problems: List[str] = []
    clean: Dict[str, Dict[str, Any]] = {}   # the well-typed keys, for the checks below
    for table, content in data.items():
        if table not in SCHEMA:
            import difflib

            close = difflib.get_close_matches(table, list(SCHEMA), n=1, cutoff=0.6)
            hint = "did you mean [%s]?" % close[0] if close else \
                "known tables: %s" % ", ".join(SCHEMA)
            problems.append("%s: %s: unknown table; %s" % (where, table, hint))
            continue
        if not isinstance(content, dict):
            problems.append("%s: %s: must be a table ([%s]), not %s"
                            % (where, table, table, _tname(content)))
            continue
        keys = SCHEMA[table]
        clean[table] = {}
        known = list(keys) + (["mounts"] if table == "thresholds" else [])
        for name, value in content.items():
            dotted = "%s.%s" % (table, name)
            if table == "thresholds" and name == "mounts":
                problems.extend(_mount_problems(where, value))
                continue
            if name not in keys:
                problems.append(_unknown(where, dotted, name, known))
                continue
            key = keys[name]
            if key.kind == "threshold":
                problems.extend(_threshold_problems(where, dotted, name, value))
                continue
            problem = _type_problem(key, value)
            if problem:
                problems.append("%s: %s: %s" % (where, dotted, problem))
            else:
                clean[table][name] = value
    problems.extend(_semantic_problems(_merge(clean), where, for_sending))
    return problems


def _mount_problems(where: str, mounts: Any) -> List[str]:
    if not isinstance(mounts, dict):
        return ['%s: thresholds.mounts: must be tables like [thresholds.mounts."/var"], not %s'
                % (where, _tname(mounts))]
    problems = []
    for mount, table in mounts.items():
        dotted = 'thresholds.mounts."%s"' % mount
        if not mount.startswith("/"):
            problems.append("%s: %s: %r is a relative path; name the mount point as an "
                            'absolute path, like "/var"' % (where, dotted, mount))
            continue
        if not isinstance(table, dict):
            problems.append("%s: %s: must be a table, not %s" % (where, dotted, _tname(table)))
            continue
        for name, value in table.items():
            if name not in MOUNT_KEYS:
                problems.append(_unknown(where, dotted + "." + name, name, list(MOUNT_KEYS)))
            else:
                problems.extend(_threshold_problems(where, dotted + "." + name, name, value))
    return problems


def _semantic_problems(merged: Dict[str, Dict[str, Any]], where: str,
                       for_sending: bool) -> List[str]:
    problems = []
    report, mail, smtp, api = merged["report"], merged["mail"], merged["smtp"], merged["api"]
    for name in report["sections"]:
        if name not in SECTIONS:
            import difflib

            close = difflib.get_close_matches(name, SECTIONS, n=1)
            problems.append("%s: report.sections: unknown section %r; %s" % (
                where, name, "did you mean %r?" % close[0] if close
                else "use some of: " + ", ".join(SECTIONS)))
    for address in mail["to"]:
        problem = address_problem(address)
        if problem:
            problems.append("%s: mail.to: %s; write it as user@example.com" % (where, problem))
    if mail["from"]:
        problem = address_problem(mail["from"])
        if problem:
            problems.append('%s: mail.from: %s; write it as user@example.com or '
                            '"Name <user@example.com>"' % (where, problem))
    elif smtp["username"] and address_problem(smtp["username"]):
        problems.append("%s: mail.from: empty, and smtp.username %r is not an address to send "
                        "from; set mail.from" % (where, smtp["username"]))
    for name in ("password_file", "oauth2_file", "ca_file"):
        problem = _file_problem(smtp[name])
        if problem:
            problems.append("%s: smtp.%s: %s" % (where, name, problem))
    if smtp["password_env"] and not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", smtp["password_env"]):
        problems.append("%s: smtp.password_env: %r is not an environment variable name; "
                        "use letters, digits and _" % (where, smtp["password_env"]))
    # the two well-known ports each speak one way only; the other times out after a while
    if smtp["security"] == "starttls" and smtp["port"] == 465:
        problems.append('%s: smtp.port: 465 speaks TLS from the first byte, not STARTTLS; '
                        'use security = "tls", or port 587' % where)
    elif smtp["security"] == "tls" and smtp["port"] in (25, 587):
        problems.append('%s: smtp.port: %d speaks STARTTLS, not TLS from the first byte; '
                        'use security = "starttls", or port 465' % (where, smtp["port"]))
    problem = _file_problem(api["token_file"])
    if problem:
        problems.append("%s: api.token_file: %s" % (where, problem))
    if not api["listen"]:
        problems.append('%s: api.listen: empty; use an address like "127.0.0.1"' % where)
    directory = merged["state"]["directory"]
    if not directory or not directory.startswith("/"):
        problems.append("%s: state.directory: %r is not an absolute path; use one like "
                        '"/var/lib/sysreport"' % (where, directory))
    if for_sending:
        if not mail["to"]:
            problems.append('%s: mail.to: no recipients; add at least one, like '
                            'to = ["ops@example.com"]' % where)
        if not smtp["username"] and not smtp["oauth2_file"]:
            problems.append("%s: smtp.username: empty; set the login name (for Gmail the "
                            "full address)" % where)
    return problems


def _file_problem(path: str) -> Optional[str]:
    if not path:
        return None
    if not os.path.isabs(path):
        return "%r is a relative path; use an absolute one" % path
    if not os.path.exists(path):
        return "%s does not exist; create it or fix the path" % path
    if os.path.isdir(path):
        return "%s is a directory; name the file" % path
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        return "%s cannot be read (%s); fix its owner or mode" % (path, exc.strerror or exc)
    return None


def _merge(data: Dict[str, Any]) -> Dict[str, Dict[str, Any]]:
    merged: Dict[str, Dict[str, Any]] = {}
    for table, keys in SCHEMA.items():
        given = data.get(table, {})
        merged[table] = {name: _copy(given.get(name, key.default)) for name, key in keys.items()}
    merged["thresholds"]["mounts"] = _copy(data.get("thresholds", {}).get("mounts", {}))
    return merged


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _build(data: Dict[str, Any], path: Optional[str]) -> Section:
    merged = _merge(data)
    thresholds = merged["thresholds"]
    mounts = {}
    for mount, table in thresholds.pop("mounts").items():
        mounts[mount] = Section({k: Section(table.get(k, thresholds[k])) for k in MOUNT_KEYS})
    for name, key in SCHEMA["thresholds"].items():
        if key.kind == "threshold":
            thresholds[name] = Section(thresholds[name])
    thresholds["mounts"] = mounts
    state_env = os.environ.get("STATE_DIRECTORY")
    if state_env:  # systemd: StateDirectory= sets it, colon-separated when several
        merged["state"]["directory"] = state_env.split(":")[0]
    if not merged["mail"]["from"]:
        merged["mail"]["from"] = merged["smtp"]["username"]
    tables = {name: Section(values) for name, values in merged.items()}
    tables["path"] = path
    return Section(tables)


def validate_file(path: Optional[str] = None, for_sending: bool = True) -> List[str]:
    """Every problem of the file `load` would read (what `check-config` prints)."""
    data, where, problems = read(path)
    if problems:
        return problems
    return validate(data, where, for_sending=for_sending)


def hostname(config: Section) -> str:
    return config.report.hostname or os.uname().nodename  # gethostname(), without importing socket


def is_loopback(address: str) -> bool:
    import ipaddress

    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return address == "localhost"


# --------------------------------------------------------------------------- secrets

_SECRETS: set = set()


def register_secret(value: str) -> None:
    """Remember a secret so that the CLI's log formatter masks it wherever it appears."""
    if value and len(value) >= 4:
        _SECRETS.add(value)


def known_secrets() -> List[str]:
    return sorted(_SECRETS, key=len, reverse=True)


def secret_files(credential: str, key: str, path: str) -> List[Tuple[str, str]]:
    """(label, path) of the files that may hold a secret, in the order they are tried:
    the systemd credential `credential` (LoadCredential=), then the configured file."""
    sources = []
    creds = os.environ.get("CREDENTIALS_DIRECTORY")
    if creds:
        candidate = os.path.join(creds, credential)
        if os.path.exists(candidate):
            sources.append(("$CREDENTIALS_DIRECTORY/" + credential, candidate))
    if path:
        sources.append((key, path))
    return sources


def smtp_password(config: Section) -> Optional[str]:
    """The SMTP password: $CREDENTIALS_DIRECTORY/smtp-password, then smtp.password_file,
    then the variable named by smtp.password_env. One trailing newline is stripped.
    None when there is none; ConfigError (never with the secret in it) when a named
    source cannot be read."""
    for label, path in secret_files(CREDENTIAL_NAME, "smtp.password_file",
                                    config.smtp.password_file):
        try:
            with open(path, "r", encoding="utf-8") as handle:
                secret = handle.read()
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or type(exc).__name__
            raise ConfigError(["%s: %s: cannot read %s (%s); fix its owner or mode"
                               % (config.path or "<defaults>", label, path, reason)]) from None
        secret = _strip_newline(secret)
        if not secret:     # else a login refused with advice about the wrong thing
            raise ConfigError(["%s: %s: %s is empty; write the (app) password into it"
                               % (config.path or "<defaults>", label, path)])
        register_secret(secret)
        return secret
    if config.smtp.password_env:
        value = os.environ.get(config.smtp.password_env)
        if value:
            value = _strip_newline(value)
            register_secret(value)
            return value
    return None


def _strip_newline(secret: str) -> str:
    if secret.endswith("\r\n"):
        return secret[:-2]
    if secret.endswith("\n"):
        return secret[:-1]
    return secret


def sending_problems(config: Section, to: Optional[List[str]] = None,
                     need_recipients: bool = True) -> List[str]:
    """What a loaded configuration lacks to send mail (send, flush, test-smtp)."""
    where = config.path or "<defaults: no %s>" % resolve_path()[0]
    problems = []
    if need_recipients and not (to or config.mail.to):
        problems.append('%s: mail.to: no recipients; add at least one, like '
                        'to = ["ops@example.com"] (or pass --to)' % where)
    if not config.smtp.username and not config.smtp.oauth2_file:
        problems.append("%s: smtp.username: empty; set the login name (for Gmail the "
                        "full address)" % where)
    return problems


# --------------------------------------------------------------------------- documentation

def toml_literal(value: Any) -> str:
    """A default as it is written in the TOML file."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"%s"' % value
    if isinstance(value, list):
        return "[%s]" % ", ".join(toml_literal(v) for v in value)
    if isinstance(value, dict):
        return "{%s}" % ", ".join("%s = %s" % (k, toml_literal(v)) for k, v in value.items())
    return str(value)


def markdown_table() -> str:
    """The reference table of every key for agent/README.md, generated from SCHEMA
    (`python -m sysreport.config` prints it; `make docs` puts it in the README)."""
    rows = ["| Key | Default | Meaning |", "| --- | --- | --- |"]
    for table, keys in SCHEMA.items():
        for name, key in keys.items():
            doc = key.doc.replace("|", "\\|")
            if key.choices:
                doc += " (one of %s)" % ", ".join('"%s"' % c for c in key.choices)
            rows.append("| `%s.%s` | `%s` | %s |" % (table, name, toml_literal(key.default), doc))
    rows.append('| `thresholds.mounts."<mount>"` | none | per mount point (absolute path): '
                "%s, each `{warn = x, crit = y}`; what is not given comes from the global "
                "thresholds |" % ", ".join("`%s`" % k for k in MOUNT_KEYS))
    return "\n".join(rows) + "\n"


def _main(argv: List[str]) -> int:
    """python -m sysreport.config [README]: print the table, or put it in README
    between <!-- config-table:start --> and <!-- config-table:end -->."""
    if not argv:
        print(markdown_table(), end="")
        return 0
    start, end = "<!-- config-table:start -->\n", "<!-- config-table:end -->"
    with open(argv[0], encoding="utf-8") as handle:
        text = handle.read()
    try:
        head, rest = text.split(start, 1)
        _, tail = rest.split(end, 1)
    except ValueError:
        print("%s: no %s...%s markers" % (argv[0], start.strip(), end), file=sys.stderr)
        return 1
    with open(argv[0], "w", encoding="utf-8") as handle:
        handle.write(head + start + markdown_table() + end + tail)
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
