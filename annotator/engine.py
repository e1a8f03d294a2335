"""Annotate a VCF against a reference bundle: streamed in 1 MiB blocks, each looked up with numpy
and split and written by the C module (``annotator.compiled``); large files' blocks in threads.

Region precedence (highest first) for a variant's REF span:
CDS > UTR5 > UTR3 > ncExon > splice_region > intron > upstream > downstream > intergenic.
``unknown_contig`` marks records on contigs the bundle does not have (kept, not annotated).
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol

import numpy as np
import pyarrow as pa

from annotator import kernels
from annotator.bundle import (
    GENE_SHIFT,
    SHIFT,
    SPLICE_REGION_BP,
    Bundle,
    canonical_contig,
    covers,
    load_bundle,
    search,
    single_array,
)
from annotator.columns import REGION_CLASSES
from annotator.compiled import join_lines
from annotator.consequences import (
    CSQ_FORMAT,
    DEL,
    INS,
    MNV,
    OTHER,
    SNV,
    Alleles,
    Bases,
    ConsequenceCaller,
)
from annotator.exceptions import (
    AnnotationInputError,
    BuildMismatch,
    ReferenceUnavailable,
)
from annotator.info import header_lines as _info_header_lines
from annotator.sequence import load_sequence
from annotator.terms import TERM_NAMES, impact
from gas import builds

if TYPE_CHECKING:
    from concurrent.futures import Future

    from annotator.annotation_sources import SourceSet

from annotator.vcf import (
    Fields,
    Header,
    chrom_hashes,
    detect_build,
    open_input,
    parse_chunk,
    read_block,
    read_chunks,
    read_header,
    read_spans,
)

REGIONS = REGION_CLASSES  # the one list, in annotator.columns (plain Python, for the web)
CDS, UTR5, UTR3, NCEXON, SPLICE, INTRON, UPSTREAM, DOWNSTREAM, INTERGENIC, UNKNOWN = range(10)
ENGINE_VERSION = "3"  # 3: per-transcript consequences (GAS_CSQ and the consequence fields)
MAX_SPAN_GENES = 50  # a long span lists at most this many genes (the first ones it crosses)
IN_FLIGHT_PER_THREAD = 2  # blocks queued per annotating thread: enough to keep each one busy

# The INFO fields are declared in annotator.info (plain Python): the header is rendered from there.

INFO_LINES = _info_header_lines(CSQ_FORMAT)


@dataclass
class AnnotationResult:
    """What one annotation run did; also written, with more detail, to the summary JSON."""

    variants: int
    alleles: int
    build: str
    build_source: str  # "header" | "default" | "requested"
    seconds: float
    by_region: dict[str, int] = field(default_factory=dict)
    by_consequence: dict[str, int] = field(default_factory=dict)  # alleles, most severe term
    reference_sequence: bool = False  # consequences called with the sequence (else coordinates)
    ref_mismatches: int = 0  # records whose REF differs from the reference sequence
    by_chromosome: dict[str, int] = field(default_factory=dict)
    genes_hit: int = 0
    known_ids: int = 0  # alleles the source named "known" matched
    sources: list[dict] = field(default_factory=list)  # each source used and what it matched
    unknown_contig_records: int = 0
    sorted_input: bool = True
    notes: list[str] = field(default_factory=list)


@dataclass
class _BlockTally:
    """What one block added to the counts."""

    variants: int
    alleles: int
    by_region: np.ndarray
    by_chrom: dict[str, int]
    source_hits: np.ndarray | None  # alleles each source matched
    hit_sets: np.ndarray  # gene-set indices some allele fell in, repeats kept (bundle sets only)
    out_of_order: int  # position decreases inside a contig run
    runs: list[tuple[str, int]]  # (contig, first position) of each contig run, in order
    last: tuple[str, int]  # contig and position of the block's last record
    by_consequence: np.ndarray | None = None  # alleles per most severe term (TERMS order)
    ref_mismatches: int = 0  # records whose REF differs from the reference sequence


class _Tally:
    """The run's counts, merged block by block in input order (so any thread may do a block)."""

    def __init__(self, n_sets: int):
        self.by_region = np.zeros(len(REGIONS), np.int64)
        self.by_chrom: dict[str, int] = {}
        self.variants = 0
        self.alleles = 0
        self.source_hits: np.ndarray | None = None
        self.hit_sets = np.zeros(n_sets, bool)  # gene sets some variant falls in
        self.out_of_order = 0
        self.last: tuple[str, int] | None = None
        self.seen_contigs: set[str] = set()
        self.by_consequence = np.zeros(len(TERM_NAMES), np.int64)
        self.ref_mismatches = 0

    def add(self, t: _BlockTally) -> None:
        if t.by_consequence is not None:
            self.by_consequence += t.by_consequence
        self.ref_mismatches += t.ref_mismatches
        self.variants += t.variants
        self.alleles += t.alleles
        self.by_region += t.by_region
        for name, n in t.by_chrom.items():
            self.by_chrom[name] = self.by_chrom.get(name, 0) + n
        if t.source_hits is not None:
            if self.source_hits is None:
                self.source_hits = np.zeros(len(t.source_hits), np.int64)
            self.source_hits += t.source_hits
        self.hit_sets[t.hit_sets] = True
        # Sortedness: positions fall within a contig run, or a contig comes back after another.
        self.out_of_order += t.out_of_order
        for name, first_pos in t.runs:
            if self.last is not None and self.last[0] == name:
                if first_pos < self.last[1]:
                    self.out_of_order += 1
            elif name in self.seen_contigs:
                self.out_of_order += 1
            self.seen_contigs.add(name)
        self.last = t.last

    def genes_hit(self, bundle: Bundle) -> int:
        return int(len(bundle.set_members(np.flatnonzero(self.hit_sets))))


def _contig_lookup(bundle: Bundle) -> Callable[[str], int]:
    index = bundle.contig_index()

    def lookup(raw: str) -> int:
        return index.get(canonical_contig(raw), -1)

    return lookup


class _ContigMap:
    """Maps CHROM hashes to bundle contig indices, remembering names across blocks."""

    def __init__(self, bundle: Bundle):
        self.lookup = _contig_lookup(bundle)
        self.known: dict[int, tuple[int, str]] = {}

    def resolve(self, fields: Fields) -> tuple[np.ndarray, np.ndarray, list[str]]:
        h = chrom_hashes(fields)
        # Records come in contig runs: find the distinct contigs among the run starts only.
        run = np.flatnonzero(np.concatenate([[True], h[1:] != h[:-1]]))
        uniq, run_first, run_inv = np.unique(h[run], return_index=True, return_inverse=True)
        first = run[run_first]
        inv = np.repeat(run_inv, np.diff(np.append(run, len(h))))
        cidx = np.empty(len(uniq), np.int64)
        names = []
        for j, (hv, i) in enumerate(zip(uniq.tolist(), first.tolist(), strict=False)):
            hit = self.known.get(hv)
            if hit is None:
                raw = bytes(fields.arr[fields.starts[i] : fields.t[0][i]]).decode(
                    "utf-8", "replace"
                )
                ci = self.lookup(raw)
                hit = self.known[hv] = (ci, canonical_contig(raw) if ci >= 0 else raw)
            cidx[j] = hit[0]
            names.append(hit[1])
        return cidx[inv], inv, names


