"""Hand-checked variants on both builds: region class, gene, distance.

Coordinates were read off the GENCODE tables the bundles are made from (1-based, as in a VCF):
TP53 (minus strand) GRCh38 exon 2 CDS 7676521-7676594 with the ATG at 7676592-7676594, its 5'UTR
7676595-7676622; last exon 3'UTR 7668402-7669608; exon 10 7670609-7670715. GRCh37: CDS
7579839-7579912, 5'UTR 7579913-7579940, 3'UTR 7571720-7572926, exon 7573927-7574033.
DUSP10 (minus strand, no other gene within 60 kb): GRCh38 221701424-221742089, GRCh37
221874766-221915518.
"""

from __future__ import annotations

import pytest

from annotator import annotate_file

GRCH38 = [
    # (chrom, pos, region, gene, distance)
    ("chr17", 7676550, "CDS", "TP53", None),
    ("chr17", 7676610, "UTR5", "TP53", None),
    ("chr17", 7668500, "UTR3", "TP53", None),
    ("chr17", 7670000, "intron", "TP53", None),
    ("chr17", 7670608, "splice_region", "TP53", None),  # 1 base before exon 10
    ("chr17", 7670601, "splice_region", "TP53", None),  # 8 bases before it: last splice base
    ("chr17", 7670600, "intron", "TP53", None),  # 9 bases before: intron
    ("chr1", 221743089, "upstream", "DUSP10", 1000),  # minus strand: 5' is past its end
    ("chr1", 221700424, "downstream", "DUSP10", 1000),
    ("chr1", 221681424, "intergenic", "DUSP10", 20000),
]
GRCH37 = [
    ("17", 7579880, "CDS", "TP53", None),
    ("17", 7579920, "UTR5", "TP53", None),
    ("17", 7572000, "UTR3", "TP53", None),
    ("17", 7573500, "intron", "TP53", None),
    ("17", 7573926, "splice_region", "TP53", None),
    ("17", 7573918, "intron", "TP53", None),
    ("1", 221916518, "upstream", "DUSP10", 1000),
    ("1", 221873766, "downstream", "DUSP10", 1000),
    ("1", 221854766, "intergenic", "DUSP10", 20000),
]


@pytest.mark.parametrize(("build", "cases"), [("GRCh38", GRCH38), ("GRCh37", GRCH37)])
def test_hand_checked_variants(build, cases, reference_dir, write_vcf, outputs, records_of):
    vcf = write_vcf([f"{c} {p} . A G . PASS ." for c, p, *_ in cases])
    result = annotate_file(vcf, **outputs, build=build, reference_dir=reference_dir)
    assert result.build == build and result.build_source == "requested"
    got = records_of(outputs["output_vcf"])
    for (chrom, pos, region, gene, distance), rec in zip(cases, got, strict=True):
        where = f"{build} {chrom}:{pos}"
        assert rec["GAS_REGION"] == region, where
        assert gene in rec["GAS_GENE"].split("|"), where
        assert rec.get("GAS_DISTANCE") == (str(distance) if distance else None), where
        assert "-" in rec["GAS_STRAND"].split("|")


def test_cds_outranks_intron_of_another_gene_and_lists_both(
    reference_dir, write_vcf, outputs, records_of
):
    # TP53's exon 1 overlaps WRAP53 (plus strand): both genes are listed, strands in order.
    vcf = write_vcf(["chr17 7687400 . C T . . ."])
    annotate_file(vcf, **outputs, build="GRCh38", reference_dir=reference_dir)
    rec = records_of(outputs["output_vcf"])[0]
    genes = rec["GAS_GENE"].split("|")
    assert "TP53" in genes and "WRAP53" in genes
    strands = dict(zip(genes, rec["GAS_STRAND"].split("|"), strict=True))
    assert strands["TP53"] == "-" and strands["WRAP53"] == "+"
    assert rec["GAS_REGION"] == "UTR5"  # TP53 5'UTR 7687377-7687538


def test_grch38_gene_ids_are_gencode_ids(reference_dir, write_vcf, outputs, records_of):
    vcf = write_vcf(["chr17 7676550 . G A . . DP=3"])
    annotate_file(vcf, **outputs, build="GRCh38", reference_dir=reference_dir)
    rec = records_of(outputs["output_vcf"])[0]
    assert rec["GAS_GENE_ID"] == "ENSG00000141510.18"
    assert rec["GAS_GENE_TYPE"] == "protein_coding"
    assert rec["DP"] == "3"  # existing INFO kept


def test_deletion_spanning_into_cds_counts_as_cds(reference_dir, write_vcf, outputs, records_of):
    # REF span 7676590..7676599 covers the last CDS bases (the ATG ends at 7676594).
    vcf = write_vcf(["chr17 7676590 . AAAAAAAAAA A . . ."])
    annotate_file(vcf, **outputs, build="GRCh38", reference_dir=reference_dir)
    assert records_of(outputs["output_vcf"])[0]["GAS_REGION"] == "CDS"


def test_same_site_annotates_identically_on_both_builds_after_liftover(
    reference_dir, write_vcf, tmp_path, records_of
):
    # The same TP53 codon: GRCh38 7676550 is GRCh37 7579868 (offset 96,682 across this region).
    for build, pos in (("GRCh38", 7676550), ("GRCh37", 7676550 - 96682)):
        vcf = write_vcf([f"17 {pos} . C T . . ."], name=f"{build}.vcf")
        out = {
            "output_vcf": tmp_path / f"{build}.out.vcf",
            "log_path": tmp_path / f"{build}.log",
            "summary_path": tmp_path / f"{build}.json",
        }
        annotate_file(vcf, **out, build=build, reference_dir=reference_dir)
        rec = records_of(out["output_vcf"])[0]
        assert (rec["GAS_REGION"], rec["GAS_GENE"]) == ("CDS", "TP53"), build
