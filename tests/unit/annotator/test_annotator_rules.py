"""The rules the fidelity round fixed, each pinned on a tiny gene model written by the test itself.

Coordinates in the GTF text and the VCF records are 1-based, as in the files.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from annotator import annotate_file
from annotator.bundle import GeneModel, Transcripts, build_bundle
from annotator.sources import build_from_gtf, walk_transcripts

HEADER = "##fileformat=VCFv4.2\n##reference=GRCh38\n"


def gtf_line(kind, start, end, strand, gene, tx=None, extra=""):
    attrs = f'gene_id "{gene}.1"; gene_name "{gene}"; gene_type "protein_coding";'
    if tx:
        attrs += f' transcript_id "{tx}";'
    return f"chr1\tTEST\t{kind}\t{start}\t{end}\t.\t{strand}\t.\t{attrs}{extra}\n"


def transcript(gene, tx, strand, exons, cds=None, tags=""):
    """GTF lines of one transcript: exons [(start, end)], an optional CDS span (stop included)."""
    lines = [gtf_line("transcript", exons[0][0], exons[-1][1], strand, gene, tx, tags)]
    for s, e in exons:
        lines.append(gtf_line("exon", s, e, strand, gene, tx))
        if cds and s <= cds[1] and cds[0] <= e:
            lines.append(gtf_line("CDS", max(s, cds[0]), min(e, cds[1]), strand, gene, tx))
    return lines


@pytest.fixture
def bundle_from(tmp_path):
    def make(genes: dict[str, tuple[int, int, str]], transcripts: list[list[str]]) -> Path:
        text = [gtf_line("gene", s, e, st, name) for name, (s, e, st) in genes.items()]
        for t in transcripts:
            text += t
        gtf = tmp_path / "model.gtf"
        gtf.write_text("".join(text))
        build_from_gtf(gtf, "GRCh38", tmp_path / "ref" / "GRCh38")
        return tmp_path / "ref"

    return make


@pytest.fixture
def annotate(tmp_path, records_of):
    def run(ref: Path, records: list[str], **kw) -> list[dict[str, str]]:
        vcf = tmp_path / "in.vcf"
        cols = "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
        vcf.write_text(HEADER + cols + "".join(r.replace(" ", "\t") + "\n" for r in records))
        out = tmp_path / "out.vcf"
        annotate_file(vcf, out, tmp_path / "log", tmp_path / "s.json", reference_dir=ref, **kw)
        return records_of(out)

    return run


def test_upstream_of_a_farther_gene_beats_downstream_of_the_nearest(bundle_from, annotate):
    # As chr22:29436111 (GRCh38): 2.5 kb upstream of one gene, nearer the 3' end of another.
    ref = bundle_from(
        {"NEAR": (22001, 22500, "-"), "FAR": (23501, 30000, "+")},
        [
            transcript("NEAR", "TN", "-", [(22001, 22500)]),
            transcript("FAR", "TF", "+", [(23501, 30000)]),
        ],
    )
    rec = annotate(ref, ["chr1 21001 . A G . . ."])[0]
    assert (rec["GAS_REGION"], rec["GAS_GENE"], rec["GAS_DISTANCE"]) == ("upstream", "FAR", "2500")


def test_splice_region_only_at_real_intron_boundaries(bundle_from, annotate):
    # As AGRN chr1:982573 (GRCh37): a second transcript's first exon starts inside the first
    # one's intron; the bases before it are intron, not splice region.
    ref = bundle_from(
        {"G": (1001, 2100, "+")},
        [
            transcript("G", "T1", "+", [(1001, 1100), (2001, 2100)]),
            transcript("G", "T2", "+", [(1501, 1600), (2001, 2100)]),
        ],
    )
    recs = annotate(ref, [f"chr1 {p} . A G . . ." for p in (1496, 1605, 1101, 1996, 1990)])
    assert [r["GAS_REGION"] for r in recs] == [
        "intron",  # 5 bases before T2's first exon: its outer edge, no splicing
        "splice_region",  # 5 bases after T2's first exon: a real donor side
        "splice_region",
        "splice_region",
        "intron",
    ]


def test_utr_side_is_decided_per_transcript_in_packaged_tables(tmp_path, annotate):
    # As TTLL10 chr1:1120536 (GRCh37): a transcript whose CDS ends in its first exon has a 3'UTR
    # before the gene's CDS midpoint (the old heuristic called it 5').
    def table(rows, strand="+"):
        return pa.table(
            {
                "_labels": ["chr1"] * len(rows),
                "_starts": [r[0] for r in rows],
                "_ends": [r[1] for r in rows],
                "gene_name": ["G"] * len(rows),
                "Strand": [strand] * len(rows),
            }
        )

    tx = table([(1001, 1100), (1001, 6000)])
    exons = table([(1001, 1100), (1001, 1100), (5001, 6000)])
    cds = table([(1001, 1050), (1001, 1100), (5001, 5900)])
    utrs = table([(1051, 1100), (5901, 6000)])
    genes = {("1", "G"): [(1000, 6000, 0)]}
    t = walk_transcripts(tx, exons, cds, [(utrs, None)], genes)
    assert t.cds_lo.tolist() == [1000, 1000] and t.cds_hi.tolist() == [1050, 5900]
    model = GeneModel(
        *(
            pa.array(v).to_numpy(zero_copy_only=False)
            for v in (["1"], [1000], [6000], ["+"], ["G.1"], ["G"], ["protein_coding"])
        ),
        transcripts=t,
    )
    assert isinstance(model.transcripts, Transcripts)
    build_bundle(model, tmp_path / "ref" / "GRCh38", "GRCh38", {"kind": "test"})
    recs = annotate(tmp_path / "ref", ["chr1 1075 . A G . . .", "chr1 5950 . A G . . ."])
    assert [r["GAS_REGION"] for r in recs] == ["UTR3", "UTR3"]


def test_picked_transcript_follows_mane_then_class(bundle_from, annotate):
    ref = bundle_from(
        {"G": (1001, 3000, "+")},
        [
            transcript(
                "G",
                "ENST1.1",
                "+",
                [(1001, 1100), (2901, 3000)],
                (1051, 2950),
                ' tag "MANE_Select";',
            ),
            transcript("G", "ENST2.1", "+", [(1001, 1100), (1501, 1600), (2901, 3000)]),
        ],
    )
    rec = annotate(ref, ["chr1 1550 . A G . . ."])[0]
    # Any gene: exonic in the non-coding ENST2; on the MANE transcript it is intronic.
    assert rec["GAS_REGION"] == "ncExon"
    assert (rec["GAS_PICK_REGION"], rec["GAS_PICK_GENE"]) == ("intron", "G")
    assert (rec["GAS_PICK_TRANSCRIPT"], rec["GAS_PICK_BASIS"]) == ("ENST1.1", "MANE_Select")
    far = annotate(ref, ["chr1 20000 . A G . . ."])[0]
    assert (far["GAS_PICK_REGION"], far["GAS_PICK_GENE"]) == ("intergenic", ".")


def test_known_id_is_matched_per_alt_after_trimming(bundle_from, annotate, tmp_path, known_source):
    ref = bundle_from({"G": (1001, 3000, "+")}, [transcript("G", "T", "+", [(1001, 3000)])])
    known = tmp_path / "known.vcf"
    cols = "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    known.write_text(
        HEADER + cols + "chr1\t1200\trs1\tA\tG\t.\t.\t.\nchr1\t1300\trs2\tAT\tA\t.\t.\t.\n"
    )
    recs = annotate(
        ref,
        ["chr1 1200 . A T,G . . .", "chr1 1300 . ATT AT . . .", "chr1 1400 . A G . . ."],
        sources=[known_source(known)],
    )
    assert recs[0]["GAS_KNOWN_ID"] == ".,rs1"  # per ALT: only G is the known variant
    assert recs[1]["GAS_KNOWN_ID"] == "rs2"  # ATT>AT is AT>A once the shared T is trimmed
    assert "GAS_KNOWN_ID" not in recs[2]


def test_long_deletion_reports_every_gene_it_crosses(bundle_from, annotate):
    ref = bundle_from(
        {"A": (1001, 1100, "+"), "B": (1201, 1300, "+"), "C": (1401, 1500, "-")},
        [
            transcript("A", "TA", "+", [(1001, 1100)]),
            transcript("B", "TB", "+", [(1201, 1300)]),
            transcript("C", "TC", "-", [(1401, 1500)]),
        ],
    )
    ref_bases = "A" * 400
    rec = annotate(ref, [f"chr1 1050 . {ref_bases} A . . ."])[0]
    assert rec["GAS_GENE"] == "A|B|C" and rec["GAS_STRAND"] == "+|+|-"


def test_indels_are_left_aligned_within_the_record_at_feature_edges(bundle_from, annotate):
    # Exon 1001-1100. CAGAG>CAG at 995 deletes one "AG" of a repeat: placed left (996-997,
    # intronic) as bcftools norm would, not right (998-999).
    ref = bundle_from(
        {"G": (901, 1100, "+")}, [transcript("G", "T", "+", [(901, 950), (1001, 1100)])]
    )
    recs = annotate(
        ref,
        [
            "chr1 985 . CAGAG CAG . . .",  # left-aligned: 986-987, 14 bases before the exon
            "chr1 1000 . A AT . . .",  # insertion anchored on the last intron base
            "chr1 1100 . A AT . . .",  # anchored on the exon's last base: exonic
            "chr1 998 . GTAC G . . .",  # deletes 999-1001: reaches into the exon
        ],
    )
    assert [r["GAS_REGION"] for r in recs] == ["intron", "splice_region", "ncExon", "ncExon"]
