"""The registry of annotation sources: which ones exist, their current versions, and a local
cache of their compact forms (built by ``annotator.annotation_sources``).

The registry is one JSON object in the results bucket (``keys.SOURCES_INDEX``) beside each
version's files (``keys.source_key``). Operators change it with ``gas sources`` (cli/); workers
and the dashboard only read it: this module makes no write to S3. A version never changes once
registered, so a worker downloads it once and keeps it in ``<state dir>/sources/``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from gas import aws, keys
from gas.resources import Resources
from gas.settings import Settings

INDEX_FORMAT = 1
_fetch_lock = threading.Lock()


class SourcesUnavailable(RuntimeError):
    """The registry or a source's files cannot be read (S3 unreachable, objects missing)."""


def empty_index() -> dict[str, Any]:
    return {"format": INDEX_FORMAT, "sources": {}}


def read_index(settings: Settings) -> tuple[dict[str, Any], str | None]:
    """The registry and its ETag (None when there is none yet: an empty registry)."""
    s3 = aws.client(settings, "s3")
    try:
        got = s3.get_object(Bucket=Resources.of(settings).results_bucket, Key=keys.SOURCES_INDEX)
    except ClientError as exc:
        if aws.is_not_found(exc) or aws.error_code(exc) == "NoSuchBucket":
            return empty_index(), None
        code = aws.error_code(exc)
        raise SourcesUnavailable(f"cannot read the sources registry ({code})") from exc
    index = json.loads(got["Body"].read())
    if index.get("format") != INDEX_FORMAT:
        raise SourcesUnavailable(f"the sources registry has format {index.get('format')}")
    return index, got.get("ETag")


def versions(index: dict[str, Any]) -> list[dict[str, Any]]:
    """Every registered version (each its manifest's summary), by name, build and version."""
    out = []
    for _name, builds in sorted(index["sources"].items()):
        for _build, entry in sorted(builds.items()):
            for number, summary in sorted(entry["versions"].items(), key=lambda kv: int(kv[0])):
                out.append({**summary, "current": int(number) == entry["current"]})
    return out


def current(index: dict[str, Any], build: str | None = None) -> list[dict[str, Any]]:
    """The current version of every source (of one build, or of both)."""
    return [v for v in versions(index) if v["current"] and (build is None or v["build"] == build)]


def cache_dir(settings: Settings) -> Path:
    """Where this deployment's sources are kept on this machine (one folder per prefix: two
    deployments on one machine, as the tests run them, keep theirs apart)."""
    return Path(settings.state_dir) / "sources" / settings.prefix


def local_path(settings: Settings, summary: dict[str, Any]) -> Path:
    return cache_dir(settings) / summary["build"] / summary["name"] / summary["folder"]


def fetch(settings: Settings, summary: dict[str, Any]) -> Path:
    """The local directory of a registered version, downloaded into the cache if missing. A
    version's folder never changes once registered (its name has a random tag), so a copy that
    is there is the one."""
    target = local_path(settings, summary)
    if (target / "manifest.json").exists():
        return target
    name, version = summary["name"], summary["version"]
    with _fetch_lock:  # one download per version, whatever the worker's concurrency
        if (target / "manifest.json").exists():
            return target
        s3 = aws.client(settings, "s3")
        bucket = Resources.of(settings).results_bucket
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
        try:
            for file in keys.SOURCE_FILES:
                key = keys.source_key(summary["build"], name, summary["folder"], file)
                try:
                    s3.download_file(bucket, key, str(tmp / file))
                except ClientError as exc:
                    raise SourcesUnavailable(
                        f"source {name} v{version} ({summary['build']}): cannot read {key} "
                        f"({aws.error_code(exc)})"
                    ) from exc
            with contextlib.suppress(OSError):  # another process placed the same copy first
                os.rename(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def for_annotation(settings: Settings) -> list[Path]:
    """Every source's current version (both builds), fetched: what a job annotates with (the
    engine uses those of the file's build). Cached versions no longer current are dropped."""
    index, _ = read_index(settings)
    paths = [fetch(settings, summary) for summary in current(index)]
    prune(settings, paths)
    return paths


def prune(settings: Settings, keep: list[Path]) -> None:
    """Remove cached versions older than the current ones ``keep`` (and those of sources no
    longer registered). A newer one is left alone: another worker may have read the registry
    after this one. A job still reading a removed version keeps its open file until it ends."""
    current: dict[tuple[str, str], int] = {}
    for path in keep:
        current[(path.parent.parent.name, path.parent.name)] = _number(path.name)
    for manifest in cache_dir(settings).glob("*/*/v*/manifest.json"):
        folder = manifest.parent
        held = current.get((folder.parent.parent.name, folder.parent.name))
        if held is None or _number(folder.name) < held:
            shutil.rmtree(folder, ignore_errors=True)


def _number(folder: str) -> int:
    try:
        return int(folder[1:].split("-", 1)[0])
    except ValueError:
        return -1


def summary_of(manifest: dict[str, Any], folder: str) -> dict[str, Any]:
    """What the registry keeps of a version's manifest (``folder``: where its files are)."""
    src = manifest["source"]
    return {
        "folder": folder,
        "name": manifest["name"],
        "build": manifest["build"],
        "version": manifest["version"],
        "match": manifest["match"],
        "prefix": manifest["prefix"],
        "kind": manifest["kind"],
        "fields": [
            {k: f[k] for k in ("name", "info", "column", "number", "type", "description")}
            for f in manifest["fields"]
        ],
        "records": manifest["counts"]["records"],
        "keys": manifest["counts"]["keys"],
        "file": src["file"],
        "sha256": src["sha256"],
        "file_bytes": src["bytes"],
        "added_at": src["added_at"],
        "bytes": manifest["bytes"],
        "build_seconds": manifest["build_seconds"],
    }