@dataclass
class _Queries:
    """One lookup per ALT allele (a record without ALT counts as one): its record and key span."""

    rec: np.ndarray  # record index of each allele, records in order
    start: np.ndarray  # key span [start, end) the allele touches
    end: np.ndarray
    first: np.ndarray | None  # index of each record's first allele; None when one per record
    alt_s: np.ndarray  # the ALT bytes left after trimming, [alt_s, alt_e) in the block
    alt_e: np.ndarray
    ref_s: np.ndarray  # the REF bytes left after trimming, [ref_s, ref_e) in the block
    ref_e: np.ndarray
    raw_s: np.ndarray  # the ALT as written, [raw_s, raw_e) in the block
    raw_e: np.ndarray


_SYMBOLIC = np.zeros(256, bool)
_SYMBOLIC[[ord(c) for c in "<>[]*."]] = True  # <DEL>, breakends, '*', '.' (and single breakends)


def _allele_queries(fl: Fields, key: np.ndarray) -> _Queries:
    """Each ALT allele's span: REF after trimming the bases it shares with that ALT.

    The shared suffix goes first, then the shared prefix (as ``bcftools norm``/vt do, without a
    FASTA): a repeat indel is placed as far left as the record's own bases allow. SNVs keep the
    REF base; a deletion covers the deleted bases; an insertion its anchor base (the base before
    the inserted ones); symbolic, breakend, '*' and missing alleles the REF span.
    """
    arr = fl.arr
    nq = np.maximum(fl.n_alt, 1)
    alt_s, alt_e = fl.t[3] + 1, fl.t[4]
    if nq.max(initial=1) == 1:
        rec = np.arange(fl.n)
        a_s, a_e, first = alt_s, alt_e, None
    else:
        rec = np.repeat(np.arange(fl.n), nq)
        first = np.cumsum(nq) - nq
        a_s, a_e = alt_s[rec], alt_e[rec].copy()
        m = np.flatnonzero(nq > 1)
        mq = nq[m]
        k = np.arange(int(mq.sum())) - np.repeat(np.cumsum(mq) - mq, mq)  # allele number
        q = np.repeat(first[m], mq) + k
        commas = np.flatnonzero(arr == 44)
        lo = np.repeat(np.searchsorted(commas, alt_s[m]), mq)
        a_s[q] = np.where(k == 0, a_s[q], commas[np.maximum(lo + k - 1, 0)] + 1)
        last = k == np.repeat(mq, mq) - 1
        a_e[q] = np.where(last, a_e[q], commas[np.minimum(lo + k, len(commas) - 1)])
    start = key[rec]
    t_s, t_e = a_s.copy(), a_e.copy()
    rlen = fl.ref_len[rec]
    ref_s = fl.t[2][rec] + 1
    ref_e = ref_s + rlen
    end = start + rlen
    alen = a_e - a_s
    c = np.flatnonzero((rlen != 1) | (alen != 1))
    if len(c):
        edge = np.maximum(a_e[c] - 1, a_s[c])
        plain = (alen[c] > 0) & ~_SYMBOLIC[arr[a_s[c]]] & ~_SYMBOLIC[arr[edge]]
        c = c[plain]
    if len(c):
        rs, as_, rl, al = fl.t[2][rec[c]] + 1, a_s[c], rlen[c], alen[c]
        most = np.minimum(rl, al)
        ks = _shared(arr, rs + rl - 1, as_ + al - 1, most, -1)
        kp = _shared(arr, rs, as_, most - ks, 1)
        t_s[c], t_e[c] = as_ + kp, as_ + al - ks
        ref_s[c], ref_e[c] = rs + kp, rs + rl - ks
        s0 = start[c]
        new_s, new_e = s0 + kp, s0 + rl - ks
        ins = new_e <= new_s  # nothing of REF is replaced: an insertion after base kp - 1
        anchor = s0 + np.maximum(kp - 1, 0)
        start[c] = np.where(ins, anchor, new_s)
        end[c] = np.where(ins, anchor + 1, new_e)
    return _Queries(rec, start, end, first, t_s, t_e, ref_s, ref_e, a_s, a_e)


def _text_part(values: pa.Array, rows: np.ndarray | None = None) -> tuple:
    """A ``join_lines`` part: the rows of a binary or string Arrow array (a null row adds
    nothing), picked by ``rows`` (int64, one per line) or else row i for line i."""
    validity, offsets, data = values.buffers()[:3]
    off = np.frombuffer(offsets, np.int32)[values.offset : values.offset + len(values) + 1]
    if rows is not None:
        rows = np.ascontiguousarray(rows, np.int64)
    return ("text", off, b"" if data is None else data, validity, values.offset, rows)


def _best_per_allele(allele: np.ndarray, rank: np.ndarray) -> np.ndarray:
    """Index of each allele's lowest-rank pair, the first one on ties (the lowest gene index).

    Pairs come grouped by allele, genes ascending within one (as the zone sets list them), so a
    minimum over each run of (rank, pair index) replaces a sort; rank must stay below 2**31.
    """
    starts = np.flatnonzero(np.concatenate([[True], allele[1:] != allele[:-1]]))
    key = (rank << 32) | np.arange(len(rank), dtype=np.int64)
    return np.minimum.reduceat(key, starts) & 0xFFFFFFFF


def _shared(arr: np.ndarray, a: np.ndarray, b: np.ndarray, limit: np.ndarray, step: int):
    """How many bases two alleles share, walking from offsets a and b by step, up to limit."""
    n = np.zeros(len(a), np.int64)
    live = np.flatnonzero(limit > 0)
    j = 0
    while len(live):
        same = (arr[a[live] + step * j] | 32) == (arr[b[live] + step * j] | 32)  # any case
        live = live[same]
        n[live] += 1
        j += 1
        live = live[limit[live] > j]
    return n


