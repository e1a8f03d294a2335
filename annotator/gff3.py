"""A bundle's gene model written back out as Ensembl-style GFF3 (what `bcftools csq -g` reads).

One gene line per gene, then per transcript its transcript line and its exon, CDS (with phase)
and five/three_prime_UTR lines, from ``Bundle.transcripts`` (every transcript the bundle keeps).
IDs follow Ensembl's GFF3: ``ID=gene:G``, ``ID=transcript:T;Parent=gene:G``, children with
``Parent=transcript:T``, and ``biotype=`` on genes and transcripts; every line also carries
GENCODE's ``gene_id``/``transcript_id`` attributes, so `gas reference build` reads the file back.
Transcripts (and genes) the source named no ID for get a stable synthetic one: a hash of their
structure, the same on every export of the same gene model.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import numpy as np

from annotator.bundle import SHIFT, Bundle

POS_MASK = np.int64((1 << 32) - 1)
SYNTHETIC_TRANSCRIPT = "GAST"  # + 12 hex digits of the structure's hash
SYNTHETIC_GENE = "GASG"
# Ensembl's GFF3 types for a transcript's biotype (anything else is a plain "transcript").
_RNA_TYPES = {
    "miRNA": "miRNA",
    "snRNA": "snRNA",
    "snoRNA": "snoRNA",
    "rRNA": "rRNA",
    "Mt_rRNA": "rRNA",
    "Mt_tRNA": "tRNA",
    "scRNA": "scRNA",
    "scaRNA": "scaRNA",
    "lncRNA": "lnc_RNA",
    "lincRNA": "lnc_RNA",
    "antisense": "lnc_RNA",
    "sense_intronic": "lnc_RNA",
    "sense_overlapping": "lnc_RNA",
    "3prime_overlapping_ncrna": "lnc_RNA",
    "misc_RNA": "ncRNA",
    "sRNA": "ncRNA",
    "vault_RNA": "ncRNA",
    "ribozyme": "ncRNA",
    "TEC": "unconfirmed_transcript",
}
# GFF3 reserves these in attribute values (column 9); they are written %-escaped.
_ESCAPES = str.maketrans({c: f"%{ord(c):02X}" for c in ";=&,\t\n\r%"})


def _escape(value: str) -> str:
    return value.translate(_ESCAPES)


def _digest(*parts: bytes) -> str:
    h = hashlib.blake2b(digest_size=6)
    for p in parts:
        h.update(p)
        h.update(b"|")
    return h.hexdigest().upper()


def _unique(ids: list[str]) -> list[str]:
    """The same ID twice (two identical structures) gets -2, -3... after the first, in order."""
    seen: dict[str, int] = {}
    out = []
    for i in ids:
        n = seen.get(i, 0) + 1
        seen[i] = n
        out.append(i if n == 1 else f"{i}-{n}")
    return out


def gene_ids(bundle: Bundle) -> list[str]:
    """Each gene's ID: the source's, else ``GASG`` + a hash of its name, contig, span and strand."""
    g = bundle.genes
    out = []
    for gid, name, contig, start, end, strand in zip(
        g["gene_id"].to_pylist(),
        g["gene_name"].to_pylist(),
        g["contig"].to_pylist(),
        g["start"].to_pylist(),
        g["end"].to_pylist(),
        g["strand"].to_pylist(),
        strict=True,
    ):
        if gid:
            out.append(gid)
        else:
            key = f"{name}|{contig}|{start}|{end}|{strand}".encode()
            out.append(SYNTHETIC_GENE + _digest(key))
    return _unique(out)


def transcript_ids(bundle: Bundle) -> list[str]:
    """Each transcript's ID (see structure_ids), as the bundle keeps them rendered."""
    return bundle.feature_ids.to_pylist()


