"""The variant browser's queries: filtered, sorted pages and exports of a job's Parquet sidecar.

The sidecar is read where it lies in S3 with ranged reads (pyarrow's S3 filesystem): the footer,
then only the columns a filter or sort needs, only for the row groups the position statistics and
the gene index do not rule out, then whole rows only for the row groups that hold the page. Nothing
reads a whole result into the web process; an export streams one row group at a time.

Two small derived indexes are built once per result, one row group at a time, and kept in a
byte-bounded LRU: which row groups hold each gene (so a gene filter reads one or two row groups),
and the row numbers of the result in a column's sort order (so a sorted page reads only its rows).
"""

from __future__ import annotations

import functools
import gzip
import json
import os
import re
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator, Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pysam
from botocore.exceptions import ClientError

from annotator import columns, terms
from gas import aws, builds, models
from gas.resources import Resources
from gas.settings import Settings

# What a row shows, in order: the sidecar's own columns (annotator.columns declares them);
# every one sorts (``chrom`` sorts as the file orders contigs; consequences and impacts by
# severity, the most severe first).
COLUMNS = columns.NAMES
_ARROW = {
    columns.STRING: pa.string(),
    columns.INTEGER: pa.int64(),
    columns.FLOAT: pa.float32(),
    columns.FLAG: pa.bool_(),
}
_ARROW_OF = {c.name: _ARROW[c.kind] for c in columns.TABLE}
# The consequence vocabulary (annotator.terms is its one home): the filters' choices.
CONSEQUENCES = terms.TERMS
CONSEQUENCE_NAMES = terms.TERM_NAMES
IMPACTS = terms.IMPACTS
REGION_CLASSES = columns.REGION_CLASSES
PER_PAGE = 50
MAX_PAGE = 100_000
# What the derived indexes of all results may hold in the web process, together.
INDEX_CACHE_BYTES = 64 << 20
_DICTIONARY_COLUMNS = [
    "chrom",
    "gene",
    "gene_id",
    "region",
    "pick_gene",
    "pick_region",
    "consequence",
    "impact",
    "pick_consequence",
    "pick_impact",
]
_GENE = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")
# A source column's name (annotator.columns.SourceColumn: <prefix>_<field>, lower case).
_SOURCE_COLUMN = re.compile(r"^[a-z][a-z0-9_]{0,80}$")
# Filters on a source field: comparisons for numbers, text tests for strings, presence for any.
NUMERIC_OPS = {"lt": "<", "le": "≤", "gt": ">", "ge": "≥", "eq": "=", "ne": "≠"}
TEXT_OPS = {"contains": "contains", "is": "is", "not": "is not"}
PRESENCE_OPS = {"has": "has a value", "missing": "has none"}
OPS = {**NUMERIC_OPS, **TEXT_OPS, **PRESENCE_OPS}
MAX_CONDITIONS = 20
_WHERE = re.compile(columns.WHERE_PATTERN)
_NUMBER = re.compile(columns.NUMBER_PATTERN)
_CHROM = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class ResultUnavailable(LookupError):
    """The job has no variant table (annotated before it existed, archived, or not done)."""


class BadQuery(ValueError):
    """A filter a user typed does not make sense; the message says why."""


@dataclass(frozen=True)
class VariantQuery:
    """A view of the variants: filters, sort and page; it round-trips through URL arguments."""

    gene: str = ""
    region: str = ""
    chrom: str = ""
    start: int | None = None
    end: int | None = None
    known: str = ""  # "known", "novel" or "" (both)
    consequence: tuple[str, ...] = ()  # the allele's most severe consequence is one of these
    impact: tuple[str, ...] = ()  # its impact is one of these
    # Filters on the job's source columns: (column, op, value), e.g. ("gnomad_af", "le", "0.01")
    where: tuple[tuple[str, str, str], ...] = ()
    sort: str = "chrom"
    order: str = "asc"
    page: int = 1

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> VariantQuery:
        """The query a URL's arguments describe; raises BadQuery for values that cannot be."""
        gene = (args.get("gene") or "").strip()
        if gene and not _GENE.match(gene):
            raise BadQuery("A gene is a name or ID of letters, digits, dots and dashes.")
        region = args.get("region") or ""
        if region and region not in REGION_CLASSES:
            raise BadQuery(f"There is no region class {region[:40]!r}.")
        chrom = (args.get("chrom") or "").strip()
        if chrom and not _CHROM.match(chrom):
            raise BadQuery("A chromosome is a name such as 17 or chr17.")
        start, end = _position(args.get("start")), _position(args.get("end"))
        if (start is not None or end is not None) and not chrom:
            raise BadQuery("A position range needs a chromosome.")
        if start is not None and end is not None and end < start:
            raise BadQuery("The range ends before it starts.")
        known = args.get("known") or ""
        if known not in ("", "known", "novel"):
            raise BadQuery("Known or novel: choose one of the two, or neither.")
        consequence = _choices(args, "consequence", CONSEQUENCE_NAMES, "consequence term")
        impact = _choices(args, "impact", IMPACTS, "impact")
        where = _conditions(args)
        sort = args.get("sort") or "chrom"
        if sort not in COLUMNS and not _SOURCE_COLUMN.match(sort):
            raise BadQuery(f"There is no column {sort[:40]!r} to sort by.")
        order = args.get("order") or "asc"
        if order not in ("asc", "desc"):
            raise BadQuery("The order is asc or desc.")
        try:
            page = int(args.get("page") or 1)
        except ValueError:
            raise BadQuery("The page is a number.") from None
        return cls(
            gene,
            region,
            chrom,
            start,
            end,
            known,
            consequence,
            impact,
            where,
            sort,
            order,
            min(max(page, 1), MAX_PAGE),
        )

    def to_args(self, **changes: Any) -> dict[str, Any]:
        """URL arguments for this query (defaults left out), with ``changes`` applied.

        A choice of several (consequence, impact) is one comma-separated argument; each source
        filter is one ``where=column:op:value`` argument (repeated).
        """
        values = asdict(replace(self, **changes))
        defaults = asdict(VariantQuery())
        out: dict[str, Any] = {}
        for k, v in values.items():
            if v == defaults[k] or v is None:
                continue
            if k == "where":
                out[k] = [":".join(c) for c in v]
            else:
                out[k] = ",".join(v) if isinstance(v, tuple) else v
        return out

    @property
    def filtered(self) -> bool:
        return bool(
            self.gene
            or self.region
            or self.chrom
            or self.known
            or self.consequence
            or self.impact
            or self.where
        )

    @property
    def needs(self) -> tuple[str, ...]:
        """The consequence columns this query filters or sorts on."""
        used = {"consequence"} if self.consequence else set()
        used |= {"impact"} if self.impact else set()
        used |= {self.sort} & set(columns.CONSEQUENCE_COLUMNS)
        return tuple(c for c in columns.CONSEQUENCE_COLUMNS if c in used)