class _Annotator:
    """Annotates blocks of lines against one bundle and keeps the counts."""

    def __init__(
        self,
        bundle: Bundle,
        sources: SourceSet | None = None,
        sequence=None,
        transcripts: str = "per_gene",
    ):
        self.b = bundle
        self.sources = sources
        self.contigs = _ContigMap(bundle)
        # Region text with and without the ';' that follows existing INFO; see _assemble.
        self.region_text = pa.array(
            [f"GAS_REGION={r}" for r in REGIONS] + [f";GAS_REGION={r}" for r in REGIONS],
            pa.binary(),
        )
        self.set_text = bundle.set_text
        self.region_names = pa.array(list(REGIONS), pa.string())
        self.nonempty_seg = np.flatnonzero(bundle.seg_set != 0)
        self.extra_sets: dict[tuple[int, ...], int] = {}  # unions for spans crossing segments
        self.zone_flat = single_array(bundle.zone_sets)
        self.zone_offsets = np.asarray(self.zone_flat.offsets)
        self.zone_values = np.asarray(kernels.list_flatten(self.zone_flat))
        pk = bundle.pick
        self.pick_off = pk["exon_offset"]
        self.pick_es, self.pick_ee = pk["exons"][0], pk["exons"][1]
        self.pick_lo, self.pick_hi = pk["cds"][0], pk["cds"][1]
        self.pick_len = pk["length"]
        self.pick_mane = kernels.equal(bundle.picks["basis"], "MANE_Select").to_numpy(
            zero_copy_only=False
        )
        self.pick_coding = self.pick_lo >= 0
        gene_of = np.repeat(np.arange(len(self.pick_off) - 1), np.diff(self.pick_off))
        self.pick_end_key = (gene_of.astype(np.int64) << GENE_SHIFT) | (
            self.pick_ee & ((np.int64(1) << GENE_SHIFT) - 1)
        )
        self.pick_es_local = self.pick_es & ((np.int64(1) << GENE_SHIFT) - 1)
        # Blocks are annotated in several threads at once: a block's own state stays in its
        # call; the one shared thing a block adds (a new union of gene sets) is added under this.
        self.union_lock = threading.Lock()
        self.consequences = ConsequenceCaller(bundle, sequence, transcripts)
        self.term_names = pa.array(list(TERM_NAMES), pa.string())
        self.term_impacts = pa.array([impact(t) for t in TERM_NAMES], pa.string())

    @cached_property
    def set_fields(self) -> dict[str, pa.Array]:
        """Per gene set, each gene column on its own (for per-allele lists); "." when empty."""
        cols = [("GAS_GENE", "gene_name")]
        if self.b.has_gene_ids:
            cols.append(("GAS_GENE_ID", "gene_id"))
        cols += [("GAS_STRAND", "strand"), ("GAS_GENE_TYPE", "gene_type")]
        out = {}
        for field_name, column in cols:
            v = self.b.set_field(column)
            out[field_name] = kernels.if_else(kernels.equal(v, ""), ".", v)
        return out

    def annotate(
        self, block: bytes, lines_before: int, ncols: int
    ) -> tuple[list[memoryview], _BlockTally | None]:
        """The block's lines with GAS INFO added, as buffers to write in order, and its counts."""
        fl = parse_chunk(block, lines_before, ncols)
        if fl.n == 0:
            return [], None
        if fl.delete is not None:
            # CR line ends or blank lines: drop those bytes and annotate the clean block.
            block = fl.arr[~fl.delete].tobytes()
            fl = parse_chunk(block, lines_before, ncols)
        cidx, inv, names = self.contigs.resolve(fl)
        hits: list[np.ndarray] = []  # the gene sets this block's alleles fell in
        key = (np.maximum(cidx, 0) << SHIFT) | fl.pos0
        q = _allele_queries(fl, key)
        qc = cidx[q.rec] if q.first is not None else cidx
        known_contig = qc >= 0
        s, e = q.start, q.end

        gset = self._gene_sets(s, e, hits)
        gset[~known_contig] = 0
        genic = gset != 0
        nq = len(s)
        cls = np.full(nq, INTERGENIC, np.int8)
        cls[~known_contig] = UNKNOWN
        dist = np.zeros(nq, np.int64)
        has_dist = np.zeros(nq, bool)
        gi = np.flatnonzero(genic)
        if len(gi):
            cls[gi] = self._classify(s[gi], e[gi])
            hits.append(gset[gi])
        ni = np.flatnonzero(~genic & known_contig)
        if len(ni):
            self._flanks(ni, s, e, qc, cls, gset, dist, has_dist)
        pa_, pg = self._zone_pairs(s, known_contig)
        rel, d = self._relation(pa_, pg, s, e)  # both the flanks and the pick need it
        if len(ni):
            self._flank_zones(pa_, pg, rel, d, cls, gset, dist, has_dist, genic)
        pick_cls, pick_gene = self._pick(pa_, pg, rel, s, e, known_contig)
        alleles, ref_mismatches = self._alleles(fl, cidx, q, key)
        called = self.consequences.call(alleles, pick_gene, pa_, pg)
        # A record counts once, under the highest-precedence class of its alleles.
        rec_cls = cls if q.first is None else np.minimum.reduceat(cls, q.first)
        by_region = np.bincount(rec_cls, minlength=len(REGIONS))
        extra = self._pick_text(pick_cls, pick_gene, q.first is None)
        worst = pa.array(called.worst)
        extra += [
            ("GAS_CONSEQUENCE", kernels.take(self.term_names, worst), None),
            ("GAS_IMPACT", kernels.take(self.term_impacts, worst), None),
            ("GAS_PICK_CONSEQUENCE", called.pick_terms, None),
            ("GAS_PICK_IMPACT", called.pick_impact, None),
            ("GAS_PICK_HGVSC", called.pick_hgvsc, None),
            ("GAS_PICK_HGVSP", called.pick_hgvsp, None),
            ("", called.csq, None),  # one ready-made ';GAS_CSQ=…' per record
        ]
        source_hits = None
        if self.sources is not None:
            source_parts, source_hits = self.sources.annotate(fl, q, cidx, inv, names)
            extra += source_parts
        pieces = self._assemble(fl, cidx, known_contig, q, cls, gset, dist, has_dist, extra)
        tally = self._count(fl, inv, names, by_region, hits, source_hits)
        tally.by_consequence = np.bincount(called.worst, minlength=len(TERM_NAMES))
        tally.ref_mismatches = ref_mismatches
        return pieces, tally

    def _alleles(self, fl: Fields, cidx: np.ndarray, q: _Queries, key: np.ndarray):
        """The block's alleles as the consequence caller takes them, and how many records'
        REF differ from the reference sequence (0 without one)."""
        arr = fl.arr
        n = len(q.rec)
        rl = q.ref_e - q.ref_s
        al = q.alt_e - q.alt_s
        raw_len = q.raw_e - q.raw_s
        last = np.maximum(q.raw_e - 1, q.raw_s)
        symbolic = (raw_len <= 0) | _SYMBOLIC[arr[q.raw_s]] | _SYMBOLIC[arr[last]]
        kind = np.where(
            symbolic | ((rl == 0) & (al == 0)),  # no change left after trimming: REF as ALT
            OTHER,
            np.where(
                (rl == 1) & (al == 1),
                SNV,
                np.where(rl == 0, INS, np.where(al == 0, DEL, MNV)),
            ),
        )
        ref_start = fl.t[2][q.rec] + 1
        start = np.where(symbolic, q.start, key[q.rec] + (q.ref_s - ref_start))
        end = np.where(symbolic, q.end, start + rl)
        upper = np.frombuffer(bytes(arr.tobytes()).upper(), np.uint8)
        ref = Bases(upper, q.ref_s, q.ref_e)
        alt = Bases(upper, q.alt_s, q.alt_e)
        # VEP's allele name: the first base is dropped when REF and every ALT share it.
        shares = ((arr[ref_start] | 32) == (arr[q.raw_s] | 32)) & ~symbolic
        if q.first is not None:
            shares = np.repeat(np.minimum.reduceat(shares, q.first), np.diff(np.append(q.first, n)))
        vep = Bases(upper, q.raw_s + shares, q.raw_e).arrow(empty="-")
        contig = cidx[q.rec]
        ref_ok = np.ones(n, bool)
        mismatches = 0
        seq = self.consequences.seq
        if seq is not None:
            rec_ok = self._ref_matches(fl, cidx, key, seq, self.consequences.held)
            mismatches = int((~rec_ok).sum())
            ref_ok = rec_ok[q.rec]
        return (
            Alleles(
                start,
                end,
                kind,
                ref,
                alt,
                vep,
                contig,
                ref_ok,
                q.rec,
                np.where(symbolic, 0, rl),
                np.where(symbolic, 0, al),
            ),
            mismatches,
        )

    @staticmethod
    def _ref_matches(
        fl: Fields, cidx: np.ndarray, key: np.ndarray, seq, held: np.ndarray
    ) -> np.ndarray:
        """Per record: its REF agrees with the reference sequence (bases it does not hold,
        and IUPAC codes in REF, count as agreeing), as VEP's --check_ref checks."""
        ok = (cidx >= 0) & held[np.maximum(cidx, 0)]
        lens = np.where(ok, fl.ref_len, 0)
        total = int(lens.sum())
        if total == 0:
            return np.ones(fl.n, bool)
        owner = np.repeat(np.arange(fl.n), lens)
        step = np.arange(total) - np.repeat(np.cumsum(lens) - lens, lens)
        got = seq.bases(key[owner] + step)
        mine = fl.arr[fl.t[2][owner] + 1 + step] & 0xDF  # upper-case
        acgt = np.zeros(256, bool)
        acgt[list(b"ACGT")] = True
        bad = acgt[got] & acgt[mine] & (got != mine)
        return np.bincount(owner[bad], minlength=fl.n) == 0

    def _zone_pairs(self, s: np.ndarray, ok: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(allele, gene) for every gene whose body +/- the flank covers the allele's start."""
        b = self.b
        z = search(b.zone_start, s, side="right") - 1
        zs = np.where((z >= 0) & ok, b.zone_set[np.maximum(z, 0)], 0)
        a, c = self.zone_offsets[zs], self.zone_offsets[zs + 1]
        n = c - a
        allele = np.repeat(np.arange(len(s)), n)
        idx = np.repeat(a, n) + (np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n))
        return allele, self.zone_values[idx].astype(np.int64)

    def _relation(self, pa_, pg, s, e):
        """Per pair: the gene's 5' side (upstream) or 3' side (downstream) and the distance."""
        b = self.b
        gs, ge = b.start_key[pg], b.end_key[pg]
        left = ge <= s[pa_]  # the gene lies before the allele
        right = gs >= e[pa_]
        d = np.where(left, s[pa_] - ge + 1, np.where(right, gs - (e[pa_] - 1), 0))
        minus = b.minus[pg]
        up = (left & minus) | (right & ~minus)
        down = (left & ~minus) | (right & minus)
        near = d <= b.flank_bp
        return np.where(up & near, UPSTREAM, np.where(down & near, DOWNSTREAM, INTERGENIC)), d

    def _flank_zones(self, pa_, pg, rel, d, cls, gset, dist, has_dist, genic) -> None:
        """Upstream of any gene beats downstream of any other, then the nearest one."""
        m = ~genic[pa_] & (rel != INTERGENIC)
        if not m.any():
            return
        pa_, pg, rel, d = pa_[m], pg[m], rel[m], d[m]
        # Upstream before downstream, then the nearest, then the first gene.
        best = _best_per_allele(pa_, (rel.astype(np.int64) << 24) | np.minimum(d, (1 << 24) - 1))
        a = pa_[best]
        cls[a] = rel[best]
        gset[a] = pg[best] + 1  # set i+1 is gene i alone
        dist[a] = d[best]
        has_dist[a] = True

    def _pick(self, pa_, pg, rel, s, e, ok) -> tuple[np.ndarray, np.ndarray]:
        """Per allele the class on the picked transcript and its gene (-1: none)."""
        n = len(s)
        pick_cls = np.where(ok, INTERGENIC, UNKNOWN).astype(np.int8)
        pick_gene = np.full(n, -1, np.int64)
        if not len(pa_):
            return pick_cls, pick_gene
        ss, ee = s[pa_], e[pa_]
        local = np.int64(0xFFFFFFFFFF)  # keys below the gene shift
        off_a, off_b = self.pick_off[pg], self.pick_off[pg + 1]
        has_tx = off_b > off_a
        t_s = np.where(has_tx, self.pick_es_local[np.minimum(off_a, len(self.pick_es) - 1)], 0)
        t_e = np.where(has_tx, self.pick_ee[np.maximum(off_b - 1, 0)], 0)
        inside = has_tx & (t_s < ee) & (ss < t_e)
        j = search(self.pick_end_key, (pg << GENE_SHIFT) | (ss & local), side="right")
        jc = np.minimum(j, max(len(self.pick_es) - 1, 0))
        exonic = inside & (j < off_b) & (self.pick_es_local[jc] < ee)
        lo, hi = self.pick_lo[pg], self.pick_hi[pg]
        coding = lo >= 0
        minus = self.b.minus[pg]
        c = np.full(len(pa_), INTRON, np.int8)
        in_cds = coding & (ss < hi) & (lo < ee)
        before = ss < lo  # genomically before the CDS
        utr = np.where(before != minus, UTR5, UTR3)
        c = np.where(exonic, np.where(in_cds, CDS, np.where(coding, utr, NCEXON)), c)
        # Intronic: splice region within 8 bases of the exons on either side.
        prev_end = self.pick_ee[np.maximum(jc - 1, 0)]
        next_start = self.pick_es_local[jc]
        near = (ss - prev_end < SPLICE_REGION_BP) | (next_start - ee < SPLICE_REGION_BP)
        c = np.where(inside & ~exonic & near, SPLICE, c)
        c = np.where(inside, c, rel).astype(np.int8)
        relevant = c != INTERGENIC
        pa_, pg, c = pa_[relevant], pg[relevant], c[relevant]
        if not len(pa_):
            return pick_cls, pick_gene
        # VEP's --pick order: MANE Select, canonical/coding, most severe class, longest.
        cap = (1 << 25) - 1  # exonic lengths stay far below this
        rank = (
            (~self.pick_mane[pg]).astype(np.int64) << 30
            | (~self.pick_coding[pg]).astype(np.int64) << 29
            | c.astype(np.int64) << 25
            | (cap - np.minimum(self.pick_len[pg], cap))
        )
        best = _best_per_allele(pa_, rank)
        pick_cls[pa_[best]] = c[best]
        pick_gene[pa_[best]] = pg[best]
        return pick_cls, pick_gene

    def _pick_text(self, pick_cls: np.ndarray, pick_gene: np.ndarray, single: bool) -> list:
        """The GAS_PICK_* fields in order: (name, values per allele, shown-when mask), or, with
        one allele per record, ("", ready-made ';NAME=value' rows, the row of each record)."""
        g = np.where(pick_gene >= 0, pick_gene, self.b.genes.num_rows)  # the "." row
        if single:
            return [
                ("", self.pick_region_info, pick_cls.astype(np.int64)),
                ("", self.b.pick_info, g),
            ]
        g = pa.array(g)
        return [
            (
                "GAS_PICK_REGION",
                kernels.take(self.region_names, pa.array(pick_cls.astype(np.int64))),
                None,
            ),
            ("GAS_PICK_GENE", kernels.take(self.b.pick_text["gene"], g), None),
            ("GAS_PICK_TRANSCRIPT", kernels.take(self.b.pick_text["transcript"], g), None),
            ("GAS_PICK_BASIS", kernels.take(self.b.pick_text["basis"], g), None),
        ]

    def _classify(self, s: np.ndarray, e: np.ndarray) -> np.ndarray:
        """Region class of genic spans (CDS/UTR looked up only for exonic ones, when possible)."""
        u = self.b.unions
        c = np.full(len(s), INTRON, np.int8)
        if not self.b.exons_hold_cds_utr:
            for code, name in (
                (SPLICE, "splice"),
                (NCEXON, "exon"),
                (UTR3, "utr3"),
                (UTR5, "utr5"),
                (CDS, "cds"),
            ):
                c[covers(u[name], s, e)] = code
            return c
        exonic = covers(u["exon"], s, e)
        x, o = np.flatnonzero(exonic), np.flatnonzero(~exonic)
        c[o[covers(u["splice"], s[o], e[o])]] = SPLICE
        cx = np.full(len(x), NCEXON, np.int8)
        for code, name in ((UTR3, "utr3"), (UTR5, "utr5"), (CDS, "cds")):
            cx[covers(u[name], s[x], e[x])] = code
        c[x] = cx
        return c

    def _gene_sets(self, s: np.ndarray, e: np.ndarray, hits: list[np.ndarray]) -> np.ndarray:
        """The gene set each span overlaps: every gene it crosses (at most MAX_SPAN_GENES)."""
        b = self.b
        seg = search(b.seg_start, s, side="right") - 1
        gset = np.where(seg >= 0, b.seg_set[np.maximum(seg, 0)], 0)
        long = np.flatnonzero(e - s > 1)
        if len(long):
            seg2 = search(b.seg_start, e[long] - 1, side="right") - 1
            cross = seg2 > seg[long]
            for i, a, z in zip(
                long[cross].tolist(), seg[long][cross].tolist(), seg2[cross].tolist(), strict=True
            ):
                gset[i] = self._union_set(b.seg_set[max(a, 0) : z + 1], hits)
        return gset

    def _union_set(self, set_ids: np.ndarray, hits: list[np.ndarray]) -> int:
        """A gene-set index for the union of several sets (new ones get rendered once)."""
        members = self.b.set_members(set_ids)[:MAX_SPAN_GENES].tolist()
        if len(members) <= 1:
            return members[0] + 1 if members else 0
        key = tuple(members)
        sid = self.extra_sets.get(key)
        if sid is not None:
            return sid
        with self.union_lock:
            return self._add_union_set(key, hits)

    def _add_union_set(self, members: tuple[int, ...], hits: list[np.ndarray]) -> int:
        """Render a new union set (under union_lock); its text is in place before its index
        is returned, so no thread meets an index its arrays lack."""
        sid = self.extra_sets.get(members)
        if sid is not None:
            return sid
        sid = len(self.b.sets) + len(self.extra_sets)
        parts = []
        for name, per_set in self.set_fields.items():
            vals = [per_set[m + 1].as_py() for m in members]
            parts.append(f"{name}={'|'.join(vals)}")
        text = pa.array([(";" + ";".join(parts)).encode()], pa.binary())
        self.set_text = pa.concat_arrays([self.set_text, text])
        for name in list(self.set_fields):
            joined = "|".join(self.set_fields[name][m + 1].as_py() for m in members)
            self.set_fields[name] = pa.concat_arrays(
                [self.set_fields[name], pa.array([joined], self.set_fields[name].type)]
            )
        hits.append(np.array(members) + 1)  # counted as their single-gene sets
        self.extra_sets[members] = sid  # last: other threads look it up without the lock
        return sid

    def _assemble(
        self, fl, cidx, known_contig, q, cls, gset, dist, has_dist, extra
    ) -> list[memoryview]:
        """Write each line's annotation into its INFO column (replacing a lone '.'), all at once.

        The block is cut at every insertion point: head i runs from the previous insertion point
        to line i's (so it holds line i-1's tail, its newline and line i's head). ``join_lines``
        (annotator/_lines.c) writes every head and its annotation in one pass: the text of each
        field is picked by row from the small tables of ready-made text (regions, gene sets,
        picks), not copied into per-line arrays first.
        """
        arr, n = fl.arr, fl.n
        info_s, info_e = fl.t[6] + 1, fl.t[7]
        info_len = info_e - info_s
        dot = (info_len == 1) & (arr[np.minimum(info_s, len(arr) - 1)] == 46)
        need_sep = (info_len > 0) & ~dot
        region_idx = cls.astype(np.int64) if q.first is None else cls[q.first].astype(np.int64)
        region_idx += need_sep * len(REGIONS)
        region_text = self.region_text
        if q.first is None:
            rec_gset, rec_dist, rec_has = gset, dist, has_dist
        else:
            multi = np.flatnonzero(np.diff(np.append(q.first, len(q.rec))) > 1)
            rec_gset, rec_dist = gset[q.first], dist[q.first]
            rec_has = has_dist[q.first].copy()
            rec_gset[multi] = 0
            rec_has[multi] = False
            text = self._per_allele(q, multi, cls, gset, dist, has_dist, need_sep[multi])
            region_text = pa.concat_arrays([region_text, text])
            region_idx[multi] = 2 * len(REGIONS) + np.arange(len(multi))
        parts = [_text_part(region_text, region_idx), _text_part(self.set_text, rec_gset)]
        if rec_has.any():
            parts.append(("int", b";GAS_DISTANCE=", rec_dist.astype(np.int64), rec_has))
        for name, values, shown in extra:
            if name:
                parts.append(_text_part(self._per_record(q, name, values, shown)))
            else:  # ready-made rows, picked per record
                parts.append(_text_part(values, shown))
        ins = np.where(dot, info_s, info_e).astype(np.int64)
        heads_from = np.empty(n, np.int64)
        heads_from[0] = 0
        heads_from[1:] = ins[:-1] + dot[:-1]
        lines = join_lines(arr, heads_from, ins, parts)
        return [memoryview(lines), memoryview(arr)[int(ins[-1] + dot[-1]) :]]

    @cached_property
    def pick_region_info(self) -> pa.Array:
        return pa.array([f";GAS_PICK_REGION={r}" for r in REGIONS], pa.string())

    def _per_record(self, q, name: str, values: pa.Array, shown) -> pa.Array:
        """';NAME=v1,v2' per record from one value per allele; null where no allele is shown."""
        if q.first is None:
            text = kernels.binary_join_element_wise(f";{name}=", values, "")
            rec_shown = shown
        else:
            counts = np.diff(np.append(q.first, len(q.rec)))
            offsets = pa.array(np.concatenate([[0], np.cumsum(counts)]).astype(np.int32))
            joined = kernels.binary_join(pa.ListArray.from_arrays(offsets, values), ",")
            text = kernels.binary_join_element_wise(f";{name}=", joined, "")
            rec_shown = None if shown is None else np.add.reduceat(shown, q.first) > 0
        if rec_shown is not None:
            text = kernels.if_else(pa.array(rec_shown), text, pa.scalar(None, pa.string()))
        return kernels.cast(text, pa.binary())

    def _per_allele(self, q, multi, cls, gset, dist, has_dist, need_sep) -> pa.Array:
        """INFO text for multi-allelic records: every field lists one value per ALT, by ','."""
        counts = np.diff(np.append(q.first, len(q.rec)))[multi]
        qi = np.repeat(q.first[multi], counts) + (
            np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
        )
        offsets = pa.array(np.concatenate([[0], np.cumsum(counts)]).astype(np.int32))

        def listed(values: pa.Array) -> pa.Array:
            return kernels.binary_join(pa.ListArray.from_arrays(offsets, values), ",")

        names = pa.array(list(REGIONS), pa.string())
        fields = [
            kernels.binary_join_element_wise(
                "GAS_REGION=", listed(kernels.take(names, cls[qi])), ""
            )
        ]
        g = gset[qi]
        any_gene = np.add.reduceat(g != 0, np.concatenate([[0], np.cumsum(counts)[:-1]])) > 0
        for field_name, per_set in self.set_fields.items():
            text = kernels.binary_join_element_wise(
                f"{field_name}=", listed(kernels.take(per_set, g)), ""
            )
            fields.append(kernels.if_else(pa.array(any_gene), text, pa.scalar(None, pa.string())))
        h = has_dist[qi]
        any_dist = np.add.reduceat(h, np.concatenate([[0], np.cumsum(counts)[:-1]])) > 0
        d = kernels.fill_null(kernels.cast(pa.array(dist[qi], mask=~h), pa.string()), ".")
        text = kernels.binary_join_element_wise("GAS_DISTANCE=", listed(d), "")
        fields.append(kernels.if_else(pa.array(any_dist), text, pa.scalar(None, pa.string())))
        joined = kernels.binary_join_element_wise(*fields, ";", null_handling="skip")
        sep = kernels.if_else(pa.array(need_sep), ";", "")
        return kernels.cast(kernels.binary_join_element_wise(sep, joined, ""), pa.binary())

    def _flanks(self, ni, key, end, cidx, cls, gset, dist, has_dist) -> None:
        """Upstream/downstream of the flanking genes within the flank distance, else intergenic."""
        b = self.b
        s, last, c = key[ni], end[ni] - 1, cidx[ni]
        j = search(b.end_sorted, s, side="right") - 1
        jl = np.maximum(j, 0)
        left_ok = (j >= 0) & ((b.end_sorted[jl] >> SHIFT) == c)
        left_gene = b.end_order[jl]
        dl = np.where(left_ok, s - b.end_sorted[jl] + 1, np.iinfo(np.int64).max)
        k = search(b.start_key, last, side="right")
        kr = np.minimum(k, len(b.start_key) - 1)
        right_ok = (k < len(b.start_key)) & ((b.start_key[kr] >> SHIFT) == c)
        right_gene = kr
        dr = np.where(right_ok, b.start_key[kr] - last, np.iinfo(np.int64).max)
        flank = b.flank_bp
        big = np.iinfo(np.int64).max
        # A gene's 5' side is its start on + and its end on −.
        up_l = np.where(left_ok & b.minus[left_gene] & (dl <= flank), dl, big)
        up_r = np.where(right_ok & ~b.minus[right_gene] & (dr <= flank), dr, big)
        dn_l = np.where(left_ok & ~b.minus[left_gene] & (dl <= flank), dl, big)
        dn_r = np.where(right_ok & b.minus[right_gene] & (dr <= flank), dr, big)
        up = np.minimum(up_l, up_r) < big
        down = ~up & (np.minimum(dn_l, dn_r) < big)
        near_left = dl <= dr
        out_cls = np.full(len(ni), INTERGENIC, np.int8)
        out_gene = np.where(near_left, left_gene, right_gene)
        out_d = np.minimum(dl, dr)
        out_cls[down] = DOWNSTREAM
        use_l = down & (dn_l <= dn_r)
        out_gene = np.where(down, np.where(use_l, left_gene, right_gene), out_gene)
        out_d = np.where(down, np.minimum(dn_l, dn_r), out_d)
        out_cls[up] = UPSTREAM
        use_l = up & (up_l <= up_r)
        out_gene = np.where(up, np.where(use_l, left_gene, right_gene), out_gene)
        out_d = np.where(up, np.minimum(up_l, up_r), out_d)
        any_gene = left_ok | right_ok
        cls[ni] = out_cls
        gset[ni] = np.where(any_gene, out_gene + 1, 0)  # set i+1 is gene i alone
        dist[ni] = np.where(any_gene, out_d, 0)
        has_dist[ni] = any_gene

    def _count(
        self, fl: Fields, inv: np.ndarray, names: list[str], by_region, hits, source_hits
    ) -> _BlockTally:
        counts = np.bincount(inv, minlength=len(names))
        by_chrom: dict[str, int] = {}
        for name, n in zip(names, counts.tolist(), strict=False):
            by_chrom[name] = by_chrom.get(name, 0) + n
        change = np.flatnonzero(inv[1:] != inv[:-1]) + 1
        run_starts = np.concatenate([[0], change])
        same = inv[1:] == inv[:-1]
        # Repeats are kept: the tally only marks them, and a unique costs more than it saves.
        hit = np.concatenate(hits) if hits else np.array([], np.int64)
        return _BlockTally(
            variants=fl.n,
            alleles=int(fl.n_alt.sum()),
            by_region=by_region,
            by_chrom=by_chrom,
            source_hits=source_hits,
            hit_sets=hit[hit < len(self.b.sets)],
            out_of_order=int((same & (fl.pos0[1:] < fl.pos0[:-1])).sum()),
            runs=[(names[inv[r]], int(fl.pos0[r])) for r in run_starts.tolist()],
            last=(names[inv[-1]], int(fl.pos0[-1])),
        )


