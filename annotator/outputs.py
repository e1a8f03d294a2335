"""The standard outputs of an annotated VCF: what downstream tools and the dashboard read.

From the annotated VCF's text, as the engine writes it (:class:`OutputWriter`,
:func:`annotate_with_outputs`) or from its plain file (:func:`write_outputs`): a bgzipped VCF with a
tabix index (CSI for contigs longer than 2^29), a TSV with one row per ALT allele (opens in a
spreadsheet), a Parquet sidecar with the same rows and typed columns (row groups in file order,
i.e. by chromosome and position, so ranged reads prune) and a per-gene summary. Compression and
indexing are htslib's (pysam); everything streams, so memory stays flat whatever the file's size.
"""

from __future__ import annotations

import contextlib
import ctypes
import gzip
import io
import json
import os
import queue
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pysam
import pysam.bcftools

from annotator import columns, engine, terms
from annotator.compiled import info_values, split_lines
from annotator.tsv import tsv_header, tsv_names, tsv_text
from annotator.vcf_index import TBI_MAX_POSITION, OnTheFlyIndex

T = TypeVar("T")

# One row per ALT allele (annotator.columns declares them). ``id`` is the input's ID column;
# ``known_id`` GAS's known-sites match.
COLUMNS = columns.NAMES
# INFO field (Number=A) behind each per-allele column.
_INFO_OF = {c.name: c.info for c in columns.TABLE if c.info}
_ARROW = {
    columns.STRING: pa.string(),
    columns.INTEGER: pa.int64(),
    columns.FLOAT: pa.float32(),  # as the sources keep them (VCF floats are 32-bit)
    columns.FLAG: pa.bool_(),
}
# The fixed columns; a job's annotation sources add theirs after them (schema_for).
SCHEMA = pa.schema(
    [(c.name, _ARROW[c.kind]) for c in columns.TABLE[:1]]
    + [("chrom_index", pa.int32())]  # order of the contig in the file: sorts and prunes
    + [(c.name, _ARROW[c.kind]) for c in columns.TABLE[1:]]
)
ROW_GROUP_ROWS = 32_768


def schema_for(source_columns: tuple[columns.SourceColumn, ...], sources: list[dict]) -> pa.Schema:
    """The variant table's schema: the fixed columns, then the sources' (with what they are in
    the schema's metadata, for the browser's queries)."""
    if not source_columns and not sources:
        return SCHEMA
    fields = list(SCHEMA) + [pa.field(c.name, _ARROW[c.kind]) for c in source_columns]
    meta = {columns.SOURCES_METADATA: columns.sources_metadata(source_columns, sources)}
    return pa.schema(fields, metadata=meta)


@dataclass
class Outputs:
    """The files written, by result kind, and what the stream saw."""

    files: dict[str, Path] = field(default_factory=dict)
    alleles: int = 0
    records: int = 0
    sorted_input: bool = True
    # Alleles by their most severe consequence (GAS_CONSEQUENCE), most severe term first.
    by_consequence: dict[str, int] = field(default_factory=dict)
    # The annotation sources' columns the tables have, after the fixed ones.
    source_columns: tuple[columns.SourceColumn, ...] = ()
    plain_bytes: int = 0  # the plain annotated VCF's size (what its download is)


def write_outputs(
    annotated_vcf: Path,
    out_dir: Path,
    names: dict[str, str],
    row_group_rows: int = ROW_GROUP_ROWS,
    threads: int | None = None,
) -> Outputs:
    """Write every standard output of the plain VCF ``annotated_vcf`` into ``out_dir``.

    The same as :class:`OutputWriter` fed the file's bytes (see there for ``names`` and
    ``threads``); the annotate step feeds the writer as the engine annotates instead.
    """
    writer = OutputWriter(out_dir, names, row_group_rows=row_group_rows, threads=threads)
    try:
        with open(annotated_vcf, "rb") as plain:
            while chunk := plain.read(BLOCK_BYTES):
                writer.write(chunk)
    except BaseException:
        writer.abort()
        raise
    return writer.finish(annotated_vcf)


def annotate_with_outputs(
    input_path: Path,
    out_dir: Path,
    names: dict[str, str],
    log_path: Path,
    summary_path: Path,
    plain_path: Path,
    **options: Any,
) -> tuple[engine.AnnotationResult, Outputs]:
    """Annotate ``input_path`` straight into its standard outputs, as the annotate step does.

    The engine's text goes to an :class:`OutputWriter` as each block is annotated. ``plain_path``
    receives the plain VCF only when the input was out of order (the sorted .vcf.gz no longer
    holds that order); ``options`` are :func:`annotator.engine.annotate_file`'s.
    """
    writer = OutputWriter(out_dir, names)
    try:
        result = engine.annotate_file(input_path, writer, log_path, summary_path, **options)
    except BaseException:
        writer.abort()
        raise
    return result, writer.finish(plain_path)


