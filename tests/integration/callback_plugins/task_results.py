"""Test-only callback: writes every task result as JSON lines to $TASK_RESULTS_FILE."""

import json
import os

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: task_results
type: aggregate
short_description: write task results as JSON lines (tests only)
description: Writes each task's result to the file named by TASK_RESULTS_FILE.
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "task_results"
    CALLBACK_NEEDS_ENABLED = False

    def _write(self, result, **status):
        data = dict(result._result)
        data.update(status)
        with open(os.environ["TASK_RESULTS_FILE"], "a") as handle:
            handle.write(json.dumps(data, default=str) + "\n")

    def v2_runner_on_ok(self, result):
        self._write(result, failed=False)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._write(result, failed=True)

    def v2_runner_on_skipped(self, result):
        self._write(result, skipped=True, failed=False)

    def v2_runner_on_unreachable(self, result):
        self._write(result, failed=True, unreachable=True)