def _output_header(
    header: Header,
    build: str,
    build_source: str,
    evidence: str,
    bundle: Bundle,
    sources: SourceSet | None = None,
) -> bytes:
    lines = [ln for ln in header.lines if not ln.startswith(("##INFO=<ID=GAS_", "##GAS_"))]
    src = bundle.manifest.get("source", {})
    lines += INFO_LINES
    if sources is not None:
        lines += sources.header_lines()  # each field's INFO line, then ##GAS_source=<…>
    lines.append(
        f"##GAS_annotation=<engine={ENGINE_VERSION},build={build},build_source={build_source},"
        f'bundle="{";".join(src.get("packages", [])) or src.get("file", "")}">'
    )
    if build_source == "default":
        lines.append(
            '##GAS_note="The header names no genome build; annotated with the configured default '
            f'{build}"'
        )
    elif evidence:
        lines.append(f'##GAS_build_evidence="{evidence.replace(chr(34), chr(39))}"')
    lines.append("#" + "\t".join(header.columns))
    return ("\n".join(lines) + "\n").encode("utf-8")


def choose_build(requested: str, default_build: str, header: Header) -> tuple[str, str, str]:
    """(build, build_source, evidence) for this file, refusing a build the header contradicts."""
    if requested not in builds.REQUESTABLE:
        raise AnnotationInputError(
            f"Unknown genome build {requested!r}; choose {', '.join(builds.NAMES)} or auto."
        )
    ev = detect_build(header)
    if ev.build == "NCBI36":
        raise BuildMismatch(
            f"The file is from the NCBI36/hg18 build ({ev.evidence}); GAS annotates "
            f"{' and '.join(builds.NAMES)} only. "
            "Lift it over first."
        )
    if requested != "auto":
        if ev.build and ev.build != requested:
            raise BuildMismatch(
                f"The file's header says {ev.build} ({ev.evidence}) but {requested} was requested; "
                f"annotate it as {ev.build} (or 'auto') instead."
            )
        return requested, "requested", ev.evidence
    if ev.build:
        return ev.build, "header", ev.evidence
    return default_build, "default", ""


