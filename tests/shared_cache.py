"""Files and folders that tests cache for every pytest process of a run, and for later runs.

``make test`` runs several pytest-xdist workers at once, and any of them may be the first to need a
cached file. So a cache is made under a file lock, by one process, into a temporary name beside
it, and renamed into place when complete: a reader that finds the name finds the whole thing.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path


@contextlib.contextmanager
def locked(target: Path) -> Iterator[None]:
    """Hold the lock of ``target`` (``.NAME.lock`` beside it) against every other process."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with (target.parent / f".{target.name}.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def cached(
    target: Path,
    make: Callable[[Path], None],
    *,
    update: Callable[[Path], None] | None = None,
) -> Path:
    """``target``, made once by ``make(path)`` if missing: ``make`` writes ``path`` (a file or a
    folder) and the result is renamed to ``target`` whole. ``update``, if given, runs under the
    lock on a ``target`` that exists (to bring an older cache up to date in place)."""
    if target.exists() and update is None:
        return target  # it exists only once complete: no lock needed to read it
    with locked(target):
        if not target.exists():
            partial = target.parent / f".{target.name}.{os.getpid()}.partial"
            _remove(partial)
            try:
                make(partial)
                os.replace(partial, target)
            finally:
                _remove(partial)
        elif update is not None:
            update(target)
    return target


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)
