# dlws: one JSON line per task result, so `dlws fleet gather` follows each host as its results arrive.
from __future__ import annotations

DOCUMENTATION = r"""
name: dlws_events
type: stdout
short_description: one JSON line per task result, for dlws fleet gather
description:
  - Prints every task result as a line C(DLWS-EVENT {json}) with the event (ok, changed, skipped, failed,
    unreachable), the host, the task and, for failures, the message; a result of dlws.fleet.doctor brings its
    report and snapshot_b64. The play's stats end the stream.
  - dlws fleet gather selects it with ANSIBLE_STDOUT_CALLBACK=dlws_events and reads its output line by line.
"""

import json
import re
import sys
from typing import Any, Dict, Optional

from ansible.plugins.callback import CallbackBase

PREFIX = "DLWS-EVENT "
RESULT_KEYS = ("report", "snapshot_b64")


def _parts(result: Any) -> tuple:
    """(host name, task name, result dict) of a task result, on ansible-core before and after 2.19."""
    host = getattr(result, "host", None) or result._host
    task = getattr(result, "task", None) or result._task
    data = getattr(result, "result", None)
    if not isinstance(data, dict):
        data = result._result
    return host.get_name(), task.get_name(), data


def _message(data: Dict[str, Any]) -> Optional[str]:
    """The failure message with the last line of the command's error output, which says what went wrong."""
    parts = [re.sub(r"^Task failed: ", "", str(data.get("msg") or "").strip())]  # ansible-core 2.19's prefix
    stderr = str(data.get("stderr") or data.get("module_stderr") or "").strip()
    if stderr:
        parts.append(stderr.splitlines()[-1].strip())
    text = ": ".join(p for p in parts if p)
    return text or None


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "stdout"
    CALLBACK_NAME = "dlws_events"

    def _emit(self, **event: Any) -> None:
        sys.stdout.write(PREFIX + json.dumps(event, sort_keys=True, default=str) + "\n")
        sys.stdout.flush()  # a pipe is block-buffered: flush so the reader sees each result as it arrives

    def _result(self, event: str, result: Any, **extra: Any) -> None:
        host, task, data = _parts(result)
        if event == "ok" and data.get("changed"):
            event = "changed"
        hosts = (data.get("ansible_facts") or {}).get("dlws_gather_hosts")
        if hosts is not None:
            extra["hosts"] = list(hosts)
        if event == "ok":  # dlws.fleet.doctor's report and snapshot, which the gather writes on the controller
            extra.update((key, data[key]) for key in RESULT_KEYS if key in data)
        self._emit(event=event, host=host, task=task, **extra)

    def v2_runner_on_ok(self, result: Any) -> None:
        self._result("ok", result)

    def v2_runner_on_skipped(self, result: Any) -> None:
        self._result("skipped", result)

    def v2_runner_on_failed(self, result: Any, ignore_errors: bool = False) -> None:
        self._result("failed", result, message=_message(_parts(result)[2]), ignored=ignore_errors)

    def v2_runner_on_unreachable(self, result: Any) -> None:
        self._result("unreachable", result, message=_message(_parts(result)[2]))

    def v2_playbook_on_no_hosts_matched(self) -> None:
        self._emit(event="no_hosts")

    def v2_playbook_on_stats(self, stats: Any) -> None:
        self._emit(event="stats", hosts={host: stats.summarize(host) for host in sorted(stats.processed)})
