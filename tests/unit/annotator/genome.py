"""A small genome of GAS's own making for the consequence tests: a contig with a coding gene on
each strand (codons split across exons, a start and a stop codon of their own), a gene whose CDS
start is not found, and a mitochondrial gene read with the vertebrate mitochondrial code.

Coordinates below are 0-based half-open, as in a bundle; the GTF it writes is 1-based.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from annotator.codons import MITOCHONDRIAL, STANDARD, reverse_complement


@dataclass(frozen=True)
class Tx:
    """One transcript: its gene, strand, exons and coding span (stop codon included)."""

    gene: str
    tx_id: str
    contig: str
    strand: str
    exons: tuple[tuple[int, int], ...]
    cds: tuple[int, int]
    tags: tuple[str, ...] = ()

    def coding_keys(self) -> list[int]:
        """Genomic positions of the CDS bases in transcript order."""
        lo, hi = self.cds
        bases = [p for s, e in self.exons for p in range(max(s, lo), min(e, hi))]
        return bases[::-1] if self.strand == "-" else bases

    def cdna_keys(self) -> list[int]:
        bases = [p for s, e in self.exons for p in range(s, e)]
        return bases[::-1] if self.strand == "-" else bases


PLUS = Tx("GENEP", "ENST00000000001.1", "1", "+", ((100, 160), (300, 400), (600, 700)), (120, 649))
MINUS = Tx("GENEM", "ENST00000000002.1", "1", "-", ((1000, 1100), (1200, 1300)), (1050, 1249))
NO_START = Tx(
    "GENEN", "ENST00000000003.1", "1", "+", ((1600, 1700),), (1601, 1661), ("cds_start_NF",)
)
MITO = Tx("MT-GENE", "ENST00000000004.1", "MT", "+", ((10, 70),), (10, 70))
TRANSCRIPTS = (PLUS, MINUS, NO_START, MITO)
LENGTHS = {"1": 2000, "MT": 200}


def _sequence(seed: int = 11) -> dict[str, list[str]]:
    rng = random.Random(seed)
    seq = {c: [rng.choice("ACGT") for _ in range(n)] for c, n in LENGTHS.items()}
    for tx in TRANSCRIPTS:
        code = MITOCHONDRIAL if tx.contig == "MT" else STANDARD
        keys = tx.coding_keys()
        s = seq[tx.contig]

        def put(i: int, codon: str, keys=keys, s=s, tx=tx) -> None:
            for k, base in zip(keys[3 * i : 3 * i + 3], codon, strict=True):
                s[k] = base if tx.strand == "+" else reverse_complement(base)

        n = len(keys) // 3
        for i in range(n):  # no stop codon inside a CDS
            codon = "".join(
                s[k] if tx.strand == "+" else reverse_complement(s[k])
                for k in keys[3 * i : 3 * i + 3]
            )
            if code.get(codon) == "*":
                put(i, "GCT")
        if "cds_start_NF" not in tx.tags:
            put(0, "ATG")
        put(n - 1, "AGA" if tx.contig == "MT" else "TAA")
        if tx is MITO:
            put(5, "TGA")  # Trp in the mitochondrial code
            put(6, "ATA")  # Met
    return seq


SEQUENCE = {c: "".join(b) for c, b in _sequence().items()}


def write_gtf(path: Path) -> Path:
    rows = []
    for tx in TRANSCRIPTS:
        start = min(s for s, _ in tx.exons)
        end = max(e for _, e in tx.exons)
        gene = f'gene_id "{tx.gene}_ID"; gene_name "{tx.gene}"; gene_type "protein_coding";'
        attrs = f'{gene} transcript_id "{tx.tx_id}"; transcript_type "protein_coding";'
        tags = "".join(f' tag "{t}";' for t in tx.tags)
        col = f"{tx.contig}\tTEST\t{{}}\t{{}}\t{{}}\t.\t{tx.strand}\t.\t"
        rows.append(col.format("gene", start + 1, end) + gene)
        rows.append(col.format("transcript", start + 1, end) + attrs + tags)
        lo, hi = tx.cds
        stop = (hi - 3, hi) if tx.strand == "+" else (lo, lo + 3)
        for s, e in tx.exons:
            rows.append(col.format("exon", s + 1, e) + attrs)
            a, b = max(s, lo), min(e, hi)
            # GENCODE's CDS rows leave the stop codon out; it has rows of its own.
            a2, b2 = (a, min(b, stop[0])) if tx.strand == "+" else (max(a, stop[1]), b)
            if a2 < b2:
                rows.append(col.format("CDS", a2 + 1, b2) + attrs)
        rows.append(col.format("stop_codon", stop[0] + 1, stop[1]) + attrs)
    path.write_text("\n".join(rows) + "\n")
    return path


def write_fasta(path: Path, names: dict[str, str] | None = None) -> Path:
    """The genome as FASTA; ``names`` renames contigs (e.g. {"1": "chr1", "MT": "chrM"})."""
    names = names or {}
    with path.open("w") as f:
        for contig, seq in SEQUENCE.items():
            f.write(f">{names.get(contig, contig)}\n")
            for i in range(0, len(seq), 60):
                f.write(seq[i : i + 60] + "\n")
    return path


def base(contig: str, pos0: int) -> str:
    return SEQUENCE[contig][pos0]


def cds_site(tx: Tx, cds_pos: int) -> tuple[int, str]:
    """(0-based genomic position, genomic REF base) of 1-based CDS position ``cds_pos``."""
    k = tx.coding_keys()[cds_pos - 1]
    return k, SEQUENCE[tx.contig][k]


def codon(tx: Tx, number: int) -> str:
    """Codon ``number`` (1-based) of a transcript, transcript strand."""
    keys = tx.coding_keys()[3 * (number - 1) : 3 * number]
    bases = "".join(SEQUENCE[tx.contig][k] for k in keys)  # already in transcript order
    return bases if tx.strand == "+" else bases.translate(str.maketrans("ACGT", "TGCA"))