class OutputWriter:
    """Every standard output, written while the annotated VCF's text arrives.

    ``write`` takes the text in order, in pieces of any size. Each piece goes to htslib's
    multi-threaded BGZF writer (its threads compress while the caller goes on) and, gathered
    into blocks of whole lines, to a thread that builds the tables (Arrow kernels, which release
    the GIL); the engine meanwhile annotates the next blocks. Nothing is parsed twice and the
    plain text is never written to disk, unless the input was out of order (``finish``).

    ``names`` maps the kinds ``annotated_gz``, ``annotated_tbi``, ``annotated_csi``, ``tsv``,
    ``parquet`` and ``genes`` to file names (only one of the two index kinds is written). Without
    ``tsv`` no TSV is written: it can be made from the Parquet table, byte for byte
    (:func:`tsv_header` and :func:`tsv_text`). ``threads``: htslib's compression and indexing
    threads (None: one per core); the bytes are the same for any number.
    """

    def __init__(
        self,
        out_dir: Path,
        names: dict[str, str],
        *,
        row_group_rows: int = ROW_GROUP_ROWS,
        threads: int | None = None,
    ) -> None:
        out_dir.mkdir(parents=True, exist_ok=True)
        self.out_dir, self.names = out_dir, names
        self.threads = (os.cpu_count() or 1) if threads is None else threads
        self.gz = out_dir / names["annotated_gz"]
        tsv_path = out_dir / names["tsv"] if "tsv" in names else None
        self.tables = _Tables(tsv_path, out_dir / names["parquet"], out_dir / names["genes"])
        self.tables.row_group_rows = row_group_rows
        self._compressed: _Bgzf | None = _Bgzf(self.gz, self.threads)
        # The TBI, built from the text as it goes to the BGZF writer (tabix's bytes).
        self._tbi = OnTheFlyIndex(self.gz, self._compressed.lib)
        self._tbi_saving: Future[bool] | None = None
        self._pieces: list[bytes] = []
        self._gathered = 0
        self._written = 0
        # Two blocks queued at most: memory stays flat whatever the file's size.
        self._blocks: queue.Queue[bytes | None] = queue.Queue(maxsize=2)
        self._scan: _Scan | None = None
        self._failure: BaseException | None = None
        self._stopped = threading.Event()
        self._builder = threading.Thread(target=self._build, name="gas-tables", daemon=True)
        self._builder.start()

    def write(self, data: bytes | memoryview) -> None:
        if not data:
            return
        piece = bytes(data)
        assert self._compressed is not None, "write after finish"
        self._compressed.write(piece)
        self._written += len(piece)
        self._pieces.append(piece)
        self._gathered += len(piece)
        if self._gathered >= BLOCK_BYTES:
            block = b"".join(self._pieces)
            cut = block.rfind(b"\n") + 1
            if cut:
                self._pieces, self._gathered = [block[cut:]], len(block) - cut
                self._hand(block[:cut])

    def finish(self, plain_path: Path) -> Outputs:
        """Close and index the outputs. ``plain_path``: where the plain VCF is (or, if it is not
        there, is written) when the text was out of order, to be sorted from. On any error
        nothing is left behind."""
        early: Future[None] | None = None
        try:
            rest = b"".join(self._pieces)
            self._pieces = []
            if rest:
                self._hand(rest if rest.endswith(b"\n") else rest + b"\n")
            self._close_compressed()  # before the end is handed on: the TBI reads the whole file
            self._hand(None)
            if self._failure is None and self._tbi.tabix_reads_it:
                # tabix must read this file back: it does so while the tables finish.
                early = _index_in_thread(self.gz, self.threads)
            self._builder.join()
            if self._failure is not None:
                raise self._failure
            scan = self._scan
            assert scan is not None
            sorted_input = scan.in_order
            if not sorted_input:
                self._tbi_saved()
                if early is not None:
                    early.exception()  # it reads the file the sort replaces; its TBI is dropped
                    early = None
                scan = self._sort(plain_path, scan)
            return self._index(scan, sorted_input, early)
        except BaseException:
            if early is not None:
                early.exception()  # wait: before its file is removed
            self.abort()
            raise

    def abort(self) -> None:
        """Stop and remove what was written (on the caller's error; more than once is fine)."""
        self._stopped.set()
        with contextlib.suppress(queue.Full):
            self._blocks.put_nowait(None)
        self._builder.join()
        with contextlib.suppress(OSError):
            self._close_compressed()
        with contextlib.suppress(Exception):
            self._tbi_saved()
        self._tbi.close()
        self._remove()

    def _hand(self, block: bytes | None) -> None:
        while not self._stopped.is_set():
            try:
                self._blocks.put(block, timeout=0.5)
                return
            except queue.Full:
                continue
        if self._failure is not None and block is not None:
            self.abort()  # the tables cannot be made: nothing of this result is kept
            raise self._failure

    def _build(self) -> None:
        def blocks() -> Iterator[bytes]:
            while (block := self._blocks.get()) is not None:
                if self._stopped.is_set():
                    return
                self._tbi.add(block)
                yield block
            # The text is whole and the .vcf.gz closed: the TBI is saved while the tables end.
            self._tbi_saving = _in_thread(self._tbi.finish, self._written)

        try:
            self._scan = self.tables.write_blocks(blocks())
        except BaseException as exc:  # noqa: BLE001 - handed to the writing thread
            self._failure = exc
            self._stopped.set()

    def _close_compressed(self) -> None:
        compressed, self._compressed = self._compressed, None
        if compressed is not None:
            compressed.__exit__(None, None, None)

    def _sort(self, plain_path: Path, scan: _Scan) -> _Scan:
        # tabix needs position order; htslib's own sort (bounded memory, spills to disk) gives it,
        # and the tables are rewritten from the sorted file so every output has the same order.
        # The plain text in the input's order is kept for its download.
        if not plain_path.exists():
            with gzip.open(self.gz, "rb") as packed, open(plain_path, "wb") as plain:
                shutil.copyfileobj(packed, plain, BLOCK_BYTES)
        with tempfile.TemporaryDirectory(dir=self.out_dir) as spill:
            declared = Path(spill) / "declared.vcf"
            _declare_undeclared(plain_path, declared, scan)
            pysam.bcftools.sort(
                *("-Oz", "-m", "256M", "-T", spill, "-o", str(self.gz), str(declared)),
                catch_stdout=False,
            )
        with gzip.open(self.gz, "rb") as stream:
            return self.tables.write(stream)

    def _index(self, scan: _Scan, sorted_input: bool, early: Future[None] | None) -> Outputs:
        gz, names, tables = self.gz, self.names, self.tables
        csi = scan.max_position >= TBI_MAX_POSITION or scan.max_contig_length >= TBI_MAX_POSITION
        failed = early.exception() if early is not None else None
        if failed is not None and not csi:
            raise failed
        saved = self._tbi_saved()
        if csi or not sorted_input:
            # Past a TBI's reach, or the file was sorted again: tabix indexes what is there.
            Path(f"{gz}.tbi").unlink(missing_ok=True)
            _tabix_index(gz, csi, self.threads)
        elif early is None and not saved:
            _tabix_index(gz, False, self.threads)
        index_kind = "annotated_csi" if csi else "annotated_tbi"
        made_index = Path(f"{gz}.{'csi' if csi else 'tbi'}")
        index = self.out_dir / names[index_kind]
        if made_index != index:
            made_index.replace(index)
        files = {
            "annotated_gz": gz,
            index_kind: index,
            **({"tsv": tables.tsv_path} if tables.tsv_path else {}),
            "parquet": tables.parquet_path,
            "genes": tables.genes_path,
        }
        by_consequence = by_severity(scan.by_consequence)
        return Outputs(
            files,
            scan.alleles,
            scan.records,
            sorted_input,
            by_consequence,
            scan.source_columns,
            self._written,
        )

    def _tbi_saved(self) -> bool:
        """Whether the TBI built as the text was written is saved (waits for it to be)."""
        saving, self._tbi_saving = self._tbi_saving, None
        return saving.result() if saving is not None else False

    def _remove(self) -> None:
        tables, gz = self.tables, self.gz
        indexes = [Path(f"{gz}.tbi"), Path(f"{gz}.csi")] + [
            self.out_dir / self.names[kind]
            for kind in ("annotated_tbi", "annotated_csi")
            if kind in self.names
        ]
        for path in (gz, tables.tsv_path, tables.parquet_path, tables.genes_path, *indexes):
            if path is not None:
                path.unlink(missing_ok=True)