def structure_ids(bundle: Bundle) -> list[str]:
    """Each transcript's ID, in ``Bundle.transcripts`` order: the source's, else ``GAST`` + a
    hash of its structure (contig, strand, exons, coding span), so the same transcript gets the
    same ID from every bundle built from the same source, whatever the order of its rows."""
    t = bundle.transcripts
    ids = t.table["transcript_id"].to_pylist()
    genes = t.table["gene"].to_numpy()
    strand = bundle.genes["strand"].to_pylist()
    contigs = bundle.contigs
    exons = t.exons & POS_MASK
    cds = np.where(t.cds >= 0, t.cds & POS_MASK, -1)
    contig_of = (t.span[0] >> SHIFT).tolist()
    off = t.exon_offset
    out = []
    for i, tid in enumerate(ids):
        if tid:
            out.append(tid)
            continue
        a, b = int(off[i]), int(off[i + 1])
        out.append(
            SYNTHETIC_TRANSCRIPT
            + _digest(
                f"{contigs[contig_of[i]]}|{strand[genes[i]]}".encode(),
                np.ascontiguousarray(exons[:, a:b]).tobytes(),
                np.ascontiguousarray(cds[:, i]).tobytes(),
            )
        )
    return _unique(out)


def _gene_type_column(gene_type: str) -> str:
    if "pseudogene" in gene_type:
        return "pseudogene"
    if gene_type == "protein_coding" or gene_type[:3] in ("IG_", "TR_"):
        return "gene"
    return "ncRNA_gene"


def _transcript_type_column(biotype: str, coding: bool) -> str:
    if coding:
        return "mRNA"
    if "pseudogene" in biotype:
        return "pseudogenic_transcript"
    return _RNA_TYPES.get(biotype, "transcript")


def cds_phases(lengths: list[int], start_offset: int = 0) -> list[int]:
    """GFF3 phase of each CDS segment, given in transcript order: the bases to skip from its 5'
    end to the next codon start. ``start_offset``: bases before the first whole codon."""
    phases, done = [], 0
    for n in lengths:
        phases.append((start_offset - done) % 3)
        done += n
    return phases


def _lines(
    bundle: Bundle, chrom_names: list[str], rename: dict[str, str] | None = None
) -> Iterator[str]:
    t = bundle.transcripts
    g = bundle.genes
    gids = gene_ids(bundle)
    tids = transcript_ids(bundle)
    gname = g["gene_name"].to_pylist()
    rename = rename or {}
    gtype = [rename.get(v, v) for v in g["gene_type"].to_pylist()]
    gstrand = g["strand"].to_pylist()
    gstart, gend = g["start"].to_pylist(), g["end"].to_pylist()
    gcontig = (g["start_key"].to_numpy() >> SHIFT).tolist()
    biotype = [rename.get(v, v) for v in t.table["biotype"].to_pylist()]
    mane = t.table["mane"].to_pylist()
    canonical = t.table["canonical"].to_pylist()
    start_nf = t.table["cds_start_nf"].to_pylist()
    end_nf = t.table["cds_end_nf"].to_pylist()
    ex_s = (t.exons[0] & POS_MASK).tolist()
    ex_e = (t.exons[1] & POS_MASK).tolist()
    cds_lo = np.where(t.cds[0] >= 0, t.cds[0] & POS_MASK, -1).tolist()
    cds_hi = np.where(t.cds[1] >= 0, t.cds[1] & POS_MASK, -1).tolist()
    span_s = (t.span[0] & POS_MASK).tolist()
    span_e = (t.span[1] & POS_MASK).tolist()
    ex_off = t.exon_offset.tolist()
    g_off = t.gene_offset.tolist()
    for gi in range(len(gname)):
        chrom = chrom_names[gcontig[gi]]
        strand = gstrand[gi] if gstrand[gi] in ("+", "-") else "."
        first, last = g_off[gi], g_off[gi + 1]
        # A gene line spans all of its transcripts (GFF3: a parent holds its children).
        lo = min([gstart[gi], *span_s[first:last]])
        hi = max([gend[gi], *span_e[first:last]])
        gid = _escape(gids[gi])
        common = f"gene_id={gid}"
        yield (
            f"{chrom}\tGAS\t{_gene_type_column(gtype[gi])}\t{lo + 1}\t{hi}\t.\t{strand}\t.\t"
            f"ID=gene:{gid};Name={_escape(gname[gi])};biotype={_escape(gtype[gi])};{common}\n"
        )
        for ti in range(first, last):
            tid = _escape(tids[ti])
            coding = cds_lo[ti] >= 0
            tags = [
                name
                for name, on in (
                    ("MANE_Select", mane[ti]),
                    ("Ensembl_canonical", canonical[ti]),
                    ("cds_start_NF", start_nf[ti]),
                    ("cds_end_NF", end_nf[ti]),
                )
                if on
            ]
            tag = f";tag={','.join(tags)}" if tags else ""
            yield (
                f"{chrom}\tGAS\t{_transcript_type_column(biotype[ti], coding)}\t"
                f"{span_s[ti] + 1}\t{span_e[ti]}\t.\t{strand}\t.\t"
                f"ID=transcript:{tid};Parent=gene:{gid};biotype={_escape(biotype[ti])}"
                f"{tag};transcript_id={tid};{common}\n"
            )
            child = f"Parent=transcript:{tid};transcript_id={tid};{common}"
            a, b = ex_off[ti], ex_off[ti + 1]
            rows = []  # (start, end, type, phase, extra attributes)
            for k in range(a, b):
                rank = k - a + 1 if strand != "-" else b - k
                rows.append((ex_s[k], ex_e[k], "exon", ".", f";rank={rank}"))
            if coding:
                lo_c, hi_c = cds_lo[ti], cds_hi[ti]
                segs = [
                    (max(ex_s[k], lo_c), min(ex_e[k], hi_c))
                    for k in range(a, b)
                    if ex_s[k] < hi_c and ex_e[k] > lo_c
                ]
                in_tx_order = segs if strand != "-" else segs[::-1]
                lengths = [e - s for s, e in in_tx_order]
                # An incomplete 5' end whose 3' end is complete: the frame is read from the end.
                offset = sum(lengths) % 3 if start_nf[ti] and not end_nf[ti] else 0
                phases = cds_phases(lengths, offset)
                if strand == "-":
                    phases = phases[::-1]
                rows += [(s, e, "CDS", str(p), "") for (s, e), p in zip(segs, phases, strict=True)]
                left, right = (
                    ("five_prime_UTR", "three_prime_UTR")
                    if strand != "-"
                    else ("three_prime_UTR", "five_prime_UTR")
                )
                for k in range(a, b):
                    if ex_s[k] < lo_c:
                        rows.append((ex_s[k], min(ex_e[k], lo_c), left, ".", ""))
                    if ex_e[k] > hi_c:
                        rows.append((max(ex_s[k], hi_c), ex_e[k], right, ".", ""))
            rows.sort(key=lambda r: (r[0], r[1]))
            for s, e, kind, phase, extra in rows:
                cds_id = f"ID=CDS:{tid};" if kind == "CDS" else ""
                yield (
                    f"{chrom}\tGAS\t{kind}\t{s + 1}\t{e}\t.\t{strand}\t{phase}\t"
                    f"{cds_id}{child}{extra}\n"
                )


