"""Reference bundles: built from a GENCODE GTF, exon boundaries where GENCODE puts them."""

from __future__ import annotations

import json
import time

import pytest

from annotator import annotate_file
from annotator.bundle import BUNDLE_FORMAT_VERSION, Bundle, load_bundle
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
        b.set_text  # noqa: B018  (the gene strings the engine needs)
        b.pick_info  # noqa: B018
        assert time.monotonic() - t0 < 1.0
        m = json.loads((reference_dir / build / "manifest.json").read_text())
        assert m["format_version"] == BUNDLE_FORMAT_VERSION and m["build"] == build


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


def _annotated(bundle_parent, tmp_path, write_vcf, name: str) -> bytes:
    vcf = write_vcf(
        ["1 925750 . A C,G . . .", "1 930155 . G A . . DP=3", "1 944581 . T C . . .",
         "1 1000 . A T . . .", "1 2000000 . C G . . ."],
        header="##fileformat=VCFv4.2\n##reference=GRCh38\n",
    )  # fmt: skip
    out = tmp_path / name
    annotate_file(vcf, out / "a.vcf", out / "a.log", out / "a.json", reference_dir=bundle_parent)
    return (out / "a.vcf").read_bytes()


def test_rendered_text_is_part_of_a_built_bundle_and_changes_no_output(
    gtf_bundle, tmp_path, write_vcf
):
    import shutil

    import pyarrow as pa

    from annotator.bundle import RENDERED_DIR

    ref = tmp_path / "ref"
    shutil.copytree(gtf_bundle, ref)
    rendered = ref / "GRCh38" / RENDERED_DIR
    assert Bundle(ref / "GRCh38").has_rendered_text()
    read = _annotated(ref, tmp_path, write_vcf, "read")
    assert b"GAS_GENE=SAMD11" in read and b"GAS_PICK_GENE=SAMD11" in read
    shutil.rmtree(rendered)  # a bundle made before rendered text: rendered at start-up
    assert not Bundle(ref / "GRCh38").has_rendered_text()
    assert _annotated(ref, tmp_path, write_vcf, "rendered") == read
    # Text from another TEXT_VERSION is not used, whatever it says.
    rendered.mkdir()
    for name in ("set_text", "pick_info"):
        n = len(getattr(Bundle(ref / "GRCh38"), name))
        table = pa.table({name: pa.array([b";GAS_GENE=stale"] * n)})
        table = table.replace_schema_metadata({"text_version": "0"})
        with (
            pa.OSFile(str(rendered / f"{name}.arrow"), "wb") as sink,
            pa.ipc.new_file(sink, table.schema) as writer,
        ):
            writer.write_table(table)
    assert not Bundle(ref / "GRCh38").has_rendered_text()
    assert _annotated(ref, tmp_path, write_vcf, "stale") == read


def test_install_defaults_adds_rendered_text_to_an_installed_bundle(reference_dir, tmp_path):
    import shutil

    from annotator.bundle import RENDERED_DIR
    from annotator.sources import install_default

    ref = tmp_path / "ref"
    shutil.copytree(reference_dir / "GRCh37", ref / "GRCh37")
    shutil.rmtree(ref / "GRCh37" / RENDERED_DIR, ignore_errors=True)
    said: list[str] = []
    path, built = install_default("GRCh37", ref, tmp_path / "no-downloads", say=said.append)
    assert not built  # up to date: only the rendered text was added
    assert Bundle(path).has_rendered_text()
    assert any("rendered" in line for line in said)


@pytest.mark.parametrize("side", ["left", "right"])
def test_search_in_the_keys_stretch_is_numpy_searchsorted(side):
    import numpy as np

    from annotator.bundle import search

    rng = np.random.default_rng(5)
    for n, k in ((0, 5), (1, 1), (50, 0), (1000, 1), (1000, 300), (100_000, 25_000)):
        hay = np.sort(rng.integers(0, 10_000, n))  # with repeats, like segment starts
        keys = rng.integers(-100, 10_100, k)  # unsorted too, and outside the array
        for q in (keys, np.sort(keys)):
            assert (search(hay, q, side=side) == np.searchsorted(hay, q, side=side)).all()


def test_the_manifest_keeps_whether_exons_hold_cds_and_utr(reference_dir, tmp_path):
    # Worked out once when the bundle is built (20-35 ms of every run otherwise); a bundle from
    # before that works it out at start-up, and install-defaults adds it to the manifest.
    import json
    import shutil

    from annotator.bundle import cds_utr_inside_exons
    from annotator.sources import install_default

    for build in ("GRCh38", "GRCh37"):
        b = Bundle(reference_dir / build)
        assert b.manifest["exons_hold_cds_utr"] is cds_utr_inside_exons(b.unions) is True
    ref = tmp_path / "ref"
    shutil.copytree(reference_dir / "GRCh37", ref / "GRCh37")
    manifest = ref / "GRCh37" / "manifest.json"
    older = json.loads(manifest.read_text())
    del older["exons_hold_cds_utr"]
    manifest.write_text(json.dumps(older))
    assert Bundle(ref / "GRCh37").exons_hold_cds_utr is True  # worked out
    install_default("GRCh37", ref, tmp_path / "no-downloads", say=lambda line: None)
    assert json.loads(manifest.read_text())["exons_hold_cds_utr"] is True
    # A bundle whose CDS pokes out of its exons says so.
    b = Bundle(ref / "GRCh37")
    unions = {**b.unions, "cds": b.unions["cds"].copy()}
    unions["cds"][1][0] = b.unions["exon"][1][-1] + 10
    assert cds_utr_inside_exons(unions) is False