def _index_in_thread(gz: Path, threads: int) -> Future[None]:
    """A TBI of a finished .vcf.gz, built in a thread (htslib's call releases the GIL); the
    future's ``exception()`` waits for it and says why it failed, if it did."""
    return _in_thread(_tabix_index, gz, False, threads)


def _in_thread(work: Callable[..., T], *args: Any) -> Future[T]:
    """``work(*args)`` in a thread of its own (the index calls release the GIL)."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gas-index")
    try:
        return pool.submit(work, *args)
    finally:
        pool.shutdown(wait=False)  # the submitted work still runs to its end


def _tabix_index(gz: Path, csi: bool, threads: int) -> None:
    """tabix's index of ``gz`` (the same bytes as ``tabix -p vcf``), with htslib's threads
    decompressing as it reads."""
    lib = _htslib()
    conf = ctypes.c_void_p.in_dll(lib, "tbx_conf_vcf")
    index = f"{gz}.{'csi' if csi else 'tbi'}"
    min_shift = 14 if csi else 0
    n_threads = threads if threads > 1 else 0
    built = lib.tbx_index_build3(
        os.fsencode(gz), os.fsencode(index), min_shift, n_threads, ctypes.byref(conf)
    )
    if built != 0:
        raise OSError(f"tabix could not index {gz.name}")


def _htslib() -> ctypes.CDLL:
    """pysam's own htslib, for the BGZF calls pysam does not expose (its multi-threaded writer)."""
    lib = ctypes.CDLL(pysam.libchtslib.__file__)
    lib.bgzf_open.restype = ctypes.c_void_p
    lib.bgzf_open.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    lib.bgzf_mt.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
    lib.bgzf_write.restype = ctypes.c_ssize_t
    lib.bgzf_write.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
    lib.bgzf_close.argtypes = [ctypes.c_void_p]
    lib.tbx_index_build3.argtypes = [
        ctypes.c_char_p,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_int,
        ctypes.c_void_p,
    ]
    return lib


class _Bgzf:
    """htslib's BGZF writer, as ``tabix_compress`` uses it (same blocks, same bytes), with its
    thread pool compressing blocks while the caller goes on; ctypes releases the GIL in calls."""

    def __init__(self, path: Path, threads: int | None) -> None:
        self.lib = _htslib()
        self.fp = self.lib.bgzf_open(os.fsencode(path), b"w")
        if not self.fp:
            raise OSError(f"cannot write {path}")
        n = (os.cpu_count() or 1) if threads is None else threads
        if n > 1 and self.lib.bgzf_mt(self.fp, n, 256) != 0:
            self.lib.bgzf_close(self.fp)
            raise OSError("htslib could not start its BGZF threads")

    def write(self, data: bytes) -> None:
        if data and self.lib.bgzf_write(self.fp, data, len(data)) != len(data):
            raise OSError("BGZF write failed")

    def __enter__(self) -> _Bgzf:
        return self

    def __exit__(self, *exc: object) -> None:
        fp, self.fp = self.fp, None
        if fp and self.lib.bgzf_close(fp) != 0 and exc[0] is None:
            raise OSError("BGZF close failed")


def by_severity(counts: dict[str, int]) -> dict[str, int]:
    """``counts`` keyed by consequence term, most severe first (terms GAS does not know last)."""
    unknown = len(terms.TERMS) + 1

    def severity(name: str) -> tuple[int, str]:
        term = terms.BY_NAME.get(name)
        return (term.rank if term else unknown, name)

    return {name: counts[name] for name in sorted(counts, key=severity)}


