"""Reference bundles: built from a GENCODE GTF, exon boundaries where GENCODE puts them."""

from __future__ import annotations

import json
import time

import pytest

from annotator import annotate_file
from annotator.bundle import Bundle, load_bundle
from annotator.exceptions import ReferenceBuildError
from annotator.sources import build_from_gtf


@pytest.fixture(scope="module")
def gtf_bundle(gencode_gtf, tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "GRCh38"
    build_from_gtf(gencode_gtf, "GRCh38", out)
    return out.parent


# SAMD11 (plus strand, 923928-944581) in the GENCODE v29 excerpt: exon 930155-930336 is all CDS;
# exon 925738-925800 is 5'UTR; the stop codon is 944151-944153 and 3'UTR runs to 944581.
SAMD11 = [
    (930155, "CDS"),  # first base of the exon, as the GTF says
    (930336, "CDS"),  # last base
    (930154, "splice_region"),  # first intronic base before it
    (930337, "splice_region"),
    (930147, "splice_region"),  # 8th intronic base
    (930146, "intron"),  # 9th
    (930344, "splice_region"),  # 8th intronic base after it
    (930345, "intron"),
    (925941, "CDS"),  # a start_NF transcript's CDS begins at 925922, and CDS outranks UTR
    (925750, "UTR5"),  # exon 925738-925800: UTR in every transcript
    (944153, "CDS"),  # last base of the stop codon 944151-944153
    (944154, "UTR3"),
    (944581, "UTR3"),  # the gene's last base
]


def test_gencode_exon_boundaries_land_where_the_gtf_puts_them(
    gtf_bundle, write_vcf, outputs, records_of
):
    vcf = write_vcf([f"chr1 {p} . A G . . ." for p, _ in SAMD11])
    annotate_file(vcf, **outputs, build="GRCh38", reference_dir=gtf_bundle)
    recs = records_of(outputs["output_vcf"])
    assert [(int(r["POS"]), r["GAS_REGION"]) for r in recs] == SAMD11
    assert {r["GAS_GENE"] for r in recs} == {"SAMD11", "SAMD11|NOC2L"}  # NOC2L overlaps its end
    assert recs[0]["GAS_GENE_ID"] == "ENSG00000187634.11"


def test_gene_bounds_from_gtf(gtf_bundle):
    b = load_bundle(gtf_bundle, "GRCh38")
    rows = [g for g in b.genes.to_pylist() if g["gene_name"] == "SAMD11"]
    # GTF 923928-944581 (1-based closed) is stored as [923927, 944581)
    assert [(r["start"], r["end"], r["strand"]) for r in rows] == [(923927, 944581, "+")]
    assert b.manifest["source"] == {"kind": "gtf", "file": "gencode_human.gtf.gz"}


def test_default_grch38_bundle_matches_gencode_for_tp53(reference_dir):
    b = load_bundle(reference_dir, "GRCh38")
    g = [x for x in b.genes.to_pylist() if x["gene_name"] == "TP53"]
    assert [(x["contig"], x["start"] + 1, x["end"], x["strand"]) for x in g] == [
        ("17", 7661779, 7687538, "-")
    ]
    # TP53 exon 2 coding part 7676521-7676594 (1-based) in the CDS union, flanks outside it
    cds = b.unions["cds"]
    key = (b.contigs.index("17") << 32) + 7676521 - 1
    i = (cds[0] <= key).sum() - 1
    assert cds[0][i] == key and cds[1][i] >= key + 74


def test_bundles_load_fast(reference_dir):
    for build in ("GRCh38", "GRCh37"):
        t0 = time.monotonic()
        b = Bundle(reference_dir / build)
        b.set_info  # noqa: B018  (renders the gene strings the engine needs)
        assert time.monotonic() - t0 < 1.0
        m = json.loads((reference_dir / build / "manifest.json").read_text())
        assert m["format_version"] == 2 and m["build"] == build


def test_gtf_without_genes_is_refused(tmp_path):
    bad = tmp_path / "x.gtf"
    bad.write_text('chr1\tX\texon\t10\t20\t.\t+\t.\tgene_id "g"; transcript_id "t";\n')
    with pytest.raises(ReferenceBuildError, match="no gene records"):
        build_from_gtf(bad, "GRCh38", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_damaged_bundle_is_reference_unavailable(tmp_path):
    from annotator import ReferenceUnavailable

    (tmp_path / "GRCh38").mkdir()
    (tmp_path / "GRCh38" / "manifest.json").write_text('{"format": "something-else"}')
    with pytest.raises(ReferenceUnavailable):
        load_bundle(tmp_path, "GRCh38")