def _sources_for(
    paths: Sequence[Path], build: str, bundle: Bundle, sequence
) -> tuple[SourceSet | None, list[str]]:
    """The built sources of ``build`` among ``paths`` (imported only when there are any), and a
    note for each one of another build."""
    if not paths:
        return None, []
    from annotator.annotation_sources import SourceSet, compatible, load_sources  # noqa: PLC0415

    every = load_sources([Path(p) for p in paths])
    used, skipped = compatible([s for s in every if s.build == build])
    skipped += [
        f"Source {s.name} is on {s.build}, not {build}: it was not used."
        for s in every
        if s.build != build
    ]
    return (SourceSet(used, bundle.contigs, sequence) if used else None), skipped


def _remove(*paths: Path) -> None:
    for p in paths:
        with contextlib.suppress(FileNotFoundError):
            p.unlink()


@contextlib.contextmanager
def _output(sink: TextSink | None, tmp_vcf: Path | None, gz: bool) -> Iterator[TextSink]:
    """The caller's sink, or the output path's temporary file (gzip if ``gz``)."""
    if sink is not None:
        yield sink
        return
    assert tmp_vcf is not None
    with _open_output(tmp_vcf, gz) as out:
        yield out


def _open_output(path: Path, gz: bool) -> BinaryIO:
    if gz:
        return gzip.open(path, "wb", compresslevel=1)  # type: ignore[return-value]
    return open(path, "wb", buffering=1 << 20)


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt parameters (glibc malloc.h)
_malloc_tuned = False


