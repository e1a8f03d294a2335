"""The runtime's counters stay exact when its task threads finish at the same time.

A tracer hands the GIL to another thread between every bytecode of ``activities/runtime.py``, so
a read-modify-write that is not under a lock loses updates here every time, instead of once in a
blue moon in production.
"""

from __future__ import annotations

import sys
import threading
import time
from types import FrameType
from typing import Any

from activities import runtime
from activities.base import TaskContext
from activities.runtime import Runtime, Work
from gas.settings import Settings

THREADS, EACH = 4, 30


class Outcomes(Runtime):
    """A runtime whose work says how it ends: no source of work, nothing to report to."""

    kind = "counters"

    def _receive(self) -> Work | None:
        return None

    def _handle(self, work: Work) -> None:
        if work.payload == "fail":
            raise RuntimeError("this one fails")

    def _keep_leased(self, work: Work) -> bool:
        return True

    def _report_failure(self, work: Work, error: str, cause: str) -> None:
        pass


def _yield_between_bytecodes(frame: FrameType, event: str, _arg: Any) -> Any:
    if frame.f_code.co_filename != runtime.__file__:
        return None
    frame.f_trace_opcodes = True
    if event == "opcode":
        time.sleep(0)  # releases the GIL: another thread runs now
    return _yield_between_bytecodes


def test_counts_of_concurrent_tasks_are_exact(monkeypatch: Any) -> None:
    monkeypatch.setattr(runtime, "log_event", lambda *_a, **_k: None)
    monkeypatch.setattr(runtime.log, "exception", lambda *_a, **_k: None)
    worker = Outcomes(Settings(), concurrency=THREADS, lease_seconds=60)
    start = threading.Barrier(THREADS)

    def serve(thread: int) -> None:
        sys.settrace(_yield_between_bytecodes)
        start.wait()
        for i in range(EACH):
            payload = "fail" if i % 3 == 0 else "ok"
            context = TaskContext(settings=worker.settings, owner=f"{thread}-{i}", activity="c")
            worker._serve(Work(context, payload, receipt=f"{thread}-{i}"))
        sys.settrace(None)

    threads = [threading.Thread(target=serve, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    failing = THREADS * len(range(0, EACH, 3))
    assert (worker.completed, worker.failed) == (THREADS * EACH - failing, failing)
