"""The reference bundle: a gene model as sorted columnar arrays that load in a fraction of a second.

Coordinates inside a bundle are 0-based, half-open ``[start, end)``, keyed per contig as
``contig_index << 32 | position`` so one sorted array covers the whole genome and a single
``numpy.searchsorted`` answers a query on any contig. GTF/GFF (1-based, closed) and VCF (1-based)
are converted at the edges.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa

from annotator import kernels
from annotator.exceptions import ReferenceBuildError, ReferenceUnavailable
from gas import builds

BUNDLE_FORMAT = "gas-reference-bundle"
# 2: per-transcript UTR sides and introns, flank zones, picks; 3: every transcript (consequences);
# 4: each gene's pick transcript among them (tx_pick.npy), which early version-3 bundles lack
BUNDLE_FORMAT_VERSION = 4
BUILDS = builds.NAMES  # declared in gas.builds
SPLICE_REGION_BP = 8  # intronic bases next to an exon that count as splice region
FLANK_BP = 5000  # how far up/downstream of a gene a variant is still "upstream"/"downstream"
FEATURE_CLASSES = ("cds", "utr5", "utr3", "exon", "splice")
SHIFT = np.int64(32)
GENE_SHIFT = np.int64(42)  # pick exons are keyed gene << 42 | key (keys stay below 2**42)
PICK_BASES = ("MANE_Select", "Ensembl_canonical", "longest_coding", "longest", "gene")
RENDERED_DIR = "rendered_text"  # INFO text rendered from the gene columns, read at start-up
# Bump when that text changes, so an older rendering is not used (2: feature IDs; 3: CSQ text).
TEXT_VERSION = "3"
SEQUENCE_DIR = "sequence"  # the reference sequence added to a bundle (annotator/sequence.py)


def canonical_contig(name: str) -> str:
    """``chr1`` → ``1``, ``chrM``/``M`` → ``MT``: the one naming a bundle stores."""
    if name[:3].lower() == "chr":
        name = name[3:]
    if name in ("M", "m", "mt", "Mt"):
        return "MT"
    return name


def _contig_sort_key(name: str) -> tuple[int, int | str]:
    if name.isdigit():
        return (0, int(name))
    order = {"X": 1, "Y": 2, "MT": 3}
    return (1, order[name]) if name in order else (2, name)


@dataclass
class Features:
    """Intervals of one kind, 0-based half-open, canonical contig names."""

    contig: np.ndarray  # str objects
    start: np.ndarray  # int64
    end: np.ndarray  # int64

    @classmethod
    def empty(cls) -> Features:
        return cls(np.array([], dtype=object), np.array([], np.int64), np.array([], np.int64))

    @classmethod
    def concat(cls, parts: list[Features]) -> Features:
        return cls(
            np.concatenate([p.contig for p in parts]).astype(object),
            np.concatenate([p.start for p in parts]).astype(np.int64),
            np.concatenate([p.end for p in parts]).astype(np.int64),
        )


@dataclass
class GeneModel:
    """What a source (GTF, packaged tables) yields before it becomes a bundle."""

    genes_contig: np.ndarray
    genes_start: np.ndarray
    genes_end: np.ndarray
    genes_strand: np.ndarray  # "+" / "-"
    gene_id: np.ndarray
    gene_name: np.ndarray
    gene_type: np.ndarray
    features: dict[str, Features] = field(default_factory=dict)  # cds, utr5, utr3, exon
    transcripts: Transcripts | None = None  # None: the source has no transcript structure


@dataclass
class Transcripts:
    """Per-transcript structure: exons (ascending within a transcript) and the coding span."""

    gene: np.ndarray  # int64 row of its gene in the GeneModel's gene arrays
    tx_id: np.ndarray  # str objects; "" where the source names none
    exon_offset: np.ndarray  # int64 (n + 1): exons of transcript i are [offset[i], offset[i+1])
    exon_start: np.ndarray  # int64, 0-based half-open
    exon_end: np.ndarray
    cds_lo: np.ndarray  # int64 coding span [cds_lo, cds_hi), stop codon included; -1 if none
    cds_hi: np.ndarray
    mane: np.ndarray  # bool: MANE Select
    canonical: np.ndarray  # bool: the source's canonical tag (Ensembl_canonical)
    unresolved_genes: int = 0  # genes whose CDS rows could not be tied to a transcript
    biotype: np.ndarray | None = None  # str objects ("" unknown); None: the source has none
    cds_start_nf: np.ndarray | None = None  # bool: the CDS start is not found (GTF tag)
    cds_end_nf: np.ndarray | None = None  # bool: the CDS end is not found (GTF tag)
    # bool: coding, but its CDS could not be tied to it (a rebuilt gene whose rows did not tile)
    cds_unknown: np.ndarray | None = None


@dataclass
class TranscriptTable:
    """A bundle's transcripts as read: grouped by gene row, keys as everywhere in a bundle."""

    # gene, transcript_id, biotype, mane, canonical, cds_start_nf, cds_end_nf, cds_unknown
    table: pa.Table
    span: np.ndarray  # (2, n) [start, end) keys of the outer exon ends
    cds: np.ndarray  # (2, n) coding span keys, stop codon included; -1 for non-coding
    exon_offset: np.ndarray  # (n + 1) exons of transcript i are [offset[i], offset[i + 1])
    exons: np.ndarray  # (2, m) exon [start, end) keys, ascending within a transcript
    gene_offset: np.ndarray  # (genes + 1) transcripts of gene g are [offset[g], offset[g + 1])
    pick: np.ndarray  # (genes) the row of each gene's pick transcript (GAS_PICK_*); -1: none