@dataclass
class _Scan:
    records: int = 0
    alleles: int = 0
    in_order: bool = True
    max_position: int = 0
    max_contig_length: int = 0
    contigs: dict[str, int] = field(default_factory=dict)  # name -> order of appearance
    declared: set[str] = field(default_factory=set)  # contigs the header declares
    by_consequence: dict[str, int] = field(default_factory=dict)  # alleles per GAS_CONSEQUENCE
    header: list[str] = field(default_factory=list)  # the ## lines, for the sources' columns
    source_columns: tuple[columns.SourceColumn, ...] = ()
    sources: list[dict] = field(default_factory=list)


class _Tables:
    """The TSV, the Parquet sidecar and the gene summary, written in one pass over VCF text.

    The text is read in blocks of whole lines; each block becomes Arrow arrays (one row per ALT
    allele) and is written with Arrow kernels, so no Python runs per record or per allele.
    """

    def __init__(self, tsv_path: Path | None, parquet_path: Path, genes_path: Path) -> None:
        self.tsv_path, self.parquet_path, self.genes_path = tsv_path, parquet_path, genes_path
        self.row_group_rows = ROW_GROUP_ROWS

    def write(self, stream: io.BufferedIOBase) -> _Scan:
        return self.write_blocks(_blocks(stream, BLOCK_BYTES))

    def write_blocks(self, blocks: Iterable[bytes]) -> _Scan:
        """The tables of VCF text given in blocks of whole lines, in order."""
        scan = _Scan()
        reader = _Reader(scan)
        genes = _GeneCounts()
        pending: list[pa.Table] = []
        pending_rows = 0
        writer: pq.ParquetWriter | None = None
        try:
            with contextlib.ExitStack() as stack:
                tsv = stack.enter_context(open(self.tsv_path, "wb")) if self.tsv_path else None

                def start() -> pq.ParquetWriter:
                    # Made at the first row: the header before it names the sources' columns.
                    schema = reader.schema()
                    if tsv:
                        tsv.write(tsv_header(tsv_names(schema)))
                    return pq.ParquetWriter(
                        self.parquet_path, schema, compression="zstd", write_statistics=True
                    )

                for block in blocks:
                    table = reader.alleles(block)
                    if table is None or table.num_rows == 0:
                        continue
                    if writer is None:
                        writer = start()
                    if tsv:
                        tsv.write(tsv_text(table, tsv_names(table.schema)))
                    genes.add(table, scan.alleles - table.num_rows)
                    _count_consequences(table, scan.by_consequence)
                    pending.append(table)
                    pending_rows += table.num_rows
                    if pending_rows >= self.row_group_rows:
                        rows = pa.concat_tables(pending)
                        full = pending_rows - pending_rows % self.row_group_rows
                        # Whole row groups of row_group_rows, in file order; the rest waits.
                        writer.write_table(rows.slice(0, full), row_group_size=self.row_group_rows)
                        pending = [rows.slice(full)]
                        pending_rows -= full
                if writer is None:
                    writer = start()
                if pending_rows or scan.alleles == 0:
                    rows = pa.concat_tables(pending) if pending else reader.schema().empty_table()
                    writer.write_table(rows, row_group_size=max(1, self.row_group_rows))
        finally:
            if writer is not None:
                writer.close()
        self.genes_path.write_bytes(genes.summary_json())
        return scan


def _count_consequences(table: pa.Table, counts: dict[str, int]) -> None:
    tally = pc.value_counts(table.column("consequence").combine_chunks())
    for value, n in zip(
        tally.field("values").to_pylist(), tally.field("counts").to_pylist(), strict=True
    ):
        if value is not None:
            counts[value] = counts.get(value, 0) + n


BLOCK_BYTES = 8 << 20  # whole lines of the VCF per block: bounds memory whatever the file's size
_EMPTY = pa.scalar(None, pa.string())


def _blocks(stream: io.BufferedIOBase, size: int) -> Iterator[bytes]:
    """The stream's bytes in pieces of about ``size`` that end at a line end (the last may not)."""
    carry = b""
    while chunk := stream.read(size):
        data = carry + chunk if carry else chunk
        cut = data.rfind(b"\n") + 1
        if cut == 0:
            carry = data
            continue
        carry = data[cut:]
        yield data[:cut]
    if carry:
        yield carry + b"\n"


