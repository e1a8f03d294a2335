"""Inputs the tests make themselves, so a clone without ``../shared`` still tests all of GAS."""

from __future__ import annotations

import random

from annotator import terms

SMALL_VCF_VARIANTS = 60
_HEADER = (
    "##fileformat=VCFv4.0\n"
    "##reference=rCRS\n"
    '##INFO=<ID=AC,Number=.,Type=Integer,Description="Allele count in genotypes">\n'
    '##INFO=<ID=AN,Number=1,Type=Integer,Description="Total number of alleles">\n'
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
)
# SNVs of each kind, a multi-allelic record and a deletion, as sequencers write them.
_CHANGES = (("A", "G"), ("C", "T"), ("G", "A"), ("T", "C"), ("A", "C,G"), ("CA", "C"))


def small_vcf(variants: int = SMALL_VCF_VARIANTS) -> bytes:
    """A small mitochondrial VCF (rCRS, like the researchers' samples) with ``variants`` records."""
    step = 16_000 // max(variants, 1)  # spread over MT's genes and its control region
    rows = []
    for i in range(variants):
        ref, alt = _CHANGES[i % len(_CHANGES)]
        rows.append(f"MT\t{60 + i * step}\t.\t{ref}\t{alt}\t.\t.\tAC=1;AN=1\n")
    return (_HEADER + "".join(rows)).encode()


# GRCh38 stretches around genes researchers look up (spans as in Ensembl 110, with flanks), and
# a gene-poor stretch of chr17 for intergenic sites: (chrom, first, last, step).
_GENE_STRETCHES = (
    ("chr13", 32_310_000, 32_405_000, 1_900),  # BRCA2
    ("chr17", 7_660_000, 7_690_000, 600),  # TP53 (and WRAP53 on the other strand)
    ("chr17", 43_040_000, 43_130_000, 1_500),  # BRCA1 (and NBR2 beside it)
    ("chr17", 50_000_000, 50_400_000, 40_000),
)


def genes_vcf() -> bytes:
    """A GRCh38 VCF with sites across BRCA2, TP53 and BRCA1; some multi-allelic, some with IDs."""
    header = (
        "##fileformat=VCFv4.2\n##reference=GRCh38\n"
        '##INFO=<ID=AC,Number=A,Type=Integer,Description="Allele count in genotypes">\n'
        '##INFO=<ID=AN,Number=1,Type=Integer,Description="Total number of alleles">\n'
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    )
    rows = []
    for chrom, first, last, step in _GENE_STRETCHES:
        for i, pos in enumerate(range(first, last, step)):
            ref, alt = _CHANGES[i % len(_CHANGES)]
            vid = f"rs{pos}" if i % 5 == 0 else "."
            ac = ",".join("1" for _ in alt.split(","))
            rows.append(f"{chrom}\t{pos}\t{vid}\t{ref}\t{alt}\t.\tPASS\tAC={ac};AN=2\n")
    return (header + "".join(rows)).encode()


# Consequence terms the annotated sites below take, most severe first (intergenic sites aside).
_CONSEQUENCES = (
    "stop_gained",
    "frameshift_variant",
    "missense_variant",
    "splice_region_variant",
    "synonymous_variant",
    "coding_sequence_variant",
    "intron_variant",
    "upstream_gene_variant",
)


def consequence_annotated_vcf(seed: int = 5, records: int = 180, consequences: bool = True) -> str:
    """Annotated VCF text as the consequence engine writes it: per-allele GAS_* fields, the
    consequence ones included (without them when ``consequences`` is false: a result from before).

    Sites on chr17 (TP53, BRCA1, and intergenic) and chr2; some multi-allelic, some with IDs.
    """
    rng = random.Random(seed)
    lines = []
    for chrom in ("chr17", "chr2"):
        pos = 1000
        for i in range(records // 2):
            pos += rng.choice((1, 5, 300))
            n_alt = rng.choice((1, 1, 1, 2))
            alt = ",".join(rng.sample("CGT", n_alt))
            gene = rng.choice(("TP53", "BRCA1", "."))
            fields: dict[str, list[str]] = {
                k: []
                for k in (
                    "GAS_GENE",
                    "GAS_REGION",
                    "GAS_CONSEQUENCE",
                    "GAS_IMPACT",
                    "GAS_PICK_CONSEQUENCE",
                    "GAS_PICK_IMPACT",
                    "GAS_PICK_HGVSC",
                    "GAS_PICK_HGVSP",
                )
            }
            for a in range(n_alt):
                term = "intergenic_variant" if gene == "." else rng.choice(_CONSEQUENCES)
                picked = [] if gene == "." else [term]
                if picked and rng.random() < 0.3 and term != "splice_region_variant":
                    picked.append("splice_region_variant")
                fields["GAS_GENE"].append(gene)
                fields["GAS_REGION"].append("intergenic" if gene == "." else "CDS")
                fields["GAS_CONSEQUENCE"].append(term)
                fields["GAS_IMPACT"].append(terms.impact(term))
                fields["GAS_PICK_CONSEQUENCE"].append("&".join(picked) or ".")
                fields["GAS_PICK_IMPACT"].append(terms.impact(picked[0]) if picked else ".")
                fields["GAS_PICK_HGVSC"].append(f"ENST1.1:c.{i}{a}A>G" if picked else ".")
                fields["GAS_PICK_HGVSP"].append(f"ENSP1.1:p.Leu{i}Pro" if picked else ".")
            if not consequences:
                fields = {k: v for k, v in fields.items() if k in ("GAS_GENE", "GAS_REGION")}
            info = ";".join(f"{k}={','.join(v)}" for k, v in fields.items())
            vid = f"rs{pos}" if i % 6 == 0 else "."
            lines.append(f"{chrom}\t{pos}\t{vid}\tA\t{alt}\t.\t.\t{info}")
    header = (
        "##fileformat=VCFv4.2\n##reference=GRCh38\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    )
    return header + "\n".join(lines) + "\n"


def sites_vcf(
    records: int,
    seed: int,
    *,
    contig: str = "chr1",
    length: int = 248_956_422,
    span: tuple[int, int] = (10_000, 248_000_000),
) -> bytes:
    """A sorted, sites-only GRCh38 VCF of ``records`` A>G SNVs on one contig, the same for the
    same seed: big ones keep the annotate step busy for a few seconds."""
    import numpy as np  # here: the API client tests import this module without numpy

    positions = np.sort(np.random.default_rng(seed).integers(*span, records)).tolist()
    header = (
        f"##fileformat=VCFv4.2\n##reference=GRCh38\n##contig=<ID={contig},length={length}>\n"
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    )
    return (header + "".join(f"{contig}\t{p}\t.\tA\tG\t50\tPASS\t.\n" for p in positions)).encode()
