"""The on-disk journal of the local cloud's S3 objects and ended executions (standard library only).

Every record is one file, written to a temporary name, fsynced, renamed into place and its folder
fsynced: a record is either wholly there or not at all, and once ``put``/``record`` returns it
survives a kill -9 or a power cut. Temporary files a crash leaves behind are never read.

Layout under the journal's root (``<state>/localstack-state``)::

    s3/<bucket>/<sha256 of key>.obj       one line of JSON metadata, then the object's bytes
    stepfunctions/<account>/<region>/<state machine>.sm/<execution name>.json
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

MAGIC = b"GASJ1\n"
TMP_PREFIX = ".tmp-"
DROPPED_PREFIX = ".dropped-"
CHUNK = 1024 * 1024
ENDED = frozenset({"SUCCEEDED", "FAILED", "ABORTED", "TIMED_OUT"})


def dumps(value: Any) -> str:
    """JSON with datetimes kept as datetimes (tagged), on one line."""
    return json.dumps(value, default=_encode, separators=(",", ":"), ensure_ascii=True)


def loads(text: str | bytes) -> Any:
    return json.loads(text, object_hook=_decode)


def _encode(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, bytes | bytearray):
        return {"$bytes": value.hex()}
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"cannot journal a {type(value).__name__}")


def _decode(obj: dict[str, Any]) -> Any:
    if len(obj) == 1:
        if "$datetime" in obj:
            return datetime.datetime.fromisoformat(obj["$datetime"])
        if "$bytes" in obj:
            return bytes.fromhex(obj["$bytes"])
    return obj


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _ensure_dir(path: Path) -> None:
    """Make ``path``, fsyncing each parent whose entries changed: the folder itself is durable."""
    missing = []
    probe = path
    while not probe.exists():
        missing.append(probe)
        probe = probe.parent
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):
            folder.mkdir()
        _fsync_dir(folder.parent)


class Readable(Protocol):
    """What an object's bytes are read from: a file, or the hooks' hashing reader."""

    def read(self, size: int = -1, /) -> bytes: ...


def write_atomic(path: Path, write: Callable[[IO[bytes]], object], *, durable: bool = True) -> None:
    """Write ``path`` through a temporary file and a rename; fsync both unless told not to."""
    _ensure_dir(path.parent)
    tmp = path.with_name(f"{TMP_PREFIX}{path.name}-{secrets.token_hex(6)}")
    try:
        with open(tmp, "xb") as out:
            write(out)
            out.flush()
            if durable:
                os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if durable:
        _fsync_dir(path.parent)


def _unlink_durably(path: Path) -> bool:
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    _fsync_dir(path.parent)
    return True


def _remove_tree_durably(folder: Path) -> None:
    """Rename away first (atomic), then delete: a crash mid-delete leaves no half-folder to read."""
    if not folder.exists():
        return
    gone = folder.with_name(f"{DROPPED_PREFIX}{folder.name}-{secrets.token_hex(6)}")
    os.replace(folder, gone)
    _fsync_dir(folder.parent)
    shutil.rmtree(gone, ignore_errors=True)


def _sweep(root: Path) -> int:
    """Delete what crashes leave behind: temporary files and renamed-away folders."""
    swept = 0
    if not root.exists():
        return 0
    for path in root.rglob(".*"):
        if path.name.startswith(DROPPED_PREFIX) and path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
            swept += 1
        elif path.name.startswith(TMP_PREFIX) and path.is_file():
            path.unlink(missing_ok=True)
            swept += 1
    return swept


@dataclass(frozen=True)
class JournaledObject:
    """One object as journaled: its metadata and where its bytes start in the record."""

    bucket: str
    meta: dict[str, Any]
    path: Path
    offset: int

    @property
    def key(self) -> str:
        return self.meta["key"]

    def open(self) -> IO[bytes]:
        """The object's bytes, as a file positioned at their start."""
        handle = open(self.path, "rb")  # noqa: SIM115 (the caller closes it)
        handle.seek(self.offset)
        return handle

    def read(self) -> bytes:
        with self.open() as handle:
            return handle.read()


