"""Caches that pytest processes share (``tests.shared_cache``): made once, never read half-made.

Several processes ask for the same missing cache at once while its maker writes slowly, as a
download to a busy disk does; each reads what it got as soon as it has it.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.shared_cache import cached

REPO = Path(__file__).resolve().parents[2]
PROCESSES = 4
CHUNKS, CHUNK = 40, 16_384

# One process: wait for the others, ask for the cache, read it at once and say what it read.
ASK = (
    textwrap.dedent(
        """
    import hashlib, os, sys, time
    from pathlib import Path
    from tests.shared_cache import cached

    target, made, kind = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[4]
    start = float(sys.argv[3])

    def slow_file(path):
        with made.open("a") as log:
            log.write(f"{os.getpid()}\\n")
        with path.open("wb") as out:
            for i in range({chunks}):
                out.write(bytes([i]) * {chunk})
                out.flush()
                time.sleep(0.005)

    def slow_folder(path):
        path.mkdir()
        slow_file(path / "data")

    time.sleep(max(0.0, start - time.time()))
    got = cached(target, slow_file if kind == "file" else slow_folder)
    data = (got if kind == "file" else got / "data").read_bytes()
    print(len(data), hashlib.sha256(data).hexdigest())
    """
    )
    .replace("{chunks}", str(CHUNKS))
    .replace("{chunk}", str(CHUNK))
)


def _expected() -> str:
    data = b"".join(bytes([i]) * CHUNK for i in range(CHUNKS))
    return f"{len(data)} {hashlib.sha256(data).hexdigest()}"


def _race(tmp_path: Path, kind: str) -> tuple[list[str], list[str]]:
    target, made = tmp_path / "cache" / f"shared.{kind}", tmp_path / "made.log"
    start = time.time() + 1.0
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", ASK, str(target), str(made), str(start), kind],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(PROCESSES)
    ]
    # Stagger nothing: all of them find the cache missing, or being written, at the same moment.
    outputs = [proc.communicate(timeout=60)[0].strip() for proc in procs]
    assert all(proc.returncode == 0 for proc in procs)
    return outputs, made.read_text().split()


def test_processes_racing_for_a_missing_file_all_read_it_whole_and_it_is_made_once(
    tmp_path: Path,
) -> None:
    outputs, makers = _race(tmp_path, "file")
    assert outputs == [_expected()] * PROCESSES
    assert len(makers) == 1
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [
        ".shared.file.lock",
        "shared.file",
    ]


def test_a_cached_folder_appears_whole(tmp_path: Path) -> None:
    outputs, makers = _race(tmp_path, "folder")
    assert outputs == [_expected()] * PROCESSES and len(makers) == 1


def test_a_failed_make_leaves_nothing_and_the_next_one_makes_it(tmp_path: Path) -> None:
    target = tmp_path / "cache.bin"

    def broken(path: Path) -> None:
        path.write_bytes(b"half")
        raise OSError("the download broke off")

    with pytest.raises(OSError, match="broke off"):
        cached(target, broken)
    assert not target.exists() and not list(tmp_path.glob(".cache.bin.*.partial"))
    assert cached(target, lambda path: path.write_bytes(b"whole")).read_bytes() == b"whole"


def test_update_runs_on_an_existing_cache_under_the_lock(tmp_path: Path) -> None:
    target = tmp_path / "bundle"
    target.mkdir()
    seen: list[Path] = []
    cached(target, lambda path: None, update=seen.append)
    assert seen == [target]