@dataclass
class Page:
    """One page of the browser: its rows, how many rows match, and where it is.

    ``lacking`` names the consequence columns the query uses that the result does not have (it
    was annotated before GAS called consequences): their filters match nothing.
    """

    query: VariantQuery
    rows: list[dict[str, Any]]
    matching: int
    total: int
    per_page: int
    lacking: tuple[str, ...] = ()
    # The job's source columns and sources (annotator.columns; none before sources).
    source_columns: tuple[columns.SourceColumn, ...] = ()
    sources: tuple[dict[str, str], ...] = ()

    @property
    def pages(self) -> int:
        return max(1, -(-self.matching // self.per_page))


def _choices(args: Mapping[str, Any], name: str, allowed: tuple[str, ...], what: str) -> tuple:
    """Several values of one argument: repeated (a form's checkboxes) or comma-separated."""
    getlist = getattr(args, "getlist", None)
    given = getlist(name) if getlist is not None else args.get(name)
    if given is None:
        given = []
    elif isinstance(given, str):
        given = [given]
    chosen = {v.strip() for value in given for v in str(value).split(",") if v.strip()}
    unknown = sorted(chosen - set(allowed))
    if unknown:
        raise BadQuery(f"There is no {what} {unknown[0][:40]!r}.")
    return tuple(v for v in allowed if v in chosen)  # the vocabulary's order: one URL per view


def _conditions(args: Mapping[str, Any]) -> tuple[tuple[str, str, str], ...]:
    """Source-field filters: ``where=column:op:value`` arguments (repeated), or a form's
    ``op.<column>`` and ``value.<column>`` pairs (a row left empty is no filter)."""
    getlist = getattr(args, "getlist", None)
    given = getlist("where") if getlist is not None else args.get("where")
    if given is None:
        given = []
    elif isinstance(given, str):
        given = [given]
    found: list[tuple[str, str, str]] = []
    for item in given:
        column, sep, rest = str(item).partition(":")
        op, _, value = rest.partition(":")
        if not sep:
            raise BadQuery("A source filter is column:op:value, e.g. gnomad_af:le:0.01.")
        condition = (column.strip(), op.strip(), value.strip())
        _check(*condition)
        if not _WHERE.match(str(item)):  # e.g. spaces around the column or the number
            raise BadQuery(f"{str(item)[:60]!r} is not column:op:value, e.g. gnomad_af:le:0.01.")
        found.append(condition)
    for key in list(args.keys()):
        if key.startswith("op.") and args.get(key):
            column = key[3:]
            value = (args.get(f"value.{column}") or "").strip()
            if value or args.get(key) in PRESENCE_OPS:
                condition = (column, str(args.get(key)), value)
                _check(*condition)
                found.append(condition)
    out = []
    for column, op, value in found:
        if op in PRESENCE_OPS:
            value = ""
        if (column, op, value) not in out:
            out.append((column, op, value))
    if len(out) > MAX_CONDITIONS:
        raise BadQuery(f"At most {MAX_CONDITIONS} source filters at once.")
    return tuple(out)


def _check(column: str, op: str, value: str) -> None:
    """The filter's own message for what is wrong with it, if anything."""
    if not _SOURCE_COLUMN.match(column):
        raise BadQuery(f"There is no column {column[:40]!r} to filter on.")
    if op not in OPS:
        raise BadQuery(f"{op[:20]!r} is not a filter; use one of {', '.join(OPS)}.")
    if len(value) > 200:
        raise BadQuery("A filter's value is at most 200 characters.")
    if op in PRESENCE_OPS:
        return
    if op in NUMERIC_OPS and op not in ("eq", "ne") and not _NUMBER.fullmatch(value):
        raise BadQuery(f"{column} {NUMERIC_OPS[op]} needs a number, not {value[:40]!r}.")
    if not value:
        raise BadQuery(f"{column} {OPS[op]} needs a value.")


def _is_number(value: str) -> bool:
    try:
        return np.isfinite(float(value))
    except ValueError:
        return False


def _position(value: str | None) -> int | None:
    if value in (None, ""):
        return None
    text = str(value).replace(",", "").strip()
    if not text.isdigit() or int(text) > columns.MAX_POSITION:
        raise BadQuery(f"Positions are whole numbers up to {columns.MAX_POSITION:,}.")
    return int(text)


# -- the sidecar in S3 -------------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def _filesystem(settings: Settings) -> pafs.S3FileSystem:
    options: dict[str, Any] = {"region": settings.region}
    if settings.endpoint_url:
        parts = urlsplit(settings.endpoint_url)
        options.update(endpoint_override=parts.netloc, scheme=parts.scheme or "https")
    if settings.access_key_id and settings.secret_access_key:
        options.update(access_key=settings.access_key_id, secret_key=settings.secret_access_key)
    if settings.is_local:
        options["force_virtual_addressing"] = False
    return pafs.S3FileSystem(**options)


@functools.lru_cache(maxsize=64)
def _metadata(settings: Settings, path: str) -> pq.FileMetaData:
    # Results never change once written: a footer read once serves every later page.
    with _filesystem(settings).open_input_file(path) as handle:
        return pq.ParquetFile(handle).metadata


@functools.lru_cache(maxsize=64)
def _chromosomes(settings: Settings, path: str) -> list[str]:
    seen: dict[int, str] = {}
    with _filesystem(settings).open_input_file(path) as handle:
        source = pq.ParquetFile(handle, read_dictionary=["chrom"])
        for g in range(source.num_row_groups):
            table = source.read_row_group(g, columns=["chrom", "chrom_index"])
            names = table["chrom"].combine_chunks()
            indexes = table["chrom_index"].combine_chunks()
            codes = names.indices.to_numpy(zero_copy_only=False)
            _, first = np.unique(codes, return_index=True)
            for at in first:
                seen.setdefault(int(indexes[int(at)].as_py()), names.dictionary[codes[at]].as_py())
    return [seen[i] for i in sorted(seen)]


class Sidecar:
    """A job's Parquet sidecar, opened for ranged reads."""

    def __init__(self, settings: Settings, job: models.Job) -> None:
        results = job.results.as_dict() if job.results else {}
        if job.status != models.COMPLETED or "parquet" not in results:
            raise ResultUnavailable(job.job_id)
        self.settings = settings
        self.path = f"{Resources.of(settings).results_bucket}/{results['parquet']}"
        try:
            self.meta = _metadata(settings, self.path)
        except OSError as exc:  # not in S3 (or not readable): the same as no table
            raise ResultUnavailable(job.job_id) from exc
        starts = [0]
        for g in range(self.meta.num_row_groups):
            starts.append(starts[-1] + self.meta.row_group(g).num_rows)
        self.starts = starts  # first row number of each row group (and the total at the end)
        names = [self.meta.schema.column(i).name for i in range(self.meta.num_columns)]
        self.column_index = {name: i for i, name in enumerate(names)}
        # The job's annotation sources and their columns (none before sources; annotator.outputs
        # keeps them in the schema's metadata).
        self.source_columns, self.sources = columns.source_columns_from_metadata(self.meta.metadata)
        self.columns: tuple[str, ...] = COLUMNS + tuple(c.name for c in self.source_columns)
        self.source_of = {c.name: c for c in self.source_columns}

    def _file(self) -> pq.ParquetFile:
        handle = _filesystem(self.settings).open_input_file(self.path)
        dictionary = [c for c in _DICTIONARY_COLUMNS if c in self.column_index]  # an older file
        dictionary += [c.name for c in self.source_columns if c.kind == columns.STRING]
        return pq.ParquetFile(
            handle, metadata=self.meta, read_dictionary=dictionary, pre_buffer=True
        )

    @property
    def total(self) -> int:
        return self.meta.num_rows

    def lacking(self, wanted: tuple[str, ...]) -> tuple[str, ...]:
        """The columns of ``wanted`` this result does not have (it is older than they are)."""
        return tuple(c for c in wanted if c not in self.column_index)

    def read(self, source: pq.ParquetFile, groups: list[int], names: list[str]) -> pa.Table:
        """These columns of these row groups; a column the result lacks reads as nulls."""
        present = [n for n in names if n in self.column_index]
        table = source.read_row_groups(groups, columns=present)
        if len(present) == len(names):
            return table
        return pa.table(
            [
                table[n]
                if n in self.column_index
                else pa.nulls(len(table), _ARROW_OF.get(n, pa.string()))
                for n in names
            ],
            names=names,
        )

    def held(self) -> tuple[tuple[columns.SourceColumn, ...], tuple[dict[str, str], ...]]:
        return self.source_columns, tuple(self.sources)

    def check(self, query: VariantQuery) -> None:
        """Refuse a sort or a filter on a column this job does not have, or of the wrong kind."""
        if query.sort not in self.columns:
            raise BadQuery(f"There is no column {query.sort[:40]!r} to sort by.")
        for column, op, value in query.where:
            c = self.source_of.get(column)
            if c is None:
                held = ", ".join(self.source_of) or "none: it was annotated without sources"
                raise BadQuery(f"This job has no source column {column!r} (it has {held}).")
            if c.kind == columns.FLAG and op not in PRESENCE_OPS:
                raise BadQuery(f"{column} is a flag: filter on it with has or missing.")
            if c.numeric and op in TEXT_OPS:
                raise BadQuery(f"{column} is a number: compare it (lt, le, gt, ge, eq, ne).")
            if c.numeric and not _is_number(value) and op not in PRESENCE_OPS:
                raise BadQuery(f"{column} is a number, not {value[:40]!r}.")
            if c.kind == columns.STRING and op in ("lt", "le", "gt", "ge"):
                raise BadQuery(f"{column} is text: use contains, is, not, eq or ne.")

    def candidate_groups(self, query: VariantQuery, chrom_index: int | None) -> list[int]:
        """Row groups the statistics (chromosome, range) and the gene index cannot rule out."""
        groups = self._position_groups(query, chrom_index)
        if query.gene and groups:
            holding = gene_index(self).groups_of(query.gene)
            groups = [g for g in groups if g in holding]
        return groups

    def _position_groups(self, query: VariantQuery, chrom_index: int | None) -> list[int]:
        groups = list(range(self.meta.num_row_groups))
        if not query.chrom:
            return groups
        if chrom_index is None:
            return []
        kept = []
        for g in groups:
            group = self.meta.row_group(g)
            ci = group.column(self.column_index["chrom_index"]).statistics
            pos = group.column(self.column_index["pos"]).statistics
            if ci is None or not ci.has_min_max or pos is None or not pos.has_min_max:
                kept.append(g)
                continue
            if not ci.min <= chrom_index <= ci.max:
                continue
            if ci.min == ci.max == chrom_index:
                if query.start is not None and pos.max < query.start:
                    continue
                if query.end is not None and pos.min > query.end:
                    continue
            kept.append(g)
        return kept

    def chromosomes(self) -> list[str]:
        """The contigs of the result in file order (read once per result, then kept)."""
        return _chromosomes(self.settings, self.path)

    def chrom_index(self, chrom: str) -> int | None:
        """The file's index of a chromosome, accepting it with or without ``chr``."""
        names = self.chromosomes()
        for candidate in (chrom, f"chr{chrom}", chrom.removeprefix("chr")):
            if candidate in names:
                return names.index(candidate)
        return None


class ByteLRU:
    """A least-recently-used cache bounded by the bytes its values hold (thread-safe).

    A value is made at most once at a time per key: other threads asking for it wait for it.
    """

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.used = 0
        self._items: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._lock = threading.Lock()
        self._making: dict[Hashable, threading.Lock] = {}

    def get(self, key: Hashable, make: Callable[[], tuple[Any, int]]) -> Any:
        """The value for ``key``; ``make()`` gives (value, its size in bytes) when missing."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key][0]
            making = self._making.setdefault(key, threading.Lock())
        with making:
            with self._lock:
                if key in self._items:
                    self._items.move_to_end(key)
                    return self._items[key][0]
            value, size = make()
            with self._lock:
                self._making.pop(key, None)
                if size <= self.budget:
                    self._items[key] = (value, size)
                    self.used += size
                    while self.used > self.budget:
                        _, (_, dropped) = self._items.popitem(last=False)
                        self.used -= dropped
            return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.used = 0


_indexes = ByteLRU(INDEX_CACHE_BYTES)
# Only the web process imports this module. Arrow's default pool (mimalloc) keeps what a request
# freed as a high-water mark per kind of request; the system allocator gives it back on
# release_unused (malloc_trim), so the process's memory stays flat between requests.
pa.set_memory_pool(pa.system_memory_pool())


def _release_memory() -> None:
    pa.default_memory_pool().release_unused()


@dataclass(frozen=True)
class GeneIndex:
    """Which row groups hold each gene name or ID (upper case), as CSR arrays."""

    tokens: pa.Array  # distinct names and IDs, upper case
    offsets: np.ndarray  # tokens[i]'s row groups are groups[offsets[i]:offsets[i + 1]]
    groups: np.ndarray
    always: np.ndarray  # row groups with a value upper-casing cannot vouch for (non-ASCII)

    @property
    def nbytes(self) -> int:
        return self.tokens.nbytes + self.offsets.nbytes + self.groups.nbytes + self.always.nbytes

    def groups_of(self, gene: str) -> set[int]:
        """Every row group that may hold ``gene`` (a superset: the filter still runs on them)."""
        at = pc.index(self.tokens, gene.upper()).as_py()
        found = set() if at < 0 else set(self.groups[self.offsets[at] : self.offsets[at + 1]])
        return {int(g) for g in found} | {int(g) for g in self.always}


def _build_gene_index(sidecar: Sidecar) -> tuple[GeneIndex, int]:
    source = sidecar._file()
    tokens: list[pa.Array] = []
    groups: list[np.ndarray] = []
    always: list[int] = []
    for g in range(sidecar.meta.num_row_groups):
        table = source.read_row_group(g, columns=["gene", "gene_id"])
        for name in ("gene", "gene_id"):
            for chunk in table[name].chunks:
                values = (
                    chunk.dictionary.take(pc.unique(chunk.indices).drop_null())
                    if pa.types.is_dictionary(chunk.type)
                    else pc.unique(chunk)
                ).drop_null()
                if pc.all(pc.string_is_ascii(values)).as_py() is False:
                    always.append(g)
                found = pc.unique(pc.utf8_upper(pc.list_flatten(pc.split_pattern(values, "|"))))
                tokens.append(found)
                groups.append(np.full(len(found), g, dtype=np.int32))
        del table
    every = pa.chunked_array(tokens, pa.string()).combine_chunks()
    encoded = pc.dictionary_encode(every)
    codes = encoded.indices.to_numpy(zero_copy_only=False)
    in_group = np.concatenate(groups) if groups else np.zeros(0, dtype=np.int32)
    order = np.lexsort((in_group, codes))
    codes, in_group = codes[order], in_group[order]
    keep = np.ones(len(codes), dtype=bool)
    keep[1:] = (codes[1:] != codes[:-1]) | (in_group[1:] != in_group[:-1])
    codes, in_group = codes[keep], in_group[keep]
    offsets = np.searchsorted(codes, np.arange(len(encoded.dictionary) + 1)).astype(np.int32)
    index = GeneIndex(
        encoded.dictionary,
        offsets,
        in_group.astype(np.int32),
        np.unique(np.asarray(always, dtype=np.int32)),
    )
    return index, index.nbytes


def gene_index(sidecar: Sidecar) -> GeneIndex:
    """The result's gene index (built on first use, then kept while the LRU has room)."""
    return _indexes.get(("genes", sidecar.path), lambda: _build_gene_index(sidecar))


def _ranks(chunks: list[pa.Array]) -> tuple[np.ndarray, np.ndarray]:
    """(each value's rank among the distinct values in Arrow's order, where a value is null)."""
    if chunks and (pa.types.is_integer(chunks[0].type) or pa.types.is_floating(chunks[0].type)):
        column = pa.chunked_array(chunks).combine_chunks()
        nulls = column.is_null().to_numpy(zero_copy_only=False)
        filled = column.fill_null(0).to_numpy(zero_copy_only=False)
        return np.unique(filled, return_inverse=True)[1].astype(np.int32), nulls
    values = [c.dictionary if pa.types.is_dictionary(c.type) else c for c in chunks]
    distinct = pc.unique(pa.chunked_array(values).combine_chunks()).drop_null()
    distinct = distinct.take(pc.sort_indices(distinct))
    ranks, nulls = [], []
    for chunk in chunks:
        if pa.types.is_dictionary(chunk.type):
            on_values = pc.index_in(chunk.dictionary, value_set=distinct)
            rank = pc.take(on_values, chunk.indices)
        else:
            rank = pc.index_in(chunk, value_set=distinct)
        nulls.append(rank.is_null().to_numpy(zero_copy_only=False))
        ranks.append(rank.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int32))
    return np.concatenate(ranks), np.concatenate(nulls)


def _build_sort_order(sidecar: Sidecar, column: str, descending: bool) -> tuple[np.ndarray, int]:
    # Ties keep the file's (genomic) order, as a stable sort by (column, chrom_index, pos) does.
    names = ["chrom_index", "pos"] if column == "chrom" else [column]
    source = sidecar._file()
    read = [[] for _ in names]  # type: list[list[pa.Array]]
    for g in range(sidecar.meta.num_row_groups):
        table = sidecar.read(source, [g], names)
        for i, name in enumerate(names):
            read[i].extend(_sort_key(name, table[name]).chunks)
        del table
    keys: list[np.ndarray] = []
    for chunks in reversed(read):  # np.lexsort: the last key is the first compared
        ranks, nulls = _ranks(chunks)
        keys += [-ranks if descending else ranks, nulls]  # nulls last either way
    del read
    order = np.lexsort(keys).astype(np.int32) if keys[0].size else np.zeros(0, np.int32)
    return order, order.nbytes


def sort_order(sidecar: Sidecar, column: str, descending: bool) -> np.ndarray:
    """Every row number of the result in ``column``'s order (built once, then kept)."""
    key = ("order", sidecar.path, column, descending)
    return _indexes.get(key, lambda: _build_sort_order(sidecar, column, descending))


# Columns that sort by severity (the vocabulary's order, most severe first), not by name.
_SEVERITY = {
    "consequence": CONSEQUENCE_NAMES,
    "pick_consequence": CONSEQUENCE_NAMES,
    "impact": IMPACTS,
    "pick_impact": IMPACTS,
}


def _severity(vocabulary: tuple[str, ...], chunk: pa.Array) -> pa.Array:
    """Each value's place in ``vocabulary`` (0 the most severe); of an &-joined list, its first
    term's (GAS writes the most severe first); a term GAS does not know after every known one."""

    def on(values: pa.Array) -> pa.Array:
        first = pc.replace_substring_regex(values, "&.*$", "")
        at = pc.index_in(first, value_set=pa.array(vocabulary))
        unknown = pc.and_(pc.is_null(at), pc.is_valid(values))
        return pc.if_else(unknown, pa.scalar(len(vocabulary), pa.int32()), at)

    if pa.types.is_dictionary(chunk.type):
        return pc.take(on(chunk.dictionary), chunk.indices)
    return on(chunk)


def _sort_key(name: str, column: pa.ChunkedArray) -> pa.ChunkedArray:
    """What ``name`` sorts by: its values, or its severity for consequences and impacts."""
    vocabulary = _SEVERITY.get(name)
    if vocabulary is None:
        return column
    return pa.chunked_array([_severity(vocabulary, c) for c in column.chunks], pa.int32())


# -- queries ------------------------------------------------------------------------------------


def _decoded(column: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_dictionary(column.type):
        return pa.chunked_array(
            [chunk.dictionary_decode() for chunk in column.chunks], column.type.value_type
        )
    return column


def _match(column: pa.ChunkedArray, test: Any) -> pa.ChunkedArray:
    """``test`` over each value; on dictionary chunks it runs once per distinct value."""
    chunks = []
    for chunk in column.chunks:
        if pa.types.is_dictionary(chunk.type):
            on_values = pc.fill_null(test(chunk.dictionary), False)
            chunks.append(pc.fill_null(pc.take(on_values, chunk.indices), False))
        else:
            chunks.append(pc.fill_null(test(chunk), False))
    return pa.chunked_array(chunks, pa.bool_())


def _gene_test(gene: str) -> Any:
    # A value lists every gene an allele touches, |-separated; the gene must be one of them.
    pattern = f"(^|\\|){re.escape(gene)}(\\||$)"
    return lambda values: pc.match_substring_regex(values, pattern, ignore_case=True)


def _mask(table: pa.Table, query: VariantQuery, chrom_index: int | None) -> pa.ChunkedArray:
    mask = pa.chunked_array([np.ones(len(table), dtype=bool)], pa.bool_())
    if query.chrom:
        mask = pc.and_(mask, pc.equal(table["chrom_index"], chrom_index))
        if query.start is not None:
            mask = pc.and_(mask, pc.greater_equal(table["pos"], query.start))
        if query.end is not None:
            mask = pc.and_(mask, pc.less_equal(table["pos"], query.end))
    if query.gene:
        test = _gene_test(query.gene)
        mask = pc.and_(mask, pc.or_(_match(table["gene"], test), _match(table["gene_id"], test)))
    if query.region:
        mask = pc.and_(mask, _match(table["region"], lambda v: pc.equal(v, query.region)))
    if query.known:
        known = pc.or_(pc.is_valid(table["id"]), pc.is_valid(table["known_id"]))
        mask = pc.and_(mask, known if query.known == "known" else pc.invert(known))
    for name in ("consequence", "impact"):
        chosen = getattr(query, name)
        if chosen:
            mask = pc.and_(mask, _match(table[name], _one_of(chosen)))
    for column, op, value in query.where:
        mask = pc.and_(mask, _condition(table[column], op, value))
    return mask


_COMPARE = {
    "lt": pc.less,
    "le": pc.less_equal,
    "gt": pc.greater,
    "ge": pc.greater_equal,
    "eq": pc.equal,
    "ne": pc.not_equal,
}


def _condition(column: pa.ChunkedArray, op: str, value: str) -> pa.ChunkedArray:
    """One source filter over a column; an allele without a value matches only ``missing``."""
    kind = column.type.value_type if pa.types.is_dictionary(column.type) else column.type
    if op in PRESENCE_OPS:
        present = pc.fill_null(column, False) if pa.types.is_boolean(kind) else pc.is_valid(column)
        return present if op == "has" else pc.invert(present)
    if pa.types.is_integer(kind) or pa.types.is_floating(kind):
        number = float(value)
        target = pa.scalar(number, pa.float64())
        return pc.fill_null(_COMPARE[op](pc.cast(column, pa.float64()), target), False)
    if op == "contains":
        return _match(column, lambda v: pc.match_substring(v, value, ignore_case=True))
    if op in ("is", "eq"):
        return _match(column, lambda v: pc.equal(v, value))
    return _match(column, lambda v: pc.not_equal(v, value))


def _one_of(chosen: tuple[str, ...]) -> Any:
    wanted = pa.array(chosen, pa.string())
    return lambda values: pc.is_in(values, value_set=wanted)


def _filter_columns(query: VariantQuery) -> list[str]:
    needed = ["chrom_index", "pos"]
    if query.gene:
        needed += ["gene", "gene_id"]
    if query.region:
        needed.append("region")
    if query.known:
        needed += ["id", "known_id"]
    if query.consequence:
        needed.append("consequence")
    if query.impact:
        needed.append("impact")
    needed += [c for c, _, _ in query.where if c not in needed]
    if query.sort != "chrom" and query.sort not in needed:
        needed.append(query.sort)
    return needed


def _matching_rows(
    sidecar: Sidecar, query: VariantQuery, groups: list[int], chrom_index: int | None
) -> tuple[pa.Table, pa.ChunkedArray | None]:
    """(the filter and sort columns of the candidate groups with their row numbers, the mask)."""
    table = sidecar.read(sidecar._file(), groups, _filter_columns(query))
    numbers = np.concatenate(
        [np.arange(sidecar.starts[g], sidecar.starts[g + 1], dtype=np.int64) for g in groups]
        or [np.zeros(0, dtype=np.int64)]
    )
    table = table.append_column("row", pa.array(numbers))
    return table, (_mask(table, query, chrom_index) if query.filtered else None)


# Above this many candidate row groups a sorted view uses the result's sort order, built once,
# rather than reading and sorting the sort column of every candidate row group per request.
_READ_SORT_GROUPS = 4


def query_page(
    settings: Settings, job: models.Job, query: VariantQuery, per_page: int = PER_PAGE
) -> Page:
    """One page of the job's variants for ``query``, and how many match."""
    sidecar = Sidecar(settings, job)
    sidecar.check(query)
    try:
        chrom_index = sidecar.chrom_index(query.chrom) if query.chrom else None
        groups = sidecar.candidate_groups(query, chrom_index)
        offset = (query.page - 1) * per_page
        in_file_order = query.sort == "chrom" and query.order == "asc"
        lacking = sidecar.lacking(query.needs)
        if not query.filtered and in_file_order:
            # The file's own order: the page's rows are known without reading any column.
            wanted = np.arange(offset, min(offset + per_page, sidecar.total), dtype=np.int64)
            rows = _rows(sidecar, wanted)
            return Page(
                query, rows, sidecar.total, sidecar.total, per_page, lacking, *sidecar.held()
            )
        filters_lacking = [name for name in ("consequence", "impact") if getattr(query, name)]
        if not groups or set(filters_lacking) & set(lacking):
            # Nothing can match (a consequence filter on a result from before consequences).
            return Page(query, [], 0, sidecar.total, per_page, lacking, *sidecar.held())
        if not in_file_order and len(groups) > _READ_SORT_GROUPS:
            chosen = _matching_by_order(sidecar, query, groups, chrom_index)
        else:
            chosen = _matching_by_reading(sidecar, query, groups, chrom_index)
        wanted = chosen[offset : offset + per_page]
        rows = _rows(sidecar, wanted)
        return Page(query, rows, len(chosen), sidecar.total, per_page, lacking, *sidecar.held())
    finally:
        _release_memory()


def _matching_by_order(
    sidecar: Sidecar, query: VariantQuery, groups: list[int], chrom_index: int | None
) -> np.ndarray:
    """The matching row numbers in the query's order, from the result's kept sort order."""
    order = sort_order(sidecar, query.sort, query.order == "desc")
    if not query.filtered:
        return order
    table, mask = _matching_rows(sidecar, replace(query, sort="chrom"), groups, chrom_index)
    hit = np.zeros(sidecar.total, dtype=bool)
    hit[table["row"].filter(mask).to_numpy()] = True
    del table, mask
    return order[hit[order]]


def _matching_by_reading(
    sidecar: Sidecar, query: VariantQuery, groups: list[int], chrom_index: int | None
) -> np.ndarray:
    """The matching row numbers in the query's order, sorting the candidate groups' rows."""
    table, mask = _matching_rows(sidecar, query, groups, chrom_index)
    if mask is not None:
        table = table.filter(mask)
    keys = [("chrom_index", query.order), ("pos", query.order)]
    if query.sort not in ("chrom", "pos"):
        table = table.set_column(
            table.schema.get_field_index(query.sort),
            query.sort,
            _decoded(_sort_key(query.sort, table[query.sort])),
        )
        keys = [(query.sort, query.order), ("chrom_index", "ascending"), ("pos", "ascending")]
    elif query.sort == "pos":
        keys = [("pos", query.order), ("chrom_index", "ascending")]
    keys = [(name, "descending" if order == "desc" else "ascending") for name, order in keys]
    if keys != [("chrom_index", "ascending"), ("pos", "ascending")]:
        order = pc.sort_indices(table, sort_keys=keys)  # nulls last; stable: ties in file order
        return pc.take(table["row"], order).to_numpy()
    return table["row"].to_numpy()


def _rows(sidecar: Sidecar, wanted: np.ndarray) -> list[dict[str, Any]]:
    """The full rows at these row numbers, in this order (read one row group at a time)."""
    if len(wanted) == 0:
        return []
    starts = np.asarray(sidecar.starts)
    group_of = np.searchsorted(starts, wanted, side="right") - 1
    found: dict[int, dict[str, Any]] = {}
    source = sidecar._file()
    floats = [c.name for c in sidecar.source_columns if c.kind == columns.FLOAT]
    for g in np.unique(group_of):
        local = wanted[group_of == g] - starts[g]
        piece = sidecar.read(source, [int(g)], list(sidecar.columns)).take(pa.array(local))
        for name in floats:  # 32-bit floats shown as written (0.01, not 0.009999999776)
            i = piece.schema.get_field_index(name)
            piece = piece.set_column(
                i, name, pc.cast(pc.cast(piece[name], pa.string()), pa.float64())
            )
        for number, row in zip(wanted[group_of == g], piece.to_pylist(), strict=True):
            found[int(number)] = row
    return [found[int(n)] for n in wanted]


def export_rows(settings: Settings, job: models.Job, query: VariantQuery) -> Iterator[pa.Table]:
    """Every row ``query`` matches, in genomic order, one row group at a time."""
    sidecar = Sidecar(settings, job)
    sidecar.check(query)
    chrom_index = sidecar.chrom_index(query.chrom) if query.chrom else None
    source = sidecar._file()
    try:
        for g in sidecar.candidate_groups(query, chrom_index):
            table = sidecar.read(source, [g], [*sidecar.columns, "chrom_index"])
            if query.filtered:
                table = table.filter(_mask(table, query, chrom_index))
            if len(table):
                yield table.select(list(sidecar.columns))
    finally:
        _release_memory()


def export_tsv(settings: Settings, job: models.Job, query: VariantQuery) -> Iterator[bytes]:
    """The matching rows as the TSV the annotation wrote (same columns, empty for none)."""
    names = Sidecar(settings, job).columns
    yield ("\t".join(names) + "\n").encode()
    for table in export_rows(settings, job, query):
        lines = []
        for row in _text_rows(table):
            lines.append("\t".join("" if row[c] is None else str(row[c]) for c in names))
        yield ("\n".join(lines) + "\n").encode()


def _text_rows(table: pa.Table) -> list[dict[str, Any]]:
    """Rows with 32-bit floats as they were written (shortest text) and flags as 1 or empty."""
    for name in table.column_names:
        kind = table.schema.field(name).type
        if pa.types.is_float32(kind):
            i = table.schema.get_field_index(name)
            table = table.set_column(i, name, pc.cast(table[name], pa.string()))
        elif pa.types.is_boolean(kind):
            i = table.schema.get_field_index(name)
            text = pc.if_else(table[name], "1", pa.scalar(None, pa.string()))
            table = table.set_column(i, name, text)
    return table.to_pylist()


_VCF_TYPE = {
    columns.STRING: "String",
    columns.INTEGER: "Integer",
    columns.FLOAT: "Float",
    columns.FLAG: "Flag",
}


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


# (INFO field, column, VCF type, description) of every per-allele column.
_VCF_INFO = tuple(
    (c.info, c.name, "Integer" if c.kind == columns.INTEGER else "String", c.description)
    for c in columns.TABLE
    if c.info
)


def _vcf_line(row: dict[str, Any], sources: tuple[columns.SourceColumn, ...] = ()) -> str:
    items = [
        f"{field}={row[column]}" for field, column, _, _ in _VCF_INFO if row[column] is not None
    ]
    for c in sources:
        value = row[c.name]
        if c.kind == columns.FLAG:
            if value:
                items.append(c.info)
        elif value is not None:
            text = str(value).replace(";", "%3B").replace(",", "%2C")
            items.append(f"{c.info}={text}")
    info = ";".join(items)
    return "\t".join(
        [row["chrom"], str(row["pos"]), row["id"] or ".", row["ref"], row["alt"], ".", "."]
        + [info or "."]
    )


def export_vcf_gz(
    settings: Settings, job: models.Job, query: VariantQuery, description: str
) -> Iterator[bytes]:
    """The matching rows as a sites-only VCF, one record per ALT allele, bgzipped by htslib.

    The file is written to a temporary file (htslib's BGZF writer takes a path) and streamed.
    """
    sidecar = Sidecar(settings, job)
    chromosomes = sidecar.chromosomes()
    own = [
        f"##INFO=<ID={c.info},Number={'0' if c.kind == columns.FLAG else 'A'},"
        f'Type={_VCF_TYPE[c.kind]},Description="{_escaped(c.description)}">'
        for c in sidecar.source_columns
    ]
    header = [
        "##fileformat=VCFv4.2",
        f"##source=GAS variant browser export ({description})",
        *(f"##contig=<ID={chrom}>" for chrom in chromosomes),
        *(
            f'##INFO=<ID={field},Number=A,Type={kind},Description="{text}">'
            for field, _, kind, text in _VCF_INFO
        ),
        *own,
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO",
    ]
    handle, path = tempfile.mkstemp(prefix="gas-export-", suffix=".vcf.gz")
    os.close(handle)
    try:
        with pysam.BGZFile(path, "wb", index=None) as out:
            out.write(("\n".join(header) + "\n").encode())
            for table in export_rows(settings, job, query):
                rows = _text_rows(table)
                text = "\n".join(_vcf_line(row, sidecar.source_columns) for row in rows) + "\n"
                out.write(text.encode())
        with open(path, "rb") as done:
            while block := done.read(1 << 16):
                yield block
    finally:
        os.unlink(path)


# -- the gene summary -----------------------------------------------------------------------------


@functools.lru_cache(maxsize=16)
def _genes(settings: Settings, bucket: str, key: str) -> tuple[dict[str, Any], ...]:
    body = aws.client(settings, "s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    if body[:2] == b"\x1f\x8b":
        body = gzip.decompress(body)
    return tuple(json.loads(body)["genes"])


def genes(settings: Settings, job: models.Job) -> tuple[dict[str, Any], ...]:
    """Every gene the job's variants touch, most variants first, with the region breakdown."""
    results = job.results.as_dict() if job.results else {}
    if job.status != models.COMPLETED or "genes" not in results:
        raise ResultUnavailable(job.job_id)
    try:
        return _genes(settings, Resources.of(settings).results_bucket, results["genes"])
    except ClientError as exc:
        raise ResultUnavailable(job.job_id) from exc


def complete_gene(settings: Settings, job: models.Job, prefix: str, limit: int = 20) -> list[str]:
    """Gene names of this job that start with ``prefix`` (case-insensitive), most variants first."""
    prefix = prefix.strip().upper()
    if not prefix:
        return []
    found = []
    for gene in genes(settings, job):
        if gene["gene"].upper().startswith(prefix):
            found.append(gene["gene"])
            if len(found) >= limit:
                break
    return found


# Outbound links (nothing is fetched from these sites by the service): each build's sites are
# declared in gas.builds.


def gene_links(build: str | None, gene: str, gene_id: str | None) -> dict[str, str]:
    """Ensembl, gnomAD and ClinVar pages for a gene on the job's build."""
    on = builds.of(build)
    stable = (gene_id or "").split(".")[0] or gene
    return {
        "Ensembl": f"{on.ensembl_url}/Homo_sapiens/Gene/Summary?g={stable}",
        "gnomAD": f"https://gnomad.broadinstitute.org/gene/{stable}?dataset={on.gnomad_dataset}",
        "ClinVar": f"https://www.ncbi.nlm.nih.gov/clinvar/?term={gene}%5Bgene%5D",
    }


def variant_links(build: str | None, row: dict[str, Any]) -> dict[str, str]:
    """Ensembl, gnomAD and (for an rs ID) ClinVar pages for one allele on the job's build."""
    on = builds.of(build)
    chrom = str(row["chrom"]).removeprefix("chr")
    pos = row["pos"]
    links = {
        "Ensembl": f"{on.ensembl_url}/Homo_sapiens/Location/View?r={chrom}:{pos}-{pos}",
        "gnomAD": (
            f"https://gnomad.broadinstitute.org/variant/{chrom}-{pos}-{row['ref']}-{row['alt']}"
            f"?dataset={on.gnomad_dataset}"
        ),
    }
    rsid = next(
        (v for v in (row.get("known_id"), row.get("id")) if v and str(v).startswith("rs")), None
    )
    if rsid:
        links["ClinVar"] = f"https://www.ncbi.nlm.nih.gov/clinvar/?term={rsid}"
    return links