class _Reader:
    """Turns blocks of VCF lines into tables of ALT alleles (SCHEMA), keeping the scan's tally."""

    def __init__(self, scan: _Scan) -> None:
        self.scan = scan
        self.last_contig = -1  # contig index and position of the previous block's last record
        self.last_pos = 0
        self.started: set[int] = set()  # contigs a run of records has begun with
        self._schema: pa.Schema | None = None
        self.columns = 0  # the #CHROM line's columns, once read

    def schema(self) -> pa.Schema:
        """The table's schema, fixed once the header is read (at the first record)."""
        if self._schema is None:
            cols, sources = columns.source_columns_from_header(self.scan.header)
            self.scan.source_columns, self.scan.sources = cols, sources
            self._schema = schema_for(cols, sources)
        return self._schema

    def alleles(self, block: bytes) -> pa.Table | None:
        columns_found = self._common_shape(block)
        if columns_found is None:
            columns_found = self._any_shape(block)
        if columns_found is None:
            return None
        chrom, pos, vid, ref, alt, info = columns_found
        n = len(chrom)
        contig = self._tally(chrom, pos, ref)
        alts = pc.split_pattern(alt, ",")
        counts = np.asarray(pc.list_value_length(alts), np.int64)
        record = np.repeat(np.arange(n), counts)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        index = np.arange(len(record)) - starts[record]
        single = bool((counts == 1).all())
        take = pa.array(record)

        def per_allele(values: pa.Array) -> pa.Array:
            return values if single else values.take(take)  # one row per record already

        arrays: dict[str, Any] = {
            "chrom": per_allele(chrom),
            "chrom_index": pa.array(contig if single else contig[record], pa.int32()),
            "pos": per_allele(pos),
            "id": per_allele(pc.if_else(pc.equal(vid, "."), _EMPTY, vid)),
            "ref": per_allele(ref),
            "alt": alt if single else pc.list_flatten(alts),
        }
        schema = self.schema()
        wanted = list(_INFO_OF.values()) + [c.info for c in self.scan.source_columns]
        fields = _info_fields(info, wanted)
        for column, info_id in _INFO_OF.items():
            value = _per_allele(fields.get(info_id), record, index, single)
            kind = SCHEMA.field(column).type
            arrays[column] = value if kind == pa.string() else pc.cast(value, kind)
        for c in self.scan.source_columns:
            arrays[c.name] = _source_values(c, fields.get(c.info), record, index, single)
        self.scan.alleles += len(record)
        return pa.table([arrays[name] for name in schema.names], schema=schema)

    def _common_shape(self, block: bytes) -> tuple[pa.Array, ...] | None:
        """(CHROM, POS, ID, REF, ALT, INFO) of a block whose every line has the header's
        columns, found in one C pass (the engine's own split); None for anything else (a header
        line, a CR, another count of columns, a POS that is not a plain number)."""
        ncols = self.columns
        cap = block.count(b"\n")
        if ncols < 8 or cap == 0:
            return None
        rows = np.empty(ncols * cap, np.int64)
        pos = np.empty(cap, np.int64)
        hashes = np.empty(cap, np.uint64)
        n = split_lines(block, ncols, rows, pos, hashes)
        if n <= 0:
            return None
        tabs = rows.reshape(ncols, cap)[:, :n]
        line_end = tabs[ncols - 1]
        line_start = np.concatenate([[0], line_end[:-1] + 1])
        data = pa.py_buffer(block)
        every = np.ones(n, bool)

        def column(start: np.ndarray, end: np.ndarray) -> pa.Array:
            return _pieces(data, start, end, every, False)

        info_end = tabs[7] if ncols > 8 else line_end
        return (
            column(line_start, tabs[0]),
            pa.array(pos[:n]),
            column(tabs[1] + 1, tabs[2]),
            column(tabs[2] + 1, tabs[3]),
            column(tabs[3] + 1, tabs[4]),
            column(tabs[6] + 1, info_end),
        )

    def _any_shape(self, block: bytes) -> tuple[pa.Array, ...] | None:
        """(CHROM, POS, ID, REF, ALT, INFO) of any block; header lines are read for what the
        tables need, and lines of fewer than 8 columns are passed over."""
        lines = _lines(block)
        comment = pc.starts_with(lines, "#")
        if pc.any(comment).as_py():
            for line in lines.filter(comment).to_pylist():
                if line.startswith("##contig=<"):
                    contig_id, length = _contig_line(line)
                    self.scan.declared.add(contig_id)
                    self.scan.max_contig_length = max(self.scan.max_contig_length, length)
                elif line.startswith(("##GAS_source=", "##INFO=<ID=GAS_")):
                    self.scan.header.append(line)
                elif line.startswith("#CHROM"):
                    self.columns = line.count("\t") + 1
            lines = lines.filter(pc.invert(comment))
        parts = pc.split_pattern(lines, "\t", max_splits=8)
        enough = pc.greater_equal(pc.list_value_length(parts), 8)
        if not pc.all(enough).as_py():
            parts = parts.filter(enough)
        if len(parts) == 0:
            return None
        chrom, pos_text, vid, ref, alt, _qual, _filter, info = (
            pc.list_element(parts, i) for i in range(8)
        )
        return chrom, pc.cast(pos_text, pa.int64()), vid, ref, alt, info

    def _tally(self, chrom: pa.Array, pos: pa.Array, ref: pa.Array) -> np.ndarray:
        """Each record's contig index; counts records and checks position order as it goes."""
        scan = self.scan
        scan.records += len(chrom)
        end = pc.max(pc.add(pos, pc.cast(pc.utf8_length(ref), pa.int64()))).as_py()
        scan.max_position = max(scan.max_position, end)
        coded = pc.dictionary_encode(chrom)
        order = np.array(
            [
                scan.contigs.setdefault(name, len(scan.contigs))
                for name in coded.dictionary.to_pylist()
            ],
            np.int64,
        )
        contig = order[np.asarray(coded.indices, np.int64)]
        if scan.in_order:
            at = np.asarray(pos, np.int64)
            prev_contig = np.concatenate([[self.last_contig], contig[:-1]])
            prev_pos = np.concatenate([[self.last_pos], at[:-1]])
            begins = contig[contig != prev_contig]  # a contig's records must be contiguous
            if (
                len(np.unique(begins)) < len(begins)
                or any(int(c) in self.started for c in begins)
                or bool(((contig == prev_contig) & (at < prev_pos)).any())
            ):
                scan.in_order = False
            self.started.update(int(c) for c in begins)
            self.last_contig, self.last_pos = int(contig[-1]), int(at[-1])
        return contig


def _lines(block: bytes) -> pa.Array:
    """The block's lines (without line ends) as one string array, sharing the block's memory."""
    raw = np.frombuffer(block, np.uint8)
    ends = np.flatnonzero(raw == 10)
    starts = np.concatenate([[0], ends[:-1] + 1])
    stops = ends - ((ends > starts) & (raw[np.maximum(ends - 1, 0)] == 13))  # a \r\n line end
    every = np.ones(len(ends), bool)
    return _pieces(pa.py_buffer(block), starts, stops, every, len(block) >= 1 << 31)


