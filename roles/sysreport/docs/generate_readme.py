#!/usr/bin/env python3
"""Write the variable table of roles/sysreport/README.md from meta/argument_specs.yml.

    python roles/sysreport/docs/generate_readme.py          rewrite the table in place
    python roles/sysreport/docs/generate_readme.py --check  exit 1 if README.md is stale

The table sits between the BEGIN/END markers; the rest of README.md is hand-written.
One source for every variable (its type, default, choices and description): the
argument specs that ansible-core validates before the role runs.
"""
import argparse
import json
import re
import sys
from pathlib import Path

import yaml

ROLE = Path(__file__).resolve().parent.parent
SPECS = ROLE / "meta" / "argument_specs.yml"
README = ROLE / "README.md"
BEGIN = "<!-- BEGIN generated from meta/argument_specs.yml by docs/generate_readme.py -->"
END = "<!-- END generated -->"


def markup(text):
    """Ansible doc markup (C(), I(), ...) to Markdown, for one table cell."""
    if isinstance(text, list):
        text = " ".join(text)
    text = re.sub(r"C\(([^)]*)\)", r"`\1`", text)
    text = re.sub(r"[IBV]\(([^)]*)\)", r"*\1*", text)
    return text.replace("|", "\\|").replace("\n", " ")


def show(value):
    if value is None:
        return ""
    return "`%s`" % json.dumps(value, ensure_ascii=False).replace("|", "\\|")


def suboptions(options, prefix=""):
    parts = []
    for name, spec in options.items():
        kind = spec.get("type", "str")
        extra = " (one of %s)" % ", ".join(spec["choices"]) if "choices" in spec else ""
        if "options" in spec:
            inner = ", ".join(spec["options"])
            parts.append("`%s%s` (%s: %s)%s" % (prefix, name, kind, inner, extra))
        else:
            parts.append("`%s%s` (%s%s)" % (prefix, name, kind, ", required" if spec.get("required") else "") + extra)
    return "; ".join(parts)


def table(specs):
    options = specs["argument_specs"]["main"]["options"]
    rows = ["| Variable | Type | Default | Choices | Description |",
            "| --- | --- | --- | --- | --- |"]
    for name in sorted(options):
        spec = options[name]
        kind = spec.get("type", "str")
        if kind == "list" and "elements" in spec:
            kind = "list of %s" % spec["elements"]
        description = markup(spec.get("description", ""))
        if spec.get("no_log"):
            description += " **Secret**: keep it in Ansible Vault; never logged."
        if "options" in spec:
            description += " Keys: " + suboptions(spec["options"]) + "."
        default = show(spec["default"]) if "default" in spec else ("required" if spec.get("required") else "no default")
        choices = ", ".join("`%s`" % c for c in spec.get("choices", []))
        rows.append("| `%s` | %s | %s | %s | %s |" % (name, kind, default, choices, description))
    return "\n".join(rows)


def render(readme, specs):
    start, end = readme.index(BEGIN) + len(BEGIN), readme.index(END)
    return readme[:start] + "\n" + table(specs) + "\n" + readme[end:]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when README.md differs from the generated one")
    args = parser.parse_args(argv)
    specs = yaml.safe_load(SPECS.read_text(encoding="utf-8"))
    current = README.read_text(encoding="utf-8")
    wanted = render(current, specs)
    if args.check:
        if current != wanted:
            print("%s is stale: run `make role-readme`" % README, file=sys.stderr)
            return 1
        return 0
    README.write_text(wanted, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
