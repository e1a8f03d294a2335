"""The S3 key layout. Keys are built from ids only: nothing a user types becomes a raw key."""

from __future__ import annotations

import re
import uuid

from gas import builds, result_kinds

# Job ids are derived from the upload key, so submitting the same upload twice names the same job.
_JOB_NAMESPACE = uuid.UUID("6f1c1d56-4a7e-4d43-9d0a-3c0b6f0e5a11")
_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

# Kind -> file name (gas.result_kinds declares the kinds).
RESULT_FILES = result_kinds.files()
# The kinds annotator.outputs can write (one of the two indexes; the TSV only when asked for).
STANDARD_OUTPUTS = ("annotated_gz", "annotated_tbi", "annotated_csi", "tsv", "parquet", "genes")


def stored_output_files() -> dict[str, str]:
    """Kind -> file name of the standard outputs a job stores (the annotate step writes only
    these; the TSV is made on request)."""
    stored = set(result_kinds.stored())
    return {kind: RESULT_FILES[kind] for kind in STANDARD_OUTPUTS if kind in stored}


class InvalidKey(ValueError):
    """A key does not follow the GAS layout."""


def new_id() -> str:
    return str(uuid.uuid4())


def is_id(value: str) -> bool:
    return bool(_ID.match(value or ""))


def _check(*ids: str) -> None:
    for value in ids:
        if not is_id(value):
            raise InvalidKey(f"not a GAS id: {value!r}")


def upload_key(user_id: str, upload_id: str, compressed: bool = False) -> str:
    """Where a user's upload is kept in the inputs bucket."""
    return upload_folder(user_id, upload_id) + "input.vcf" + (".gz" if compressed else "")


def upload_folder(user_id: str, upload_id: str) -> str:
    """The folder of one upload. The upload form without JavaScript has S3 put the file at this
    folder plus the file's own name (``${filename}``), the one key not built from ids alone; the
    dashboard moves it to :func:`upload_key` before anything else reads it."""
    _check(user_id, upload_id)
    return f"uploads/{user_id}/{upload_id}/"


def parse_landing_key(key: str) -> tuple[str, str, str]:
    """(user_id, upload_id, file name) of a key in an upload's folder; InvalidKey otherwise."""
    parts = key.split("/", 3)
    if len(parts) != 4 or parts[0] != "uploads" or not parts[3] or "/" in parts[3]:
        raise InvalidKey(f"not a key in an upload's folder: {key!r}")
    _check(parts[1], parts[2])
    return parts[1], parts[2], parts[3]


def parse_upload_key(key: str) -> tuple[str, str]:
    """(user_id, upload_id) of an upload key; raises InvalidKey for anything else."""
    parts = key.split("/")
    if len(parts) != 4 or parts[0] != "uploads" or parts[3] not in ("input.vcf", "input.vcf.gz"):
        raise InvalidKey(f"not an upload key: {key!r}")
    _check(parts[1], parts[2])
    return parts[1], parts[2]


def job_id_for_upload(key: str) -> str:
    """The job id an upload becomes: stable, so a double submit finds the same job."""
    parse_upload_key(key)
    return str(uuid.uuid5(_JOB_NAMESPACE, key))


def result_key(user_id: str, job_id: str, kind: str) -> str:
    """Key of one of a job's result files (a kind of ``gas.result_kinds``)."""
    _check(user_id, job_id)
    return f"results/{user_id}/{job_id}/{result_kinds.files()[kind]}"


def parse_result_key(key: str) -> tuple[str, str, str]:
    """(user_id, job_id, kind) of a result key; raises InvalidKey for anything else."""
    parts = key.split("/")
    kinds = {name: kind for kind, name in result_kinds.files().items()}
    if len(parts) != 4 or parts[0] != "results" or parts[3] not in kinds:
        raise InvalidKey(f"not a result key: {key!r}")
    _check(parts[1], parts[2])
    return parts[1], parts[2], kinds[parts[3]]


def user_upload_prefix(user_id: str) -> str:
    """Every upload of one user's, submitted or not."""
    _check(user_id)
    return f"uploads/{user_id}/"


def user_result_prefix(user_id: str) -> str:
    """Every result of one user's jobs."""
    _check(user_id)
    return f"results/{user_id}/"


def result_prefix(user_id: str, job_id: str) -> str:
    _check(user_id, job_id)
    return f"results/{user_id}/{job_id}/"


# Annotation sources an operator registers (``gas sources``): one index, and each version's
# compact form (annotator.annotation_sources) under its own prefix. Workers may read these only.
SOURCES_PREFIX = "sources/"
SOURCES_INDEX = "sources/index.json"
SOURCE_FILES = ("manifest.json", "sites.arrow", "batches.npy")
_SOURCE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_SOURCE_DIR = re.compile(r"^v[0-9]{1,9}-[0-9a-f]{12}$")  # the version, and a random tag


def source_dir(version: int, tag: str) -> str:
    """A version's folder: its number and a random tag, so two operators adding the same
    version at once write apart (one registry write wins; the other's files are never used)."""
    return f"v{int(version)}-{tag}"


def source_key(build: str, name: str, folder: str, file: str) -> str:
    """Key of one file of a source version's compact form."""
    if (
        build not in builds.NAMES
        or not _SOURCE_NAME.match(name)
        or not _SOURCE_DIR.match(folder)
        or file not in SOURCE_FILES
    ):
        raise InvalidKey(f"not a source file: {build}/{name}/{folder}/{file}")
    return f"{SOURCES_PREFIX}{build}/{name}/{folder}/{file}"
