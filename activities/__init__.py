"""Workers: the runtime (``activities.runtime``), one module per activity and per queue handler."""

from __future__ import annotations

import importlib

from activities.base import Activity, QueueHandler

# Activity name -> module; imported only when a worker serves it (annotate needs numpy/pyarrow).
MODULES = {
    "annotate": "activities.annotate",
    "notify": "activities.notify",
    "archive": "activities.archive",
    "record-failure": "activities.record_failure",
    "restore": "activities.restore",
}


# Queue name -> module of its handler.
HANDLERS = {
    "restore-requests": "activities.restore_requests",
    "restore-events": "activities.restore_events",
}
KINDS = [*MODULES, *HANDLERS]


def load(name: str) -> Activity:
    """The activity a ``gas worker NAME`` serves."""
    return importlib.import_module(MODULES[name]).ACTIVITY


def load_handler(name: str) -> QueueHandler:
    """The queue handler a ``gas worker NAME`` serves."""
    return importlib.import_module(HANDLERS[name]).HANDLER