def _source_values(
    c: columns.SourceColumn, value: pa.Array | None, record, index, single: bool
) -> pa.Array:
    """A source column's value per allele: its own (Number=A), its ALT's (R), the record's
    (1, ., a flag: set or not); lists keep their commas (written %2C in INFO)."""
    kind = _ARROW[c.kind]
    n = len(record)
    if c.kind == columns.FLAG:
        if value is None:
            return pa.array(np.zeros(n, bool))
        return pc.is_valid(value).take(pa.array(record))
    if value is None:
        return pa.nulls(n, kind)
    if c.number == "A":
        got = _per_allele(value, record, index, single)
    elif c.number == "R":
        got = _per_allele(value, record, index + 1, False)
    else:
        got = _blank(value.take(pa.array(record)))
    if c.kind == columns.STRING:
        return pc.replace_substring(pc.replace_substring(got, "%2C", ","), "%3B", ";")
    return pc.cast(got, kind)


def _info_fields(info: pa.Array, wanted: list[str]) -> dict[str, pa.Array]:
    """Each wanted GAS_* INFO field's value per record (null where absent); the last one
    counts; a flag (no '=') is an empty value. One pass in C finds every value's bytes; each
    field's values are then copied out once."""
    n = len(info)
    if n == 0 or not wanted:
        return {}
    large = pa.types.is_large_string(info.type)
    width = np.int64 if large else np.int32
    offsets = np.frombuffer(info.buffers()[1], width)[info.offset : info.offset + n + 1]
    offsets = offsets.astype(np.int64)
    data = info.buffers()[2]
    spans = np.full((len(wanted), n, 2), -1, np.int64)
    info_values(offsets, data, tuple(key.encode() for key in wanted), spans)
    found = {}
    for k, info_id in enumerate(wanted):
        starts, ends = spans[k, :, 0], spans[k, :, 1]
        present = starts >= 0
        if not present.any():
            continue
        # Where absent, an empty piece at the text's start keeps the bounds in order.
        starts = np.where(present, starts, offsets[:-1])
        ends = np.where(present, ends, offsets[:-1])
        found[info_id] = _pieces(data, starts, ends, present, large)
    return found


def _pieces(
    data: pa.Buffer, starts: np.ndarray, ends: np.ndarray, present: np.ndarray, large: bool
) -> pa.Array:
    """data[starts[i]:ends[i]] as strings (null where not ``present``); the spans are in order.
    Pieces alternate span, gap to the next span: the even ones are kept."""
    bounds = np.empty(2 * len(starts), np.int64)
    bounds[0::2], bounds[1::2] = starts, ends
    kind = pa.large_binary() if large else pa.binary()
    every = pa.Array.from_buffers(
        kind,
        len(bounds) - 1,
        [None, pa.py_buffer(bounds if large else bounds.astype(np.int32)), data],
    )
    picked = every.take(pa.array(np.arange(0, len(bounds) - 1, 2), mask=~present))
    text = pa.large_string() if large else pa.string()
    try:
        return picked.cast(text)
    except pa.ArrowInvalid:
        # Bytes that are not UTF-8 (e.g. a Latin-1 'é' in an older file's INFO): the VCF keeps
        # them as uploaded; the tables read them as the header reader does, Latin-1.
        return pa.array([_utf8_or_latin1(value) for value in picked.to_pylist()], text)


def _utf8_or_latin1(value: bytes | None) -> str | None:
    if value is None:
        return None
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("latin-1")


def _per_allele(
    value: pa.Array | None, record: np.ndarray, index: np.ndarray, single: bool
) -> pa.Array:
    """Each allele's own value of a Number=A field (null for '.', empty or missing)."""
    if value is None:
        return pa.nulls(len(record), pa.string())
    if single and not pc.any(pc.match_substring(value, ",")).as_py():
        return _blank(value)  # one allele per record and one value per field: as it is
    split = pc.split_pattern(value, ",")
    length = np.asarray(pc.fill_null(pc.list_value_length(split), 0), np.int64)
    starts = np.asarray(split.offsets, np.int64)[:-1]
    ok = index < length[record]
    at = np.where(ok, starts[record] + index, 0)
    return _blank(pc.list_flatten(split).take(pa.array(at, mask=~ok)))


def _blank(values: pa.Array) -> pa.Array:
    return pc.if_else(pc.is_in(values, _DOT_OR_EMPTY), _EMPTY, values)


_DOT_OR_EMPTY = pa.array([".", ""])


