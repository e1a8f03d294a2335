"""Inputs the tests make themselves, so a clone without ``../shared`` still tests all of GAS."""

from __future__ import annotations

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
