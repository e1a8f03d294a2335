"""The kinds of a job's results: declared once, read by the annotate step, the key layout, the
archive, the pages, the API (and its document) and the CLI.

Plain Python with no imports beyond the standard library, so the CLI can read it without boto3.
Consumers call the functions below rather than copying the tuple, so one added ``ResultKind``
reaches every surface.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ResultKind:
    """One result file: its stored name, what a download is called and labelled, its media type,
    whether new jobs store it (``stored``), whether it goes to the archive after the retention
    (``archived``), whether the API serves it (``in_api``), and for a kind that is not stored, the
    stored kind it is made from on request (``made_from``)."""

    name: str
    file: str
    download_name: str  # appended to the input's stem
    label: str
    media_type: str
    stored: bool = True
    archived: bool = False
    in_api: bool = False
    made_from: str | None = None


# In the order the job page lists them. Jobs annotated before the standard outputs have only
# annotated, log and summary, all stored; jobs before "store once" also have annotated and tsv.
KINDS: tuple[ResultKind, ...] = (
    ResultKind(
        "annotated_gz",
        "annotated.vcf.gz",
        ".annotated.vcf.gz",
        "Annotated VCF, bgzipped (.vcf.gz)",
        "application/gzip",
        archived=True,
    ),
    ResultKind(
        "annotated_tbi",
        "annotated.vcf.gz.tbi",
        ".annotated.vcf.gz.tbi",
        "Tabix index (.tbi)",
        "application/octet-stream",
    ),
    # Instead of the .tbi when a contig passes 2^29.
    ResultKind(
        "annotated_csi",
        "annotated.vcf.gz.csi",
        ".annotated.vcf.gz.csi",
        "CSI index (.csi)",
        "application/octet-stream",
    ),
    ResultKind(
        "tsv",
        "annotated.tsv",
        ".annotated.tsv",
        "Variants, one row per allele (TSV, opens in a spreadsheet)",
        "text/tab-separated-values",
        stored=False,
        archived=True,
        made_from="parquet",
    ),
    # Stored only when the input was out of order (the .vcf.gz is then sorted, not this file).
    ResultKind(
        "annotated",
        "annotated.vcf",
        ".annotated.vcf",
        "Annotated VCF, plain text",
        "text/plain",
        stored=False,
        archived=True,
        in_api=True,
        made_from="annotated_gz",
    ),
    ResultKind(
        "parquet",
        "variants.parquet",
        ".variants.parquet",
        "Variant table (Parquet)",
        "application/vnd.apache.parquet",
        archived=True,
    ),
    ResultKind("genes", "genes.json", ".genes.json", "Gene summary (JSON)", "application/json"),
    ResultKind(
        "summary",
        "summary.json",
        ".summary.json",
        "Summary (JSON)",
        "application/json",
        in_api=True,
    ),
    ResultKind("log", "annotation.log", ".annotation.log", "Log", "text/plain", in_api=True),
)


def all_kinds() -> tuple[ResultKind, ...]:
    return KINDS


def names() -> tuple[str, ...]:
    return tuple(k.name for k in KINDS)


def get(name: str) -> ResultKind:
    """The kind called ``name``; KeyError for any other."""
    for kind in KINDS:
        if kind.name == name:
            return kind
    raise KeyError(name)


def files() -> dict[str, str]:
    """Kind name -> the file name it has in a job's result prefix."""
    return {k.name: k.file for k in KINDS}


def stored() -> tuple[str, ...]:
    """The kinds new jobs store."""
    return tuple(k.name for k in KINDS if k.stored)


def archived() -> tuple[str, ...]:
    """The kinds that go to the archive after the retention (when a job has them stored)."""
    return tuple(k.name for k in KINDS if k.archived)


def in_api() -> tuple[str, ...]:
    """The kinds the API's /downloads serves, in a stable order."""
    return tuple(k.name for k in KINDS if k.in_api)


def available(results: dict[str, str]) -> tuple[str, ...]:
    """The kinds a job with these stored results can offer: the stored ones, and the made-on-
    request ones whose source is stored."""
    return tuple(
        k.name
        for k in KINDS
        if k.name in results or (k.made_from is not None and k.made_from in results)
    )