class _GeneCounts:
    """Alleles per gene, by region class (in the order classes first appear) and by the allele's
    most severe consequence (most severe first)."""

    def __init__(self) -> None:
        # gene, region, consequence, alleles, first (allele number)
        self.pairs: list[pa.Table] = []
        self.ids: list[pa.Table] = []  # gene, gene_id, first

    def add(self, table: pa.Table, first_allele: int) -> None:
        gene = table.column("gene").combine_chunks()
        rows = np.flatnonzero(np.asarray(pc.is_valid(gene), bool))
        if not len(rows):
            return
        take = pa.array(rows)
        names = pc.split_pattern(gene.take(take), "|")
        ids = pc.split_pattern(
            pc.fill_null(table.column("gene_id").combine_chunks().take(take), ""), "|"
        )
        region = pc.fill_null(table.column("region").combine_chunks().take(take), "unknown")
        consequence = table.column("consequence").combine_chunks().take(take)
        owner = np.asarray(pc.list_parent_indices(names), np.int64)
        name_start = np.asarray(names.offsets, np.int64)[:-1]
        slot = np.arange(len(owner)) - name_start[owner]
        id_len = np.asarray(pc.list_value_length(ids), np.int64)
        ok = slot < id_len[owner]
        id_at = np.where(ok, np.asarray(ids.offsets, np.int64)[:-1][owner] + slot, 0)
        gene_id = _blank(pc.list_flatten(ids).take(pa.array(id_at, mask=~ok)))
        name = pc.list_flatten(names)
        keep = pc.invert(pc.is_in(name, _DOT_OR_EMPTY))
        first = pa.array(first_allele + rows[owner], pa.int64())
        pairs = pa.table(
            {
                "gene": name,
                "gene_id": gene_id,
                "region": region.take(pa.array(owner)),
                "consequence": consequence.take(pa.array(owner)),
                "first": first,
            }
        ).filter(keep)
        if pairs.num_rows == 0:
            return
        self.pairs.append(
            pairs.group_by(["gene", "region", "consequence"], use_threads=False).aggregate(
                [("first", "count"), ("first", "min")]
            )
        )
        self.ids.append(
            pairs.select(["gene", "gene_id", "first"])
            .group_by("gene", use_threads=False)
            .aggregate(
                [
                    ("gene_id", "first", pc.ScalarAggregateOptions(skip_nulls=False)),
                    ("first", "min"),
                ]
            )
        )

    def summary_json(self) -> bytes:
        """genes.json's bytes: ``{"genes": [...]}`` as ``json.dumps(..., separators=(",", ":"))``
        writes it, each gene ``{"gene", "gene_id", "alleles", "by_region", "by_consequence"}``,
        most alleles first (then by name); its regions in the order the file first shows them,
        its consequences most severe first. Built with Arrow kernels: a whole genome's tens of
        thousands of genes took ~0.6 s as Python dicts and json.dumps, after everything else."""
        if not self.pairs:
            return b'{"genes":[]}'
        every = pa.concat_tables(self.pairs)
        regions = (
            every.group_by(["gene", "region"], use_threads=False)
            .aggregate([("first_count", "sum"), ("first_min", "min")])
            .sort_by([("gene", "ascending"), ("first_min_min", "ascending")])
        )
        genes = regions.group_by("gene", use_threads=False).aggregate([("first_count_sum", "sum")])
        genes = genes.sort_by([("first_count_sum_sum", "descending"), ("gene", "ascending")])
        name = genes.column("gene").combine_chunks()
        ids = pa.concat_tables(self.ids).sort_by(
            [("gene", "ascending"), ("first_min", "ascending")]
        )
        first_id = _first_per_run(ids.column("gene"), ids.column("gene_id_first"))
        consequences = every.filter(pc.is_valid(every.column("consequence")))
        consequences = consequences.group_by(["gene", "consequence"], use_threads=False).aggregate(
            [("first_count", "sum")]
        )
        rank = pc.fill_null(
            pc.index_in(consequences.column("consequence"), value_set=_SEVERITY), len(_SEVERITY)
        )
        consequences = consequences.append_column("rank", rank).sort_by(
            [("gene", "ascending"), ("rank", "ascending"), ("consequence", "ascending")]
        )
        by_region = _members(name, regions, "region", "first_count_sum")
        by_consequence = _members(name, consequences, "consequence", "first_count_sum")
        gene_id = pc.take(first_id[1], pc.index_in(name, value_set=first_id[0]))
        entries = pc.binary_join_element_wise(
            '{"gene":',
            _json_strings(name),
            ',"gene_id":',
            pc.fill_null(_json_strings(gene_id), "null"),
            ',"alleles":',
            pc.cast(genes.column("first_count_sum_sum").combine_chunks(), pa.string()),
            ',"by_region":{',
            by_region,
            '},"by_consequence":{',
            by_consequence,
            "}}",
            "",
        )
        listed = pa.ListArray.from_arrays(pa.array([0, len(entries)], pa.int32()), entries)
        joined = pc.binary_join(listed.cast(pa.list_(pa.binary())), b",")[0].as_py()
        return b'{"genes":[' + joined + b"]}"


# Consequence terms, most severe first (by_severity's order; terms GAS does not know go last).
_SEVERITY = pa.array([t.name for t in sorted(terms.TERMS, key=lambda t: (t.rank, t.name))])


def _first_per_run(keys: pa.ChunkedArray, values: pa.ChunkedArray) -> tuple[pa.Array, pa.Array]:
    """(each key, the value of its first row): ``keys`` sorted, values in the same order."""
    key = keys.combine_chunks()
    at = pa.array(_run_starts(key))
    return key.take(at), values.combine_chunks().take(at)


def _run_starts(sorted_keys: pa.Array) -> np.ndarray:
    """The rows where each run of equal keys begins."""
    codes = np.asarray(pc.dictionary_encode(sorted_keys).indices, np.int64)
    return np.flatnonzero(np.concatenate([[True], codes[1:] != codes[:-1]]))


def _members(names: pa.Array, table: pa.Table, label: str, count: str) -> pa.Array:
    """Per name, its rows of ``table`` (sorted by name, then in the order wanted) as JSON object
    members, '"label":count' joined by ','; '' for a name without rows."""
    if table.num_rows == 0:
        return pa.array([""] * len(names), pa.string())
    text = pc.binary_join_element_wise(
        _json_strings(table.column(label).combine_chunks()),
        pc.cast(table.column(count).combine_chunks(), pa.string()),
        ":",
    )
    owner = table.column("gene").combine_chunks()
    starts = _run_starts(owner)
    offsets = pa.array(np.append(starts, len(owner)).astype(np.int32))
    joined = pc.binary_join(pa.ListArray.from_arrays(offsets, text), ",")
    at = pc.index_in(names, value_set=owner.take(pa.array(starts)))
    return pc.fill_null(pc.take(joined, at), "")


