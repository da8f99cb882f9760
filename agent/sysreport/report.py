"""The whole report document: collect -> remember -> judge, in one call.

    doc = build(config)                  # what `sysreport collect` prints
    doc = build(config, remember=True)   # what `sysreport send` mails: history saved too

Used alike by the CLI, the Ansible module and the API.
"""

from __future__ import annotations

from . import history, judge
from .collect import collect_all
from .collect._util import setting
from .log import get_logger

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs ~2 ms to import; annotations are strings here
    from typing import Any, Dict

log = get_logger(__name__)


def assemble(facts: Dict[str, Any], trends: Dict[str, Any], verdict: Dict[str, Any]) -> Dict[str, Any]:
    """facts + trends + verdict in the contract's key order."""
    doc = dict(facts)
    doc["trends"] = trends
    doc["status"] = verdict["status"]
    doc["problems"] = verdict["problems"]
    return doc


def build(config: Any, remember: bool = False) -> Dict[str, Any]:
    """Collect, compare with the history, judge; save a snapshot only when remember.

    History problems never cost the report: an unreadable history means no trends,
    an unwritable one a warning in the log.
    """
    facts = collect_all(config)
    state_dir = setting(config, "state", "directory", "/var/lib/sysreport")
    past = history.load(state_dir)
    trends = history.analyse(facts, past, config)
    verdict = judge.judge(facts, trends, config)
    if remember:
        try:
            history.save(facts, config)
        except (OSError, ValueError) as exc:
            log.warning("history not saved in %s: %s", state_dir, exc)
    return assemble(facts, trends, verdict)


def drop_cmdlines(document: Dict[str, Any]) -> Dict[str, Any]:
    """The document without process command lines (they can carry secrets: a password on
    a command line), for readers other than the host's own email: the API unless
    api.show_cmdline, the Ansible module unless its show_cmdline option."""
    for rows in (document.get("processes") or {}).values():
        for row in rows if isinstance(rows, list) else ():
            if isinstance(row, dict):
                row.pop("cmdline", None)
    return document
