"""Per-allele annotation: each ALT of a multi-allelic record on its own span (Number=A values).

Hand-checked against the GENCODE coordinates in test_annotator_regions (1-based, as in a VCF):
TP53 (minus strand) GRCh38 exon 10 7670609-7670715 is coding, its splice region 7670601-7670608,
so 7670590 is intron. DUSP10 (minus strand) GRCh38 ends at 221742089, its 5' end: the first bases
inside it are 5'UTR, and 221742094 is 5 bases upstream of it.
"""

from __future__ import annotations

import numpy as np

from annotator import annotate_file
from annotator.engine import _allele_queries
from annotator.vcf import parse_chunk

REF25 = "A" * 25


def run(write_vcf, outputs, reference_dir, records):
    result = annotate_file(
        write_vcf(records), **outputs, build="GRCh38", reference_dir=reference_dir
    )
    return result


def test_snv_and_long_deletion_of_one_record_land_in_different_classes(
    reference_dir, write_vcf, outputs, records_of
):
    # ALT 1 changes only the first base (7670590: intron); ALT 2 deletes 7670591..7670614, which
    # runs through the splice region into exon 10's coding bases.
    snv = "T" + REF25[1:]
    r = run(write_vcf, outputs, reference_dir, [f"chr17 7670590 . {REF25} {snv},A . . ."])
    rec = records_of(outputs["output_vcf"])[0]
    assert rec["GAS_REGION"] == "intron,CDS"
    assert rec["GAS_GENE"] == "TP53,TP53"
    assert rec["GAS_STRAND"] == "-,-"
    assert rec["GAS_GENE_ID"] == "ENSG00000141510.18,ENSG00000141510.18"
    assert "GAS_DISTANCE" not in rec  # both alleles are genic
    # Counted once, under the highest-precedence class of its alleles; both ALTs counted.
    assert r.by_region["CDS"] == 1 and r.by_region["intron"] == 0
    assert r.variants == 1 and r.alleles == 2


def test_alleles_inside_a_gene_and_upstream_of_it_get_their_own_distance(
    reference_dir, write_vcf, outputs, records_of
):
    # REF 221742085..221742094. ALT 1 deletes 221742086..094 (reaches into DUSP10: UTR5);
    # ALT 2 changes only 221742094 (5 bases past the minus-strand gene's 5' end: upstream 5);
    # ALT 3 inserts after the anchor base 221742085 (inside the gene: UTR5).
    r = run(
        write_vcf,
        outputs,
        reference_dir,
        ["chr1 221742085 . CCCCCCCCCC C,CCCCCCCCCG,CT . . DP=5"],
    )
    rec = records_of(outputs["output_vcf"])[0]
    assert rec["DP"] == "5"
    assert rec["GAS_REGION"] == "UTR5,upstream,UTR5"
    assert rec["GAS_GENE"] == "DUSP10,DUSP10,DUSP10"
    assert rec["GAS_DISTANCE"] == ".,5,."  # Number=A: missing for the genic alleles
    assert r.alleles == 3


def test_each_allele_matches_the_same_allele_written_as_its_own_record(
    reference_dir, write_vcf, outputs, records_of
):
    snv = "T" + REF25[1:]
    run(
        write_vcf,
        outputs,
        reference_dir,
        [
            f"chr17 7670590 . {REF25} {snv},A . . .",
            "chr17 7670590 . A T . . .",
            f"chr17 7670590 . {REF25} A . . .",
        ],
    )
    multi, first, second = records_of(outputs["output_vcf"])
    for key in ("GAS_REGION", "GAS_GENE", "GAS_STRAND", "GAS_GENE_TYPE"):
        assert multi[key] == f"{first[key]},{second[key]}", key


def test_unknown_contig_multiallelic_lists_one_class_per_alt(
    reference_dir, write_vcf, outputs, records_of
):
    r = run(write_vcf, outputs, reference_dir, ["chrUn_x 5 . A G,T . . ."])
    rec = records_of(outputs["output_vcf"])[0]
    assert rec["GAS_REGION"] == "unknown_contig,unknown_contig"
    assert "GAS_GENE" not in rec
    assert r.unknown_contig_records == 1


def test_header_declares_per_allele_fields(reference_dir, write_vcf, outputs):
    run(write_vcf, outputs, reference_dir, ["chr17 7670590 . A T . . ."])
    header = [ln for ln in outputs["output_vcf"].read_text().splitlines() if "ID=GAS_" in ln]
    number = {
        ln.split("ID=")[1].split(",")[0]: ln.split("Number=")[1].split(",")[0] for ln in header
    }
    assert number == {
        "GAS_REGION": "A",
        "GAS_GENE": "A",
        "GAS_GENE_ID": "A",
        "GAS_STRAND": "A",
        "GAS_GENE_TYPE": "A",
        "GAS_DISTANCE": "A",
        "GAS_KNOWN_ID": "A",
        "GAS_PICK_REGION": "A",
        "GAS_PICK_GENE": "A",
        "GAS_PICK_TRANSCRIPT": "A",
        "GAS_PICK_BASIS": "A",
        "GAS_CONSEQUENCE": "A",
        "GAS_IMPACT": "A",
        "GAS_PICK_CONSEQUENCE": "A",
        "GAS_PICK_IMPACT": "A",
        "GAS_PICK_HGVSC": "A",
        "GAS_PICK_HGVSP": "A",
        "GAS_CSQ": ".",
    }


def test_allele_spans_trim_shared_bases():
    lines = [
        "1\t100\t.\tA\tG\t.\t.\t.",  # SNV: the REF base
        "1\t100\t.\tACGT\tA\t.\t.\t.",  # deletion: the 3 deleted bases
        "1\t100\t.\tA\tACGT\t.\t.\t.",  # insertion: its anchor base
        "1\t100\t.\tACGT\tAGGT\t.\t.\t.",  # MNV written long: the one changed base
        "1\t100\t.\tACGT\t<DEL>,*\t.\t.\t.",  # symbolic and '*': the REF span
        "1\t100\t.\tacgt\tA\t.\t.\t.",  # lower-case REF trims the same
    ]
    block = ("\n".join(lines) + "\n").encode()
    fl = parse_chunk(block, 0, 8)
    q = _allele_queries(fl, fl.pos0.astype(np.int64))
    spans = list(zip(q.rec.tolist(), q.start.tolist(), q.end.tolist(), strict=True))
    assert spans == [
        (0, 99, 100),
        (1, 100, 103),
        (2, 99, 100),
        (3, 100, 101),
        (4, 99, 103),
        (4, 99, 103),
        (5, 100, 103),
    ]
    assert q.first is not None and q.first.tolist() == [0, 1, 2, 3, 4, 6]


def test_exonic_shortcut_classifies_like_the_full_lookup(reference_dir):
    from pathlib import Path

    from annotator.bundle import load_bundle
    from annotator.engine import _Annotator

    rng = np.random.default_rng(3)
    for build in ("GRCh38", "GRCh37"):
        ann = _Annotator(load_bundle(Path(reference_dir), build), None)
        assert ann.b.exons_hold_cds_utr
        # Spans near exon edges, where the classes change, of 1 to 30 bases.
        edges = ann.b.unions["exon"].ravel()
        s = np.sort(rng.choice(edges, 20000)) + rng.integers(-12, 12, 20000)
        e = s + rng.integers(1, 30, 20000)
        fast = ann._classify(s, e)
        ann.b.__dict__["exons_hold_cds_utr"] = False
        assert (ann._classify(s, e) == fast).all(), build