def _reuse_freed_memory() -> None:
    """Have glibc keep freed blocks for reuse instead of unmapping them (once per process).

    A block's ~30 numpy arrays of 25,000 values are each above malloc's mmap threshold, so every
    one was mapped fresh and page-faulted in, then unmapped: ~20,000 faults per million records
    (0.1-0.2 s of system time). Kept, the same few MiB are reused from block to block; the peak
    is unchanged, as it is set by one block's arrays.
    """
    global _malloc_tuned
    if _malloc_tuned:
        return
    _malloc_tuned = True
    import ctypes  # numpy has imported it already

    with contextlib.suppress(OSError, AttributeError):  # not glibc: leave malloc as it is
        libc = ctypes.CDLL(None)
        libc.mallopt(_M_MMAP_THRESHOLD, 64 << 20)
        libc.mallopt(_M_TRIM_THRESHOLD, 256 << 20)


def cpu_count() -> int:
    """The cores this process may run on (its affinity mask, not the machine's total)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


# Inputs above this size go to every core by default (`default_threads`): from two 1 MiB blocks
# on, threads cost next to nothing (measured: 4 MiB, 100,000 records, 0.35 s on 2 threads against
# 0.41 s on one, the same CPU seconds). Below it there is one block, so nothing to share out.
# (The fork version needed 16 MiB to pay for its pool.) See docs/benchmarks.md.
PARALLEL_INPUT_BYTES = 2 << 20


def default_threads(input_path: Path) -> int:
    """Threads to annotate this input with: every core if it is over PARALLEL_INPUT_BYTES,
    else one (the choice `gas annotate` and the annotate activity make)."""
    if Path(input_path).stat().st_size > PARALLEL_INPUT_BYTES:
        return cpu_count()
    return 1


def _annotated_blocks(
    ann: _Annotator,
    blocks: Iterator[tuple[bytes | tuple[int, int], int]],
    ncols: int,
    threads: int,
    input_fd: int | None = None,
) -> Iterator[tuple[list, _BlockTally | None]]:
    """Each block's output pieces (for the caller to write) and counts, in input order.

    Blocks come as bytes, or (with ``input_fd``, a plain input file) as spans of the file that
    the annotating thread reads itself. With threads > 1, up to IN_FLIGHT_PER_THREAD blocks per
    thread are annotated at once while the caller writes the finished ones: numpy and Arrow
    release the GIL inside their loops, where a block spends most of its time, and the threads
    share the one loaded bundle (no copy, no fork, no warm-up per process).
    """

    def annotate(block: bytes | tuple[int, int], lines_before: int):
        if isinstance(block, tuple):
            assert input_fd is not None
            block = read_block(input_fd, block)
        return ann.annotate(block, lines_before, ncols)

    if threads <= 1:
        for block, before in blocks:
            yield annotate(block, before)
        return
    # Imported here: one thread needs none of it.
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    in_flight = IN_FLIGHT_PER_THREAD * threads
    pending: deque[Future] = deque()
    with ThreadPoolExecutor(threads, thread_name_prefix="gas-annotate") as pool:
        try:
            for block, before in blocks:
                pending.append(pool.submit(annotate, block, before))
                # A bounded number of blocks in flight keeps memory flat however large the input.
                if len(pending) == in_flight:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for task in pending:  # on an error: the rest is not needed
                task.cancel()


class TextSink(Protocol):
    """Where the annotated VCF's text can go instead of a file (outputs.OutputWriter)."""

    def write(self, data: bytes | memoryview, /) -> object: ...


