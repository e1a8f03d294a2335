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