class ObjectJournal:
    """S3 objects by bucket: written before the call that made them returns, replayed on create."""

    def __init__(self, root: Path, *, durable: bool = True) -> None:
        self.root = root
        self.durable = durable

    def _bucket_dir(self, bucket: str) -> Path:
        if not bucket or "/" in bucket or bucket.startswith("."):
            raise ValueError(f"not a bucket name: {bucket!r}")
        return self.root / bucket

    def _path(self, bucket: str, key: str) -> Path:
        digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
        return self._bucket_dir(bucket) / f"{digest}.obj"

    def put(self, bucket: str, key: str, meta: dict[str, Any], body: Readable | bytes) -> int:
        """Journal the object ``key`` (metadata and bytes); returns the bytes written."""
        header = dumps({**meta, "key": key}).encode() + b"\n"
        written = 0

        def write(out: IO[bytes]) -> None:
            nonlocal written
            out.write(MAGIC)
            out.write(header)
            if isinstance(body, bytes):
                out.write(body)
                written = len(body)
                return
            while chunk := body.read(CHUNK):
                out.write(chunk)
                written += len(chunk)

        write_atomic(self._path(bucket, key), write, durable=self.durable)
        return written

    def delete(self, bucket: str, key: str) -> bool:
        """Forget the object ``key``; False if it was not journaled."""
        return _unlink_durably(self._path(bucket, key))

    def drop_bucket(self, bucket: str) -> None:
        """Forget the bucket and every object in it (the bucket was deleted)."""
        _remove_tree_durably(self._bucket_dir(bucket))

    def get(self, bucket: str, key: str) -> JournaledObject | None:
        return self._load(bucket, self._path(bucket, key))

    def objects(self, bucket: str) -> Iterator[JournaledObject]:
        """Every complete record of ``bucket``; anything torn or foreign is skipped."""
        folder = self._bucket_dir(bucket)
        if not folder.is_dir():
            return
        for path in sorted(folder.glob("*.obj")):
            found = self._load(bucket, path)
            if found is not None:
                yield found

    def buckets(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(
            p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")
        )

    def _load(self, bucket: str, path: Path) -> JournaledObject | None:
        try:
            with open(path, "rb") as handle:
                if handle.read(len(MAGIC)) != MAGIC:
                    return None
                header = handle.readline()
                offset = handle.tell()
                total = os.fstat(handle.fileno()).st_size
        except FileNotFoundError:
            return None
        try:
            meta = loads(header)
        except ValueError:
            return None
        # A record is renamed into place only when whole; this guards against a foreign file.
        if not header.endswith(b"\n") or total - offset != meta.get("size", total - offset):
            return None
        return JournaledObject(bucket, meta, path, offset)

    def sweep(self) -> int:
        return _sweep(self.root)


class ExecutionJournal:
    """Ended Step Functions executions: what DescribeExecution and GetExecutionHistory said."""

    def __init__(self, root: Path, *, durable: bool = True) -> None:
        self.root = root
        self.durable = durable

    @staticmethod
    def _parts(arn: str, kind: str) -> tuple[str, str, str, str]:
        # arn:partition:states:region:account:<kind>:<state machine>[:<execution>]
        parts = arn.split(":")
        if len(parts) < 7 or parts[2] != "states" or parts[5] != kind:
            raise ValueError(f"not a {kind} ARN: {arn!r}")
        return parts[3], parts[4], parts[6], parts[7] if len(parts) == 8 else ""

    def _machine_dir(self, region: str, account: str, machine: str) -> Path:
        # Names never hold '/'; the suffix keeps a name like '..' from meaning a parent folder.
        return self.root / account / region / f"{machine}.sm"

    def _path(self, execution_arn: str) -> Path | None:
        try:
            region, account, machine, name = self._parts(execution_arn, "execution")
        except ValueError:
            return None
        if not name:  # express executions carry a fourth part; they are never journaled
            return None
        return self._machine_dir(region, account, machine) / f"{name}.json"

    def record(
        self,
        execution_arn: str,
        describe: dict[str, Any],
        history: list[dict[str, Any]],
        list_item: dict[str, Any],
    ) -> bool:
        """Journal an ended execution; False (nothing written) if it has not ended."""
        path = self._path(execution_arn)
        if path is None or describe.get("status") not in ENDED:
            return False
        text = dumps({"describe": describe, "history": history, "list_item": list_item}).encode()
        write_atomic(path, lambda out: out.write(text), durable=self.durable)
        return True

    def get(self, execution_arn: str) -> dict[str, Any] | None:
        """``{"describe", "history", "list_item"}`` of a journaled execution, else None."""
        path = self._path(execution_arn)
        if path is None:
            return None
        try:
            return loads(path.read_bytes())
        except (FileNotFoundError, ValueError):
            return None

    def exists(self, execution_arn: str) -> bool:
        path = self._path(execution_arn)
        return path is not None and path.is_file()

    def list_items(self, state_machine_arn: str, status: str | None = None) -> list[dict[str, Any]]:
        """ListExecutions items of the state machine's journaled executions, newest first."""
        try:
            region, account, machine, _ = self._parts(state_machine_arn, "stateMachine")
        except ValueError:
            return []
        folder = self._machine_dir(region, account, machine)
        items = []
        for path in folder.glob("*.json") if folder.is_dir() else ():
            try:
                item = loads(path.read_bytes())["list_item"]
            except (OSError, ValueError, KeyError):
                continue
            if status is None or item.get("status") == status:
                items.append(item)
        items.sort(key=lambda item: item["startDate"], reverse=True)
        return items

    def drop_state_machine(self, state_machine_arn: str) -> None:
        """Forget every execution of a deleted state machine."""
        try:
            region, account, machine, _ = self._parts(state_machine_arn, "stateMachine")
        except ValueError:
            return
        _remove_tree_durably(self._machine_dir(region, account, machine))

    def count(self) -> int:
        return sum(1 for _ in self.root.rglob("*.json")) if self.root.is_dir() else 0

    def sweep(self) -> int:
        return _sweep(self.root)


@dataclass(frozen=True)
class Journal:
    """The journal root and its two parts."""

    root: Path
    s3: ObjectJournal
    executions: ExecutionJournal

    @classmethod
    def at(cls, root: Path, *, durable: bool = True) -> Journal:
        return cls(
            root,
            ObjectJournal(root / "s3", durable=durable),
            ExecutionJournal(root / "stepfunctions", durable=durable),
        )

    def stats(self) -> dict[str, int]:
        """Counts and bytes on disk: buckets, objects, executions, bytes."""
        objects = size = 0
        for path in self.root.rglob("*") if self.root.is_dir() else ():
            if path.is_file():
                size += path.stat().st_size
                objects += path.suffix == ".obj"
        return {
            "buckets": len(self.s3.buckets()),
            "objects": objects,
            "executions": self.executions.count(),
            "bytes": size,
        }