def annotate_file(
    input_path: Path,
    output_vcf: Path | TextSink,
    log_path: Path,
    summary_path: Path,
    *,
    build: str = "auto",
    reference_dir: Path,
    default_build: str = builds.DEFAULT,
    sources: Sequence[Path] = (),
    progress: Callable[[int], None] | None = None,
    threads: int | None = 1,
    transcripts: str = "per_gene",
) -> AnnotationResult:
    """Annotate ``input_path`` into ``output_vcf`` and write its count log and JSON summary.

    ``output_vcf`` is a path, or a sink whose ``write`` takes the annotated text in order (the
    caller owns it, and discards what it got if this raises).

    Raises AnnotationInputError (the file is at fault) or ReferenceUnavailable (this worker
    lacks the bundle); on any error no output file is left behind. ``threads`` > 1 annotates
    blocks of records in that many threads (None: one per core), with the same output.
    ``transcripts`` says which transcripts get a GAS_CSQ block (consequences.TRANSCRIPT_SETS).
    ``sources`` are built annotation sources (``annotator.annotation_sources``); those of the
    file's build annotate it, the others are named in a note.
    """
    t0 = time.monotonic()
    _reuse_freed_memory()
    input_path = Path(input_path)
    sink = None if isinstance(output_vcf, (str, os.PathLike)) else output_vcf
    log_path, summary_path = Path(log_path), Path(summary_path)
    tag = f".partial-{os.getpid()}"
    tmp_log = log_path.with_name(log_path.name + tag)
    tmp_sum = summary_path.with_name(summary_path.name + tag)
    finals = [(tmp_log, log_path), (tmp_sum, summary_path)]
    tmp_vcf = None
    if sink is None:
        output_vcf = Path(output_vcf)  # type: ignore[arg-type]
        tmp_vcf = output_vcf.with_name(output_vcf.name + tag)
        finals.insert(0, (tmp_vcf, output_vcf))
    if not input_path.exists():
        raise AnnotationInputError(f"The input file {input_path.name} does not exist.")
    placed: list[Path] = []
    for _, p in finals:
        p.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open_input(input_path) as f:
            header, first = read_header(f)
            chosen, source, evidence = choose_build(build, default_build, header)
            bundle = load_bundle(Path(reference_dir), chosen)
            sequence = load_sequence(bundle)
            used, skipped = _sources_for(sources, chosen, bundle, sequence)
            ann = _Annotator(bundle, used, sequence, transcripts)
            tally = _Tally(len(bundle.sets))
            n_threads = cpu_count() if threads is None else threads
            input_fd = None
            blocks: Iterator[tuple[bytes | tuple[int, int], int]]
            if n_threads > 1 and not isinstance(f, gzip.GzipFile):
                # Plain input: the annotating threads read their blocks; this one finds the cuts.
                input_fd = f.fileno()
                blocks = read_spans(f, first, header.line_count)
            else:
                blocks = read_chunks(f, first, header.line_count)
            # Decided on the final name: the temporary's ends in .partial-<pid>, not .gz.
            gz = sink is None and finals[0][1].name.endswith(".gz")
            with _output(sink, tmp_vcf, gz) as out:
                out.write(_output_header(header, chosen, source, evidence, bundle, used))
                ncols = len(header.columns)
                annotated = _annotated_blocks(ann, blocks, ncols, n_threads, input_fd)
                for pieces, counts in annotated:
                    for piece in pieces:
                        out.write(piece)
                    if counts is not None:
                        tally.add(counts)
                    if progress is not None:
                        progress(tally.variants)
        seconds = time.monotonic() - t0
        result = _result(
            tally, bundle, chosen, source, seconds, evidence, used, skipped, sequence is not None
        )
        tmp_log.write_text(_count_log(result, input_path, bundle, evidence))
        summary = {
            **asdict(result),
            "input": input_path.name,
            "build_evidence": evidence,
            "bundle": bundle.manifest.get("source", {}),
            "engine_version": ENGINE_VERSION,
        }
        tmp_sum.write_text(json.dumps(summary, indent=2) + "\n")
        for tmp, final in finals:
            os.replace(tmp, final)
            placed.append(final)
        return result
    except BaseException:
        # Only what this run wrote goes: temporaries, and any result it had already put in place.
        _remove(*(tmp for tmp, _ in finals), *placed)
        raise