def write_gff3(
    bundle: Bundle,
    out: TextIO | Path,
    chr_names: bool = False,
    rename_biotypes: dict[str, str] | None = None,
) -> dict[str, int]:
    """Write the bundle's genes and transcripts as GFF3 to ``out`` (a path, gzipped when it ends
    in .gz, or a text stream); ``chr_names``: contigs as chr1…chrX, chrY, chrM instead of the
    bundle's 1…X, Y, MT; ``rename_biotypes``: biotypes to write under another name (bcftools
    1.16 skips ``lncRNA`` transcripts, and reads the older ``lincRNA``).
    Returns counts of genes and transcripts written."""
    from annotator.vcf import CONTIG_LENGTHS

    names = [("chrM" if c == "MT" else f"chr{c}") if chr_names else c for c in bundle.contigs]
    lengths = CONTIG_LENGTHS.get(bundle.build, {})
    if isinstance(out, Path):
        import gzip

        if out.name.endswith(".gz"):  # level 6: a quarter of level 9's time, 3% larger
            with gzip.open(out, "wt", compresslevel=6) as f:
                return write_gff3(bundle, f, chr_names, rename_biotypes)
        with open(out, "w") as f:
            return write_gff3(bundle, f, chr_names, rename_biotypes)
    out.write("##gff-version 3\n")
    for c, name in zip(bundle.contigs, names, strict=True):
        if c in lengths:
            out.write(f"##sequence-region {name} 1 {lengths[c]}\n")
    source = bundle.manifest.get("source", {})
    what = source.get("description") or source.get("file") or "?"
    out.write(f"#!genome-build {bundle.build}\n#!gas-bundle-source {what}\n")
    out.writelines(_lines(bundle, names, rename_biotypes))
    out.write("###\n")
    return {"genes": bundle.genes.num_rows, "transcripts": bundle.transcripts.table.num_rows}