def _json_strings(values: pa.Array) -> pa.Array:
    """Each string as json.dumps writes it (ASCII, escaped); null stays null."""
    plain = pc.match_substring_regex(values, r"^[ !#-\[\]-~]*$")
    quoted = pc.binary_join_element_wise('"', values, '"', "")
    if pc.all(pc.fill_null(plain, True)).as_py():
        return quoted
    escaped = pa.array([None if v is None else json.dumps(v) for v in values.to_pylist()])
    return pc.if_else(plain, quoted, escaped)


def _contig_line(line: str) -> tuple[str, int]:
    """(ID, length or 0) of a ``##contig`` header line."""
    found = {}
    for part in line[len("##contig=<") :].rstrip(">\r\n").split(","):
        key, _, value = part.partition("=")
        found[key] = value
    length = found.get("length", "")
    return found.get("ID", ""), int(length) if length.isdigit() else 0


def _karyotype_order(name: str) -> tuple[int, int, str]:
    bare = name.removeprefix("chr")
    if bare.isdigit():
        return (0, int(bare), "")
    return (
        (1, ("X", "Y", "M", "MT").index(bare), "")
        if bare in ("X", "Y", "M", "MT")
        else (2, 0, name)
    )


def _declare_undeclared(source: Path, target: Path, scan: _Scan) -> None:
    """Copy the VCF, declaring every contig, INFO and FORMAT key and FILTER it uses: bcftools sort
    refuses undeclared contigs, and its BCF chunks lose the keys it declares on the fly (it then
    fails with "Error encountered while parsing the input")."""
    # Undeclared contigs in karyotype order (bcftools sorts contigs in header order).
    missing = sorted((c for c in scan.contigs if c not in scan.declared), key=_karyotype_order)
    used = _used_keys(source)
    with open(source, encoding="utf-8", newline="") as src, open(target, "w") as out:
        for line in src:
            if line.startswith("#CHROM"):
                out.writelines(f"##contig=<ID={name}>\n" for name in missing)
                out.writelines(_undeclared(used))
            elif line.startswith(("##INFO=<", "##FORMAT=<", "##FILTER=<")):
                kind = line[2 : line.index("=")]
                used[kind].pop(_header_id(line), None)
            out.write(line)


_UNDECLARED = "Not declared by the uploaded VCF"


def _tally_keys(items: pa.Array, valued: bool, seen: dict[str, bool]) -> None:
    """Each item's key (before its '='; the values, e.g. GAS_CSQ's, are never copied) into
    ``seen``, with whether any has a value (always, for FORMAT keys)."""
    if len(items) == 0:
        return
    offsets = np.frombuffer(items.buffers()[1], np.int32)[
        items.offset : items.offset + len(items) + 1
    ]
    starts, ends = offsets[:-1].astype(np.int64), offsets[1:].astype(np.int64)
    at = np.asarray(pc.find_substring(items, "="), np.int64)
    has_value = at >= 0
    keys = _pieces(
        items.buffers()[2],
        starts,
        np.where(has_value, starts + at, ends),
        np.ones(len(items), bool),
        False,
    )
    coded = pc.dictionary_encode(keys)
    codes = np.asarray(coded.indices, np.int64)
    any_value = np.bincount(codes, weights=has_value, minlength=len(coded.dictionary)) > 0
    for key, value in zip(coded.dictionary.to_pylist(), any_value.tolist(), strict=True):
        if key not in ("", "."):
            seen[key] = seen.get(key, False) or valued or value


def _undeclared(used: dict[str, dict[str, bool]]) -> list[str]:
    """Header lines for the keys still in ``used`` (as htslib itself would declare them: a flag
    where a key never has a value, else a string)."""
    lines = [f'##FILTER=<ID={key},Description="{_UNDECLARED}">\n' for key in sorted(used["FILTER"])]
    for kind in ("INFO", "FORMAT"):
        for key, valued in sorted(used[kind].items()):
            shape = "Number=.,Type=String" if valued else "Number=0,Type=Flag"
            if kind == "FORMAT" and key == "GT":
                shape = "Number=1,Type=String"
            lines.append(f'##{kind}=<ID={key},{shape},Description="{_UNDECLARED}">\n')
    return lines


def _header_id(line: str) -> str:
    inner = line[line.index("<") + 1 :]
    for part in inner.split(","):
        key, _, value = part.partition("=")
        if key == "ID":
            return value.rstrip(">\r\n")
    return ""


def _used_keys(source: Path) -> dict[str, dict[str, bool]]:
    """The INFO keys (whether any has a value), FORMAT keys and FILTER names the records use."""
    used: dict[str, dict[str, bool]] = {"INFO": {}, "FORMAT": {}, "FILTER": {}}
    with open(source, "rb") as stream:
        for block in _blocks(stream, BLOCK_BYTES):
            lines = _lines(block)
            lines = lines.filter(pc.invert(pc.starts_with(lines, "#")))
            parts = pc.split_pattern(lines, "\t", max_splits=9)
            width = np.asarray(pc.list_value_length(parts), np.int64)
            for column, kind, sep in ((6, "FILTER", ";"), (7, "INFO", ";"), (8, "FORMAT", ":")):
                rows = parts.filter(pa.array(width > column))
                if len(rows) == 0:
                    continue
                items = pc.list_flatten(pc.split_pattern(pc.list_element(rows, column), sep))
                _tally_keys(items, kind == "FORMAT", used[kind])
    if "PASS" in used["FILTER"]:
        del used["FILTER"]["PASS"]  # htslib declares PASS itself
    return used