def _result(
    ann: _Tally,
    bundle: Bundle,
    build: str,
    source: str,
    seconds: float,
    evidence: str,
    sources: SourceSet | None,
    skipped: list[str],
    has_sequence: bool = False,
) -> AnnotationResult:
    notes = []
    if not has_sequence:
        notes.append(
            f"The {build} bundle has no reference sequence: consequences that need codons are "
            "given as coding_sequence_variant, and no HGVSp or indel HGVSc is written."
        )
    if ann.ref_mismatches:
        notes.append(
            f"{ann.ref_mismatches} record(s) have a REF that differs from the {build} reference "
            "sequence; their alleles got no sequence-based consequence."
        )
    if source == "default":
        notes.append(f"The header names no genome build; the configured default {build} was used.")
    elif evidence:
        notes.append(f"Genome build {build} taken from the header ({evidence}).")
    unknown = int(ann.by_region[UNKNOWN])
    if unknown:
        notes.append(
            f"{unknown} record(s) are on contigs the {build} bundle does not have; "
            "they are kept and marked GAS_REGION=unknown_contig."
        )
    if ann.variants == 0:
        notes.append("The file has a header but no variant records; the output is its header.")
    if ann.out_of_order:
        notes.append("The records are not sorted by position; they were annotated in file order.")
    used: list[dict] = []
    known_ids = 0
    if sources is not None:
        hits = ann.source_hits if ann.source_hits is not None else np.zeros(len(sources.sources))
        for s, n in zip(sources.sources, hits.tolist(), strict=True):
            used.append({**s.describe(), "matched_alleles": int(n)})
            notes.append(
                f"Source {s.name} v{s.manifest.get('version')} ({s.manifest['source']['file']}, "
                f"{s.build}): {int(n)} allele(s) matched."
            )
            if s.name == "known":
                known_ids = int(n)
    notes += skipped
    return AnnotationResult(
        variants=ann.variants,
        alleles=ann.alleles,
        build=build,
        build_source=source,
        seconds=round(seconds, 3),
        by_region={r: int(n) for r, n in zip(REGIONS, ann.by_region.tolist(), strict=False)},
        by_consequence={
            t: int(n) for t, n in zip(TERM_NAMES, ann.by_consequence.tolist(), strict=True) if n
        },
        reference_sequence=has_sequence,
        ref_mismatches=ann.ref_mismatches,
        by_chromosome=dict(sorted(ann.by_chrom.items(), key=lambda kv: _chrom_order(kv[0]))),
        genes_hit=ann.genes_hit(bundle),
        known_ids=known_ids,
        sources=used,
        unknown_contig_records=unknown,
        sorted_input=ann.out_of_order == 0,
        notes=notes,
    )


def _chrom_order(name: str) -> tuple[int, int | str]:
    if name.isdigit():
        return (0, int(name))
    return (1, {"X": 0, "Y": 1, "MT": 2}.get(name, 3)) if name in ("X", "Y", "MT") else (2, name)


def _count_log(r: AnnotationResult, input_path: Path, bundle: Bundle, evidence: str) -> str:
    src = bundle.manifest.get("source", {})
    lines = [
        f"GAS annotation count log (engine {ENGINE_VERSION})",
        f"Input file: {input_path.name}",
        f"Genome build: {r.build} ({r.build_source}{': ' + evidence if evidence else ''})",
        f"Reference bundle: {src.get('description') or src.get('file', '')}",
        f"Total number of variants (records): {r.variants}",
        f"Total number of ALT alleles: {r.alleles}",
        f"Genes hit: {r.genes_hit}",
        "",
        "Count by region class:",
        *(f"  {k}\t{v}" for k, v in r.by_region.items()),
        "",
        "Count by chromosome:",
        *(f"  {k}\t{v}" for k, v in r.by_chromosome.items()),
        "",
        *(f"Note: {n}" for n in r.notes),
        f"Annotation time: {r.seconds:.2f} s",
    ]
    return "\n".join(lines) + "\n"


__all__ = [
    "AnnotationResult",
    "PARALLEL_INPUT_BYTES",
    "annotate_file",
    "default_threads",
    "choose_build",
    "REGIONS",
    "ReferenceUnavailable",
]