def _merge(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Union of key intervals as a (2, n) array of sorted, disjoint [start, end)."""
    if len(starts) == 0:
        return np.zeros((2, 0), np.int64)
    order = np.lexsort((ends, starts))
    s, e = starts[order], ends[order]
    reach = np.maximum.accumulate(e)
    new = np.ones(len(s), bool)
    new[1:] = s[1:] > reach[:-1]
    group = np.cumsum(new) - 1
    out_e = np.full(group[-1] + 1, 0, np.int64)
    np.maximum.at(out_e, group, e)
    return np.vstack([s[new], out_e])


def search(
    sorted_keys: np.ndarray, keys: np.ndarray, side: Literal["left", "right"] = "left"
) -> np.ndarray:
    """``np.searchsorted(sorted_keys, keys, side)``, searching only the stretch between the
    smallest and the largest key: a block's keys cover a small part of the genome, and that
    stretch of a bundle array stays in cache (~25% faster than the whole array)."""
    if len(keys) < 2:
        return np.searchsorted(sorted_keys, keys, side=side)
    lo = int(np.searchsorted(sorted_keys, keys.min(), side="left"))
    hi = int(np.searchsorted(sorted_keys, keys.max(), side="right"))
    found = np.searchsorted(sorted_keys[lo:hi], keys, side=side)
    found += lo
    return found


def covers(union: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """For each key span [start, end), whether it overlaps the merged union."""
    ends = union[1]
    i = search(ends, start, side="right")
    ok = i < len(ends)
    res = np.zeros(len(start), bool)
    res[ok] = union[0][i[ok]] < end[ok]
    return res


def build_bundle(model: GeneModel, out_dir: Path, build: str, source: dict) -> Path:
    """Turn a gene model into a bundle directory (written atomically) and return its path."""
    if len(model.genes_start) == 0:
        raise ReferenceBuildError(
            "the gene model has no genes; is this a GTF/GFF3 gene annotation?"
        )
    t0 = time.monotonic()
    all_contigs = set(model.genes_contig.tolist())
    for feats in model.features.values():
        all_contigs.update(feats.contig.tolist())
    contigs = sorted(all_contigs, key=_contig_sort_key)
    cindex = {c: i for i, c in enumerate(contigs)}

    def keys(contig: np.ndarray, pos: np.ndarray) -> np.ndarray:
        ci = np.fromiter((cindex[c] for c in contig), np.int64, len(contig))
        return (ci << SHIFT) | np.clip(pos, 0, (1 << 32) - 1)

    # Genes sorted by start; ties by end so the file is deterministic.
    gs = keys(model.genes_contig, model.genes_start)
    ge = keys(model.genes_contig, model.genes_end)
    order = np.lexsort((ge, gs))
    gs, ge = gs[order], ge[order]
    genes = pa.table(
        {
            "contig": pa.array(model.genes_contig[order].tolist(), pa.string()),
            "start": pa.array(model.genes_start[order], pa.int64()),
            "end": pa.array(model.genes_end[order], pa.int64()),
            "strand": pa.array(model.genes_strand[order].tolist(), pa.string()),
            "gene_id": pa.array(model.gene_id[order].tolist(), pa.string()),
            "gene_name": pa.array(model.gene_name[order].tolist(), pa.string()),
            "gene_type": pa.array(model.gene_type[order].tolist(), pa.string()),
            "start_key": pa.array(gs, pa.int64()),
            "end_key": pa.array(ge, pa.int64()),
        }
    )
    gene_union = _merge(gs, ge)

    unions: dict[str, Any] = {}  # (start keys, end keys) of each set, then each set merged
    for name in ("cds", "utr5", "utr3", "exon"):
        f = model.features.get(name) or Features.empty()
        unions[name] = (keys(f.contig, f.start), keys(f.contig, f.end))
    tx = model.transcripts
    if tx is not None:
        # Per transcript: UTR sides against its own CDS, splice region at its own introns.
        tx = _with_gene_rows(tx, order)
        tcontig = model.genes_contig[order][np.maximum(tx.gene, 0)]
        n_ex = np.diff(tx.exon_offset)
        owner = np.repeat(np.arange(len(tx.gene)), n_ex)
        ec = np.repeat(tcontig, n_ex)
        es, ee = keys(ec, tx.exon_start), keys(ec, tx.exon_end)
        stop = model.features.get("stop") or Features.empty()
        lo, hi = _with_stop(
            tx, tcontig, keys, _merge(keys(stop.contig, stop.start), keys(stop.contig, stop.end))
        )
        minus = model.genes_strand[order][np.maximum(tx.gene, 0)] == "-"
        coding = lo[owner] >= 0
        lo_e, hi_e, minus_e = lo[owner], hi[owner], minus[owner]
        left = coding & (es < lo_e)
        right = coding & (ee > hi_e)
        ls, le = es[left], np.minimum(ee, lo_e)[left]
        rs, re_ = np.maximum(es, hi_e)[right], ee[right]
        five = (
            np.concatenate([ls[~minus_e[left]], rs[minus_e[right]]]),
            np.concatenate([le[~minus_e[left]], re_[minus_e[right]]]),
        )
        three = (
            np.concatenate([ls[minus_e[left]], rs[~minus_e[right]]]),
            np.concatenate([le[minus_e[left]], re_[~minus_e[right]]]),
        )
        unions["utr5"] = tuple(
            np.concatenate([a, b]) for a, b in zip(unions["utr5"], five, strict=True)
        )
        unions["utr3"] = tuple(
            np.concatenate([a, b]) for a, b in zip(unions["utr3"], three, strict=True)
        )
        internal = np.ones(len(es), bool)
        internal[tx.exon_offset[1:][n_ex > 0] - 1] = False  # last exon of each transcript
        i_s, i_e = ee[internal], np.roll(es, -1)[internal]  # the intron after each exon
        ok = i_e > i_s
        i_s, i_e = i_s[ok], i_e[ok]
        fs = np.concatenate([i_s, np.maximum(i_e - SPLICE_REGION_BP, i_s)])
        fe = np.concatenate([np.minimum(i_s + SPLICE_REGION_BP, i_e), i_e])
        unions["splice"] = (fs, fe)
        picks = _picks(tx, lo, hi, es, ee, len(gs))
        every_tx = _every_transcript(tx, lo, hi, es, ee, genes, picks.pop("tx"))
    else:
        # No transcript structure: the intronic bases beside each distinct exon, inside a gene.
        ex = model.features.get("exon") or Features.empty()
        es, ee = keys(ex.contig, ex.start), keys(ex.contig, ex.end)
        pair = np.unique(np.vstack([es, ee]), axis=1) if len(es) else np.zeros((2, 0), np.int64)
        fs = np.concatenate([pair[0] - SPLICE_REGION_BP, pair[1]])
        fe = np.concatenate([pair[0], pair[1] + SPLICE_REGION_BP])
        inside = covers(gene_union, fs, fs + 1) & covers(gene_union, fe - 1, fe)
        unions["splice"] = (fs[inside], fe[inside])
        picks = _gene_picks(gs, ge)
        every_tx = _gene_transcripts(gs, ge, genes)
    unions = {k: _merge(*v) for k, v in unions.items()}

    # Flank zones: the genome cut wherever a gene's body +/- flank starts or ends.
    base = (gs >> SHIFT) << SHIFT
    zone_start, zone_set, zone_sets = _segment_genes(np.maximum(gs - FLANK_BP, base), ge + FLANK_BP)
    seg_start, seg_set, sets = _segment_genes(gs, ge)

    import pyarrow.feather as feather  # only when building

    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        feather.write_feather(genes, tmp / "genes.arrow", compression="uncompressed")
        for name, arr in unions.items():
            np.save(tmp / f"{name}.npy", arr)
        np.save(tmp / "gene_segment_start.npy", seg_start)
        np.save(tmp / "gene_segment_set.npy", seg_set)
        set_table = pa.table({"genes": pa.array(sets, pa.list_(pa.int32()))})
        feather.write_feather(set_table, tmp / "gene_sets.arrow", compression="uncompressed")
        np.save(tmp / "zone_segment_start.npy", zone_start)
        np.save(tmp / "zone_segment_set.npy", zone_set)
        zone_table = pa.table({"genes": pa.array(zone_sets, pa.list_(pa.int32()))})
        feather.write_feather(zone_table, tmp / "zone_sets.arrow", compression="uncompressed")
        feather.write_feather(picks.pop("table"), tmp / "picks.arrow", compression="uncompressed")
        for name, arr in picks.items():
            np.save(tmp / f"pick_{name}.npy", arr)
        feather.write_feather(
            every_tx.pop("table"), tmp / "transcripts.arrow", compression="uncompressed"
        )
        for name, arr in every_tx.items():
            np.save(tmp / f"tx_{name}.npy", arr)
        manifest = {
            "format": BUNDLE_FORMAT,
            "format_version": BUNDLE_FORMAT_VERSION,
            "build": build,
            "coordinates": "0-based half-open; key = contig_index << 32 | position",
            "contigs": contigs,
            "splice_region_bp": SPLICE_REGION_BP,
            "flank_bp": FLANK_BP,
            "source": source,
            "transcripts": tx is not None,
            "counts": {
                "transcripts": 0 if tx is None else int(len(tx.gene)),
                "unresolved_genes": 0 if tx is None else int(tx.unresolved_genes),
                "genes": int(len(gs)),
                **{f"{k}_intervals": int(v.shape[1]) for k, v in unions.items()},
                "gene_segments": int(len(seg_start)),
            },
            "exons_hold_cds_utr": cds_utr_inside_exons(unions),
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "build_seconds": round(time.monotonic() - t0, 2),
        }
        carried = _sequence_to_carry(out_dir, build)
        if carried is not None:
            manifest["sequence"] = carried
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        Bundle(tmp).write_rendered_text()
        if carried is not None:
            # The sequence does not depend on the gene model: a rebuild keeps it.
            os.replace(out_dir / SEQUENCE_DIR, tmp / SEQUENCE_DIR)
        try:
            if out_dir.exists():
                shutil.rmtree(out_dir)
            os.replace(tmp, out_dir)
        except BaseException:
            if carried is not None and (tmp / SEQUENCE_DIR).exists():
                out_dir.mkdir(parents=True, exist_ok=True)
                os.replace(tmp / SEQUENCE_DIR, out_dir / SEQUENCE_DIR)
            raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


def _sequence_to_carry(out_dir: Path, build: str) -> dict | None:
    """The manifest entry of the sequence an existing bundle of the same build holds, if any."""
    try:
        old = json.loads((out_dir / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    if old.get("build") != build or not (out_dir / SEQUENCE_DIR / "sequence.json").exists():
        return None
    return old.get("sequence") or {}


def cds_utr_inside_exons(unions: dict[str, np.ndarray]) -> bool:
    """Whether every CDS and UTR interval lies inside the exon union (true of GENCODE), so the
    classifier may look up CDS and UTR for exonic spans only (~350,000 lookups: 20-35 ms, so the
    manifest keeps the answer)."""
    ex = unions["exon"]
    if ex.shape[1] == 0:
        return False
    for name in ("cds", "utr5", "utr3"):
        a, z = unions[name]
        i = np.minimum(np.searchsorted(ex[1], a, side="right"), ex.shape[1] - 1)
        if not ((ex[0][i] <= a) & (ex[1][i] >= z)).all():
            return False
    return True


def _with_gene_rows(tx: Transcripts, order: np.ndarray) -> Transcripts:
    """Point transcripts at the sorted gene rows; drop those tied to no gene."""
    new_row = np.empty(len(order), np.int64)
    new_row[order] = np.arange(len(order))
    keep = tx.gene >= 0
    n_ex = np.diff(tx.exon_offset)
    ex_keep = np.repeat(keep, n_ex)
    return Transcripts(
        gene=new_row[tx.gene[keep]],
        tx_id=tx.tx_id[keep],
        exon_offset=np.concatenate([[0], np.cumsum(n_ex[keep])]).astype(np.int64),
        exon_start=tx.exon_start[ex_keep],
        exon_end=tx.exon_end[ex_keep],
        cds_lo=tx.cds_lo[keep],
        cds_hi=tx.cds_hi[keep],
        mane=tx.mane[keep],
        canonical=tx.canonical[keep],
        unresolved_genes=tx.unresolved_genes,
        biotype=None if tx.biotype is None else tx.biotype[keep],
        cds_start_nf=None if tx.cds_start_nf is None else tx.cds_start_nf[keep],
        cds_end_nf=None if tx.cds_end_nf is None else tx.cds_end_nf[keep],
        cds_unknown=None if tx.cds_unknown is None else tx.cds_unknown[keep],
    )


def _with_stop(tx: Transcripts, contig: np.ndarray, keys, stops: np.ndarray):
    """Coding spans as keys, grown by the stop codon where the CDS rows leave it out."""
    coding = tx.cds_lo >= 0
    lo = np.where(coding, keys(contig, np.maximum(tx.cds_lo, 0)), -1)
    hi = np.where(coding, keys(contig, np.maximum(tx.cds_hi, 0)), -1)
    if stops.shape[1]:
        after = coding & covers(stops, hi, hi + 3) & ~covers(stops, hi - 3, hi)
        before = coding & covers(stops, lo - 3, lo) & ~covers(stops, lo, lo + 3)
        hi = np.where(after, hi + 3, hi)
        lo = np.where(before, lo - 3, lo)
    return lo, hi


def _picks(tx: Transcripts, lo, hi, es, ee, n_genes: int) -> dict:
    """Per gene the transcript a clinician reads first: MANE Select, else the source's canonical,
    else the longest coding (by coding bases), else the longest (by exonic bases)."""
    n_ex = np.diff(tx.exon_offset)
    owner = np.repeat(np.arange(len(tx.gene)), n_ex)
    exonic = np.bincount(owner, ee - es, minlength=len(tx.gene))
    cod = np.clip(np.minimum(ee, hi[owner]) - np.maximum(es, lo[owner]), 0, None)
    coding_len = np.bincount(owner, np.where(lo[owner] >= 0, cod, 0), minlength=len(tx.gene))
    basis = np.where(tx.mane, 0, np.where(tx.canonical, 1, np.where(lo >= 0, 2, 3))).astype(
        np.int64
    )
    order = np.lexsort((np.arange(len(tx.gene)), -exonic, -coding_len, basis, tx.gene))
    first = np.ones(len(order), bool)
    first[1:] = tx.gene[order][1:] != tx.gene[order][:-1]
    chosen = order[first]
    pick_of = np.full(n_genes, -1, np.int64)
    pick_of[tx.gene[chosen]] = chosen
    has = pick_of >= 0
    t = np.maximum(pick_of, 0)
    counts = np.where(has, n_ex[t], 0)
    offset = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    idx = np.repeat(tx.exon_offset[t], counts) + (
        np.arange(offset[-1]) - np.repeat(offset[:-1], counts)
    )
    gene_of_exon = np.repeat(np.arange(n_genes), counts)
    names = np.array(PICK_BASES, dtype=object)
    return {
        "tx": pick_of,
        "table": pa.table(
            {
                "transcript_id": pa.array(np.where(has, tx.tx_id[t], "").tolist(), pa.string()),
                "basis": pa.array(np.where(has, names[basis[t]], "gene").tolist(), pa.string()),
            }
        ),
        "exon_offset": offset,
        "exons": np.vstack([(gene_of_exon << GENE_SHIFT) | es[idx], ee[idx]]),
        "cds": np.vstack([np.where(has, lo[t], -1), np.where(has, hi[t], -1)]),
        "length": np.where(has, exonic[t], 0).astype(np.int64),
    }


def _every_transcript(tx: Transcripts, lo, hi, es, ee, genes: pa.Table, pick_of) -> dict:
    """Every transcript for consequence calling, grouped by gene row (then by start): its ID,
    biotype, flags and coding span as keys, its exons as keys, each gene's transcript range and
    its pick transcript's row (-1: none)."""
    n_genes = len(pick_of)
    n_ex = np.diff(tx.exon_offset)
    has = n_ex > 0
    first = tx.exon_offset[:-1]
    t_start = np.where(has, es[np.minimum(first, len(es) - 1)], -1)
    t_end = np.where(has, ee[np.maximum(tx.exon_offset[1:] - 1, 0)], -1)
    order = np.lexsort((t_start, tx.gene))
    order = order[has[order]]
    counts = n_ex[order]
    ex_off = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    idx = np.repeat(first[order], counts) + (np.arange(ex_off[-1]) - np.repeat(ex_off[:-1], counts))
    gene_type = np.array(genes["gene_type"].to_pylist(), dtype=object)
    coding = lo[order] >= 0
    biotype = np.full(len(order), "", dtype=object) if tx.biotype is None else tx.biotype[order]
    # Without the source's own transcript biotype: protein_coding when it has a CDS, else the
    # gene's type (lncRNA, miRNA, ...).
    unknown = np.zeros(len(order), bool) if tx.cds_unknown is None else tx.cds_unknown[order]
    # MANE Select transcripts are coding by definition: one without a CDS here lost it.
    unknown |= tx.mane[order] & ~coding
    fallback = np.where(coding | unknown, "protein_coding", gene_type[tx.gene[order]])
    biotype = np.where(biotype == "", fallback, biotype)

    def flag(values: np.ndarray | None) -> pa.Array:
        return pa.array(np.zeros(len(order), bool) if values is None else values[order])

    gene_of = tx.gene[order]
    gene_off = np.searchsorted(gene_of, np.arange(n_genes + 1)).astype(np.int64)
    row_of = np.full(len(tx.gene), -1, np.int64)
    row_of[order] = np.arange(len(order))
    pick = np.where(pick_of >= 0, row_of[np.maximum(pick_of, 0)], -1)
    return {
        "table": pa.table(
            {
                "gene": pa.array(gene_of.astype(np.int32)),
                "transcript_id": pa.array(tx.tx_id[order].tolist(), pa.string()),
                "biotype": pa.array(biotype.tolist(), pa.string()),
                "mane": pa.array(tx.mane[order]),
                "canonical": pa.array(tx.canonical[order]),
                "cds_start_nf": flag(tx.cds_start_nf),
                "cds_end_nf": flag(tx.cds_end_nf),
                "cds_unknown": pa.array(unknown),
            }
        ),
        "span": np.vstack([t_start[order], t_end[order]]),
        "cds": np.vstack([lo[order], hi[order]]),
        "exon_offset": ex_off,
        "exons": np.vstack([es[idx], ee[idx]]),
        "gene_offset": gene_off,
        "pick": pick,
    }


def _gene_transcripts(gs: np.ndarray, ge: np.ndarray, genes: pa.Table) -> dict:
    """Without transcripts each gene is one non-coding transcript, one exon long."""
    n = len(gs)
    return {
        "table": pa.table(
            {
                "gene": pa.array(np.arange(n, dtype=np.int32)),
                "transcript_id": pa.array([""] * n, pa.string()),
                "biotype": genes["gene_type"],
                "mane": pa.array(np.zeros(n, bool)),
                "canonical": pa.array(np.zeros(n, bool)),
                "cds_start_nf": pa.array(np.zeros(n, bool)),
                "cds_end_nf": pa.array(np.zeros(n, bool)),
                "cds_unknown": pa.array(np.zeros(n, bool)),
            }
        ),
        "span": np.vstack([gs, ge]),
        "cds": np.full((2, n), -1, np.int64),
        "exon_offset": np.arange(n + 1, dtype=np.int64),
        "exons": np.vstack([gs, ge]),
        "gene_offset": np.arange(n + 1, dtype=np.int64),
        "pick": np.arange(n, dtype=np.int64),
    }


def _gene_picks(gs: np.ndarray, ge: np.ndarray) -> dict:
    """Without transcripts each gene is its own non-coding 'transcript', one exon long."""
    n = len(gs)
    return {
        "table": pa.table(
            {
                "transcript_id": pa.array([""] * n, pa.string()),
                "basis": pa.array(["gene"] * n, pa.string()),
            }
        ),
        "exon_offset": np.arange(n + 1, dtype=np.int64),
        "exons": np.vstack([(np.arange(n, dtype=np.int64) << GENE_SHIFT) | gs, ge]),
        "cds": np.full((2, n), -1, np.int64),
        "length": (ge - gs).astype(np.int64),
    }


def _segment_genes(
    gs: np.ndarray, ge: np.ndarray
) -> tuple[np.ndarray, np.ndarray, list[list[int]]]:
    """Cut the genome at every gene boundary; each segment points at the set of genes covering it.

    Set 0 is the empty set and sets 1..G are each gene alone, so an intergenic variant's nearest
    gene can reuse the same table.
    """
    n = len(gs)
    sets: list[list[int]] = [[]] + [[i] for i in range(n)]
    index: dict[tuple[int, ...], int] = {(): 0}
    index.update({(i,): i + 1 for i in range(n)})
    pos = np.concatenate([gs, ge])
    delta = np.concatenate([np.arange(n), -np.arange(n) - 1])  # gene i opens as i, closes as ~i
    order = np.lexsort((delta, pos))
    pos, delta = pos[order].tolist(), delta[order].tolist()
    active: set[int] = set()
    seg_start: list[int] = []
    seg_set: list[int] = []
    i = 0
    while i < len(pos):
        p = pos[i]
        while i < len(pos) and pos[i] == p:
            d = delta[i]
            if d >= 0:
                active.add(d)
            else:
                active.discard(-d - 1)
            i += 1
        key = tuple(sorted(active))
        sid = index.get(key)
        if sid is None:
            sid = index[key] = len(sets)
            sets.append(list(key))
        if seg_set and seg_set[-1] == sid:
            continue
        seg_start.append(p)
        seg_set.append(sid)
    return np.array(seg_start, np.int64), np.array(seg_set, np.int32), sets


def _read_arrow(path: Path) -> pa.Table:
    """An Arrow IPC (Feather v2) file, memory-mapped: pages are read on first use and shared
    with every process that maps the bundle (block-mode workers, other jobs)."""
    with pa.memory_map(str(path)) as source:
        return pa.ipc.open_file(source).read_all()


def single_array(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One Arrow array: a column read from a bundle file is one chunk, used as it is
    (``combine_chunks`` would copy it, ~20 ms for the 10 MB of rendered set text)."""
    if isinstance(values, pa.ChunkedArray):
        return values.chunk(0) if values.num_chunks == 1 else values.combine_chunks()
    return values


def _load_array(path: Path) -> np.ndarray:
    """A .npy array, memory-mapped read-only (as a plain ndarray, not a slower np.memmap)."""
    return np.asarray(np.load(path, mmap_mode="r"))


_BAD_IN_INFO = np.zeros(256, bool)
_BAD_IN_INFO[[ord(c) for c in ";=, "]] = True


class Bundle:
    """A loaded reference bundle: the arrays the engine queries, plus its manifest."""

    def __init__(self, path: Path):
        self.path = Path(path)
        manifest_path = self.path / "manifest.json"
        if not manifest_path.exists():
            raise ReferenceUnavailable(
                f"no reference bundle at {self.path} (manifest.json missing)"
            )
        self.manifest = json.loads(manifest_path.read_text())
        if self.manifest.get("format") != BUNDLE_FORMAT:
            raise ReferenceUnavailable(f"{self.path} is not a GAS reference bundle")
        if self.manifest.get("format_version") != BUNDLE_FORMAT_VERSION:
            raise ReferenceUnavailable(
                f"the bundle at {self.path} has format version "
                f"{self.manifest.get('format_version')}, "
                f"this annotator reads version {BUNDLE_FORMAT_VERSION}; rebuild it with "
                "`gas reference install-defaults` (or `make setup`)"
            )
        self.build: str = self.manifest["build"]
        self.contigs: list[str] = self.manifest["contigs"]
        self.flank_bp: int = int(self.manifest.get("flank_bp", FLANK_BP))
        try:
            self.genes = _read_arrow(self.path / "genes.arrow")
            self.unions = {n: _load_array(self.path / f"{n}.npy") for n in FEATURE_CLASSES}
            self.seg_start = _load_array(self.path / "gene_segment_start.npy")
            self.seg_set = _load_array(self.path / "gene_segment_set.npy")
            self.sets = _read_arrow(self.path / "gene_sets.arrow")["genes"]
            self.zone_start = _load_array(self.path / "zone_segment_start.npy")
            self.zone_set = _load_array(self.path / "zone_segment_set.npy")
            self.zone_sets = _read_arrow(self.path / "zone_sets.arrow")["genes"]
            self.picks = _read_arrow(self.path / "picks.arrow")
            self.pick = {
                n: _load_array(self.path / f"pick_{n}.npy")
                for n in ("exon_offset", "exons", "cds", "length")
            }
        except (OSError, ValueError, KeyError, pa.ArrowException) as exc:
            raise ReferenceUnavailable(
                f"the reference bundle at {self.path} is damaged: {exc}"
            ) from exc
        self.start_key = self.genes["start_key"].to_numpy()
        self.end_key = self.genes["end_key"].to_numpy()
        self.end_order = np.argsort(self.end_key, kind="stable")
        self.end_sorted = self.end_key[self.end_order]
        self.minus = kernels.fill_null(kernels.equal(self.genes["strand"], "-"), False).to_numpy()

    @cached_property
    def transcripts(self) -> TranscriptTable:
        """Every transcript, for consequence calling (read on first use)."""
        try:
            return TranscriptTable(
                table=_read_arrow(self.path / "transcripts.arrow"),
                **{
                    n: _load_array(self.path / f"tx_{n}.npy")
                    for n in ("span", "cds", "exon_offset", "exons", "gene_offset", "pick")
                },
            )
        except (OSError, ValueError, KeyError, pa.ArrowException) as exc:
            raise ReferenceUnavailable(
                f"the reference bundle at {self.path} is damaged: {exc}"
            ) from exc

    def contig_index(self) -> dict[str, int]:
        """Contig name → index, canonical names only (callers canonicalise first)."""
        return {c: i for i, c in enumerate(self.contigs)}

    def set_field(self, column: str) -> pa.Array:
        """For each gene set one gene column's values joined by ``|`` ("" for the empty set)."""
        # Rendered once per column: set_text and the engine's per-allele lists both need it.
        cache = self.__dict__.setdefault("_set_field_cache", {})
        if column not in cache:
            cache[column] = self._render_set_field(column)
        return cache[column]

    def _render_set_field(self, column: str) -> pa.Array:
        sets = self._flat_sets
        # INFO values may not hold ';', '=', ',' or spaces.
        values = single_array(self.genes[column])
        data = values.buffers()[2]
        if data is not None and _BAD_IN_INFO[np.frombuffer(data, np.uint8)].any():
            values = kernels.replace_substring_regex(values, r"[;=, ]", "_")
        values = kernels.if_else(kernels.equal(values, ""), ".", values)
        n = len(values)
        if len(sets) > n and len(sets.offsets) > n + 1:
            # Sets 1..n are each gene alone (see _segment_genes): only the rest need a list join.
            rest = sets.slice(n + 1)
            flat = kernels.list_flatten(rest)
            offsets = kernels.subtract(rest.offsets, rest.offsets[0])
            multi = kernels.binary_join(
                pa.ListArray.from_arrays(offsets, kernels.take(values, flat)), "|"
            )
            return pa.concat_arrays([pa.array([""], values.type), values, multi])
        flat = kernels.list_flatten(sets)
        return kernels.binary_join(
            pa.ListArray.from_arrays(sets.offsets, kernels.take(values, flat)), "|"
        )

    @cached_property
    def _flat_sets(self) -> pa.ListArray:
        return single_array(self.sets)

    @cached_property
    def has_gene_ids(self) -> bool:
        """Whether the source named gene IDs (the GRCh37 bundle has names only)."""
        return kernels.any_true(kernels.not_equal(self.genes["gene_id"], ""))

    @cached_property
    def set_text(self) -> pa.Array:
        """For each gene set the INFO text a line gets (";GAS_GENE=…;GAS_STRAND=…"), as binary;
        null for the empty set. Read from the bundle's rendered text when it has it."""
        return self._rendered("set_text", self._render_set_text)

    def _render_set_text(self) -> pa.Array:
        columns = [(";GAS_GENE=", "gene_name")]
        if self.has_gene_ids:
            columns.append(("GAS_GENE_ID=", "gene_id"))
        columns += [("GAS_STRAND=", "strand"), ("GAS_GENE_TYPE=", "gene_type")]
        parts = [
            kernels.binary_join_element_wise(name, self.set_field(column), "")
            for name, column in columns
        ]
        info = kernels.cast(kernels.binary_join_element_wise(*parts, ";"), pa.binary())
        # Null for the empty set: the same text with a validity bitmap (if_else copies it all).
        valid = kernels.greater(kernels.list_value_length(self._flat_sets), 0)
        info = info.combine_chunks() if isinstance(info, pa.ChunkedArray) else info
        if info.offset or valid.offset:
            return kernels.if_else(valid, info, pa.scalar(None, pa.binary()))
        return pa.Array.from_buffers(
            info.type, len(info), [valid.buffers()[1], info.buffers()[1], info.buffers()[2]]
        )

    @cached_property
    def pick_text(self) -> dict[str, pa.Array]:
        """Per gene its picked transcript's gene name, ID and basis ("." where empty), with one
        more row, all ".", for alleles without a pick."""
        dot = pa.array(["."], pa.string())

        def dotted(values: pa.Array | pa.ChunkedArray) -> pa.Array:
            values = kernels.if_else(kernels.equal(values, ""), ".", values)
            if isinstance(values, pa.ChunkedArray):
                values = values.combine_chunks()
            return pa.concat_arrays([values, dot])

        return {
            "gene": dotted(self.genes["gene_name"]),
            "transcript": dotted(self.picks["transcript_id"]),
            "basis": dotted(self.picks["basis"]),
        }

    @cached_property
    def feature_ids(self) -> pa.Array:
        """Each transcript's ID for GAS_CSQ's Feature: the source's, else a stable GAST… ID made
        from its structure (annotator.gff3, which the GFF3 export shares)."""
        return self._rendered("feature_ids", self._render_feature_ids)

    @cached_property
    def csq_head(self) -> pa.Array:
        """Per transcript (one more row: none) its GAS_CSQ fields before the location ones."""
        return self._rendered("csq_head", lambda: self._render_csq_text()[0])

    @cached_property
    def csq_tail(self) -> pa.Array:
        """Per transcript (one more row: none) its GAS_CSQ fields after the location ones."""
        return self._rendered("csq_tail", lambda: self._render_csq_text()[1])

    def _render_csq_text(self) -> tuple[pa.Array, pa.Array]:
        from annotator.consequences import transcript_text  # renders from this bundle

        return transcript_text(self)

    def _render_feature_ids(self) -> pa.Array:
        from annotator.gff3 import structure_ids  # gff3 reads bundles: imported when rendering

        return pa.array(structure_ids(self), pa.string())

    @cached_property
    def pick_info(self) -> pa.Array:
        """Per gene (one more row for none) the picked transcript's INFO text
        (";GAS_PICK_GENE=…;GAS_PICK_TRANSCRIPT=…;GAS_PICK_BASIS=…")."""
        return self._rendered("pick_info", self._render_pick_info)

    def _render_pick_info(self) -> pa.Array:
        t = self.pick_text
        return kernels.cast(
            kernels.binary_join_element_wise(
                ";GAS_PICK_GENE=",
                t["gene"],
                ";GAS_PICK_TRANSCRIPT=",
                t["transcript"],
                ";GAS_PICK_BASIS=",
                t["basis"],
                "",
            ),
            pa.binary(),
        )

    def _rendered(self, name: str, render) -> pa.Array:
        """Text rendered from the gene columns: memory-mapped from the bundle's rendered_text/
        when it was written by this TEXT_VERSION, else rendered here (~60 ms in all)."""
        path = self.path / RENDERED_DIR / f"{name}.arrow"
        with contextlib.suppress(OSError, ValueError, KeyError, pa.ArrowException):
            table = _read_arrow(path)
            if (table.schema.metadata or {}).get(b"text_version") == TEXT_VERSION.encode():
                return single_array(table.column(0))
        return render()

    def write_rendered_text(self) -> None:
        """Store the rendered text in the bundle (rendered_text/, replaced atomically), so that
        annotation start-up reads it instead of rendering it."""
        out = self.path / RENDERED_DIR
        tmp = Path(tempfile.mkdtemp(prefix=f".{RENDERED_DIR}.", dir=self.path))
        try:
            for name, render in (
                ("set_text", self._render_set_text),
                ("pick_info", self._render_pick_info),
                ("feature_ids", self._render_feature_ids),
                ("csq_head", lambda: self._render_csq_text()[0]),
                ("csq_tail", lambda: self._render_csq_text()[1]),
            ):
                table = pa.table({name: render()}).replace_schema_metadata(
                    {"text_version": TEXT_VERSION}
                )
                with (
                    pa.OSFile(str(tmp / f"{name}.arrow"), "wb") as sink,
                    pa.ipc.new_file(sink, table.schema) as writer,
                ):
                    writer.write_table(table)
            if out.exists():
                shutil.rmtree(out)
            os.replace(tmp, out)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def has_rendered_text(self) -> bool:
        """Whether rendered_text/ is there and current."""
        try:
            table = _read_arrow(self.path / RENDERED_DIR / "set_text.arrow")
        except (OSError, pa.ArrowException):
            return False
        return (table.schema.metadata or {}).get(b"text_version") == TEXT_VERSION.encode()

    @cached_property
    def exons_hold_cds_utr(self) -> bool:
        """``cds_utr_inside_exons`` for this bundle: from its manifest, or worked out for a bundle
        built before the manifest kept it."""
        stored = self.manifest.get("exons_hold_cds_utr")
        return stored if isinstance(stored, bool) else cds_utr_inside_exons(self.unions)

    def store_exons_hold_cds_utr(self) -> None:
        """Add the fact to the manifest of a bundle built before the manifest kept it."""
        manifest = {**self.manifest, "exons_hold_cds_utr": cds_utr_inside_exons(self.unions)}
        tmp = self.path / ".manifest.json.tmp"
        tmp.write_text(json.dumps(manifest, indent=2) + "\n")
        os.replace(tmp, self.path / "manifest.json")
        self.manifest = manifest

    def set_members(self, set_ids: np.ndarray) -> np.ndarray:
        """The distinct gene indices contained in the given gene sets."""
        if len(set_ids) == 0:
            return np.array([], np.int64)
        flat = kernels.list_flatten(
            kernels.take(self.sets, pa.array(np.unique(set_ids)))
        ).to_numpy()
        return np.unique(flat)


def bundle_path(reference_dir: Path, build: str) -> Path:
    """Where the bundle for ``build`` lives under the reference directory."""
    return Path(reference_dir) / build


def load_bundle(reference_dir: Path, build: str) -> Bundle:
    """Load the installed bundle for a build, or raise ReferenceUnavailable."""
    path = bundle_path(reference_dir, build)
    if not (path / "manifest.json").exists():
        raise ReferenceUnavailable(
            f"the {build} reference bundle is not installed in {reference_dir}; "
            "run `gas reference install-defaults` on this worker"
        )
    return Bundle(path)
