"""Activity workers: the runtime (``activities.runtime``) and one module per activity."""

from __future__ import annotations

import importlib

from activities.base import Activity

# Activity name -> module; imported only when a worker serves it (annotate needs numpy/pyarrow).
MODULES = {
    "annotate": "activities.annotate",
    "notify": "activities.notify",
    "archive": "activities.archive",
    "record-failure": "activities.record_failure",
    "restore": "activities.restore",
}


def load(name: str) -> Activity:
    """The activity a ``gas worker NAME`` serves."""
    return importlib.import_module(MODULES[name]).ACTIVITY
