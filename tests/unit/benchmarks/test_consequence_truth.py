"""The consequence half of benchmarks/annotator_fidelity.py on hand-made VCF snippets: reading
VEP/SnpEff/GAS per-transcript blocks, tying transcripts, counting agreement and contradictions,
and placing VEP's codon bases through a bundle for the offline sequence."""

from __future__ import annotations

from pathlib import Path

import pytest

from annotator.bundle import Bundle
from annotator.sources import build_from_gtf
from benchmarks.annotator_fidelity import compare_consequences, truth_sequence
from benchmarks.consequence_truth import (
    NOT_IN_VOCABULARY,
    CodonPlacer,
    ConsequenceTally,
    TruthSequence,
    TxCall,
    ann_calls,
    csq_calls,
    eff_calls,
    header_formats,
    match,
    normalise_hgvs,
    report_lines,
    tally_record,
)

VEP_FORMAT = (
    "Allele|Consequence|IMPACT|SYMBOL|Gene|Feature_type|Feature|BIOTYPE|EXON|INTRON|HGVSc|HGVSp|"
    "cDNA_position|CDS_position|Protein_position|Amino_acids|Codons|DISTANCE|STRAND"
)
VEP_HEADER = (
    '##INFO=<ID=CSQ,Number=.,Type=String,Description="Consequence annotations from Ensembl VEP. '
    f'Format: {VEP_FORMAT}">'
)
GAS_HEADER = VEP_HEADER.replace("ID=CSQ", "ID=GAS_CSQ")
FIELDS = VEP_FORMAT.split("|")


def vep(allele: str, terms: str, symbol: str, feature: str, **kw: str) -> str:
    """One VEP block in VEP_FORMAT (fields not given are empty)."""
    v = {"Allele": allele, "Consequence": terms, "SYMBOL": symbol, "Feature": feature, **kw}
    return "|".join(v.get(f, "") for f in FIELDS)


def test_header_formats_reads_each_fields_layout():
    fmt = header_formats([VEP_HEADER, GAS_HEADER, "##INFO=<ID=AC,Number=A,Type=Integer>"])
    assert fmt["CSQ"] == FIELDS and fmt["GAS_CSQ"] == FIELDS and "AC" not in fmt


def test_vep_blocks_are_tied_to_their_alt_allele():
    # VEP drops the shared first base of indels: C>CT,CTT is alleles T and TT.
    value = ",".join(
        [
            vep("TT", "intron_variant", "G1", "ENST1"),
            vep("T", "frameshift_variant", "G1", "ENST2", STRAND="-1", CDS_position="10-11"),
        ]
    )
    calls = csq_calls(value, FIELDS, "C", ["CT", "CTT"])
    assert [(c.allele, c.transcript, c.terms) for c in calls] == [
        (1, "ENST1", ("intron_variant",)),
        (0, "ENST2", ("frameshift_variant",)),
    ]
    assert calls[1].strand == -1 and calls[1].cds_pos == 10
    # Not all alleles share the first base: VEP keeps them whole.
    calls = csq_calls(vep("GGAAG", "intergenic_variant", "", ""), FIELDS, "AGAAG", ["GGAAG", "A"])
    assert calls[0].allele == 0
    # Older VEP (gemini's) says ALLELE_NUM and no Allele.
    old = ["Consequence", "Codons", "SYMBOL", "Feature", "Protein_position", "ALLELE_NUM"]
    calls = csq_calls("missense_variant|tTt/tGt|OR4F5|ENST3|113|2", old, "T", ["A", "G"])
    assert calls[0].allele == 1 and calls[0].protein_pos == 113 and calls[0].codon_index == 1


def test_vep_hgvs_loses_its_reference_and_escapes():
    block = vep(
        "C",
        "synonymous_variant",
        "ZNRF3",
        "ENST00000544604",
        HGVSc="ENST00000544604.7:c.2442A>C",
        HGVSp="ENSP00000443824.2:p.Pro814%3D",
        CDS_position="2442",
        Protein_position="814",
        Codons="ccA/ccC",
        EXON="8/9",
    )
    (c,) = csq_calls(block, FIELDS, "A", ["C"])
    assert (c.hgvsc, c.hgvsp, c.exon, c.codon_index) == ("c.2442A>C", "p.Pro814=", "8/9", 2)
    assert c.coding_term == "synonymous_variant"


def test_snpeff_ann_and_eff_read_as_so_terms():
    ann = (
        "C|synonymous_variant|LOW|ZNRF3|ENSG00000183579.16|transcript|ENST00000544604.7|"
        "protein_coding|8/9|c.2442A>C|p.Pro814Pro|2637/6872|2442/2811|814/936||,"
        "C|downstream_gene_variant|MODIFIER|X|ENSG1|transcript|ENST9|protein_coding|||||||12|"
    )
    calls = ann_calls(ann, "A", ["C"])
    assert (calls[0].cds_pos, calls[0].cds_len, calls[0].protein_pos) == (2442, 2811, 814)
    assert normalise_hgvs(calls[0].hgvsp) == "p.Pro814="
    assert calls[1].terms == ("downstream_gene_variant",)
    eff = (
        "NON_SYNONYMOUS_CODING(MODERATE|MISSENSE|tTt/tGt|F113C|305|OR4F5|protein_coding|CODING|"
        "ENST00000335137|),CODON_CHANGE_PLUS_CODON_DELETION(MODERATE||||305|X|protein_coding|"
        "CODING|ENST1|2)"
    )
    calls = eff_calls(eff, ["G"])
    assert calls[0].terms == ("missense_variant",) and calls[0].protein_pos == 113
    assert calls[1].terms == ("inframe_deletion",) and calls[1].exon == "2"
    assert eff_calls(eff, ["G", "C"]) == []  # EFF does not say which ALT


def test_hgvs_notation_that_differs_only_in_style():
    assert normalise_hgvs("c.426+14284_426+14288dupTTTTT") == "c.426+14284_426+14288dup"
    assert normalise_hgvs("n.15236448_15236449delAG") == "n.15236448_15236449del"
    assert normalise_hgvs("c.10_11delinsAT") == "c.10_11delinsAT"
    assert normalise_hgvs("p.(Leu402Arg)") == "p.Leu402Arg"
    assert normalise_hgvs("p.Pro814Pro") == "p.Pro814="


def test_transcripts_tie_by_id_without_version_then_by_structure():
    truth = TxCall(0, "ENST1", "G1", ("missense_variant",), 1, 30, None, 10, "2/5")
    by_id = TxCall(0, "ENST1.4", "G1", ("coding_sequence_variant",))
    same_cds = TxCall(0, "GAST0001", "G1", ("missense_variant",), 1, 30, None, 10, "2/5")
    other_exon = TxCall(0, "GAST0002", "G1", ("missense_variant",), 1, 30, None, 10, "3/5")
    assert match(truth, [same_cds, by_id]) == (by_id, "id")
    assert match(truth, [other_exon, same_cds]) == (same_cds, "structure")
    assert match(truth, [other_exon]) == (None, "")
    # Old VEP gives no CDS_position: the protein position and the base's place in its codon.
    old = TxCall(0, "ENST9", "G1", ("missense_variant",), protein_pos=10, codons="aCg/aTg")
    assert match(old, [same_cds]) == (None, "")  # CDS 30 is the codon's 3rd base, not its 2nd
    second = TxCall(0, "GAST3", "G1", ("missense_variant",), 1, 29, None, 10, "2/5")
    assert match(old, [second]) == (second, "structure")
    # Outside the CDS nothing ties by structure.
    utr = TxCall(0, "ENST7", "G1", ("5_prime_UTR_variant",))
    assert match(utr, [TxCall(0, "GAST4", "G1", ("5_prime_UTR_variant",))]) == (None, "")


def test_tally_counts_agreement_classes_and_contradictions():
    t = ConsequenceTally()
    truth = [
        TxCall(0, "ENST1", "G1", ("missense_variant",), 1, 30, None, 10, hgvsc="c.30C>T"),
        TxCall(0, "ENST2", "G1", ("missense_variant", "splice_region_variant"), 1, 30, None, 10),
        TxCall(1, "ENST1", "G1", ("synonymous_variant",), 1, 30, None, 10),
    ]
    gas = [
        TxCall(
            0,
            "ENST1.2",
            "G1",
            ("coding_sequence_variant", "coding_transcript_variant"),
            hgvsc="c.30C>T",
        ),  # fmt: skip
        TxCall(0, "ENST2.1", "G1", ("missense_variant", "splice_region_variant")),
        TxCall(1, "ENST1.2", "G1", ("synonymous_variant", "splice_region_variant")),
    ]
    tally_record(t, "f 1:5 C", "C", ["T", "G"], truth, gas, held={1})
    assert (t.snvs, t.snvs_matched, t.snv_agree) == (2, 2, 1)
    assert (t.pairs, t.pairs_agree) == (3, 2)
    assert t.classes == {("missense_variant", "coding_sequence_variant"): 1}
    # coding_sequence_variant (the SO parent) and qualifiers (coding_transcript_variant) are
    # never a contradiction; a splice region VEP does not give on that transcript is.
    assert t.contradictions == {("splice_region_variant", "synonymous_variant"): 1}
    assert (t.snvs_held, t.snv_held_agree) == (1, 1)  # only G's codon is held; it agrees
    assert t.hgvs[("HGVSc", "id", "n")] == 1 and t.hgvs[("HGVSc", "id", "ok")] == 1
    lines = "\n".join(report_lines("VEP", t))
    assert "coding term agrees: 50.0% (1/2)" in lines
    assert "missense_variant / GAS coding_sequence_variant: 1" in lines


def test_tally_indels_compare_frameshift_against_inframe():
    t = ConsequenceTally()
    truth = [TxCall(0, "ENST1", "G1", ("frameshift_variant",), 1, 30, None, 10)]
    tally_record(t, "f", "CA", ["C"], truth, [TxCall(0, "ENST1", "G1", ("inframe_deletion",))])
    tally_record(t, "f", "CA", ["C"], truth, [TxCall(0, "ENST1", "G1", ("frameshift_variant",))])
    assert (t.indels, t.indels_matched, t.indel_agree) == (2, 2, 1)
    assert t.indel_classes == {("frameshift", "inframe"): 1}
    assert t.snvs == 0


GTF = """\
1\tt\tgene\t101\t230\t.\t+\t.\tgene_id "GA"; gene_name "PLUS"; gene_type "protein_coding";
1\tt\ttranscript\t101\t230\t.\t+\t.\tgene_id "GA"; transcript_id "TA"; gene_name "PLUS";
1\tt\texon\t101\t110\t.\t+\t.\tgene_id "GA"; transcript_id "TA"; gene_name "PLUS";
1\tt\texon\t201\t230\t.\t+\t.\tgene_id "GA"; transcript_id "TA"; gene_name "PLUS";
1\tt\tCDS\t104\t110\t.\t+\t0\tgene_id "GA"; transcript_id "TA"; gene_name "PLUS";
1\tt\tCDS\t201\t214\t.\t+\t2\tgene_id "GA"; transcript_id "TA"; gene_name "PLUS";
1\tt\tgene\t301\t320\t.\t-\t.\tgene_id "GB"; gene_name "MINUS"; gene_type "protein_coding";
1\tt\ttranscript\t301\t320\t.\t-\t.\tgene_id "GB"; transcript_id "TB"; gene_name "MINUS";
1\tt\texon\t301\t320\t.\t-\t.\tgene_id "GB"; transcript_id "TB"; gene_name "MINUS";
1\tt\tCDS\t305\t316\t.\t-\t0\tgene_id "GB"; transcript_id "TB"; gene_name "MINUS";
"""


@pytest.fixture
def tiny_bundle(tmp_path: Path) -> Bundle:
    gtf = tmp_path / "tiny.gtf"
    gtf.write_text(GTF)
    return Bundle(build_from_gtf(gtf, "GRCh38", tmp_path / "ref" / "GRCh38"))


def test_codons_are_placed_across_a_splice_junction_and_on_the_minus_strand(tiny_bundle):
    seq = TruthSequence()
    placer = CodonPlacer(tiny_bundle)
    # PLUS: CDS 104-110 then 201-214; codon 3 is 110, 201, 202 (the SNV at 201 is its 2nd base).
    snv = TxCall(0, "ENSTA", "PLUS", ("missense_variant",), protein_pos=3, codons="aCg/aTg")
    assert placer.place(seq, "1", 201, "C", "T", snv)
    assert seq.bases["1"] == {109: "A", 200: "C", 201: "G"}
    # MINUS: CDS 316 down to 305; codon 2 is 313, 312, 311 read on the minus strand.
    minus = TxCall(0, "ENSTB", "MINUS", ("missense_variant",), -1, 5, protein_pos=2,
                   codons="tGc/tAc")  # fmt: skip
    assert placer.place(seq, "1", 312, "C", "T", minus)
    assert {k: seq.bases["1"][k] for k in (310, 311, 312)} == {312: "A", 311: "C", 310: "G"}
    assert seq.held == {("1", 201, 0), ("1", 312, 0)}
    # A codon the bundle puts elsewhere (here: the SNV is not its 3rd base) is not placed.
    wrong = TxCall(0, "ENSTA", "PLUS", ("missense_variant",), protein_pos=3, codons="acG/acT")
    assert not placer.place(seq, "1", 201, "C", "T", wrong)
    assert seq.unplaced == {"no bundle transcript puts the codon there": 1}


def test_offline_fasta_holds_known_bases_and_n_elsewhere(tmp_path):
    seq = TruthSequence()
    seq.put("1", 3, "a")
    seq.put("1", 5, "C")
    seq.put("1", 5, "G")  # two files disagree: N
    seq.put("MT", 0, "T")
    lengths = seq.write_fasta(tmp_path / "t.fa", pad=2)
    assert lengths == {"1": 8, "MT": 3}
    assert (tmp_path / "t.fa").read_text() == ">1\nNNNANNNN\n>MT\nTNN\n"


def _vcf(path: Path, header: list[str], records: list[str]) -> Path:
    path.write_text(
        "##fileformat=VCFv4.2\n"
        + "".join(h + "\n" for h in header)
        + "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
        + "".join(r.replace(" ", "\t") + "\n" for r in records)
    )
    return path


def test_a_truth_file_against_gas_output(tmp_path, tiny_bundle):
    truth = _vcf(
        tmp_path / "truth.vcf",
        [VEP_HEADER],
        [
            "1 201 . C T . . CSQ="
            + vep(
                "T",
                "missense_variant",
                "PLUS",
                "ENSTA",
                Protein_position="3",
                Codons="aCg/aTg",
                CDS_position="8",
                STRAND="1",
            ),  # fmt: skip
            "1 312 . C T . . CSQ="
            + vep(
                "T",
                "synonymous_variant",
                "MINUS",
                "ENSTB",
                Protein_position="2",
                Codons="tGc/tAc",
                CDS_position="5",
                STRAND="-1",
            ),  # fmt: skip
        ],
    )
    gas = _vcf(
        tmp_path / "gas.vcf",
        [GAS_HEADER],
        [
            "1 201 . C T . . GAS_CSQ="
            + vep(
                "T",
                "missense_variant",
                "PLUS",
                "GAST1",
                CDS_position="8",
                STRAND="1",
                Protein_position="3",
            ),  # fmt: skip
            "1 312 . C T . . GAS_CSQ="
            + vep(
                "T", "coding_sequence_variant", "MINUS", "GAST2", CDS_position="5", STRAND="-1"
            ),  # fmt: skip
        ],
    )
    seq = truth_sequence([truth], tiny_bundle)
    assert seq.held == {("1", 201, 0), ("1", 312, 0)} and not seq.conflicts
    tallies, written = compare_consequences(truth, gas, seq.held)
    assert written
    t = tallies["VEP"]
    assert (t.snvs, t.snvs_matched, t.snv_agree, t.by["structure"]) == (2, 2, 1, 2)
    assert t.classes == {("synonymous_variant", "coding_sequence_variant"): 1}
    assert (t.snvs_held, t.snv_held_agree) == (2, 1)
    assert not t.contradictions
    # Before the engine writes GAS_CSQ there is nothing to compare.
    plain = _vcf(tmp_path / "plain.vcf", [], ["1 201 . C T . . GAS_REGION=CDS"] * 2)
    assert compare_consequences(truth, plain, None) == ({}, False)


def test_one_term_truth_and_terms_a_tool_cannot_name_are_no_contradiction():
    """vcf2maf keeps only each transcript's most severe term: GAS's most severe one is compared.
    SnpEff has no splice_polypyrimidine_tract_variant: GAS naming it contradicts nothing."""
    t = ConsequenceTally()
    one = [TxCall(0, "ENST1", "G1", ("splice_region_variant",), worst_only=True)]
    gas = [TxCall(0, "ENST1", "G1", ("splice_region_variant", "intron_variant"))]
    tally_record(t, "f", "T", ["C"], one, gas)
    assert not t.contradictions and t.contradiction_pairs == 1
    tally_record(t, "f", "T", ["C"], one, [TxCall(0, "ENST1", "G1", ("intron_variant",))])
    assert t.contradictions == {("intron_variant", "splice_region_variant"): 1}
    snpeff = [TxCall(0, "ENST1", "G1", ("intron_variant",))]
    ppt = [TxCall(0, "ENST1", "G1", ("splice_polypyrimidine_tract_variant", "intron_variant"))]
    u = ConsequenceTally()
    tally_record(u, "f", "T", ["C"], snpeff, ppt, None, NOT_IN_VOCABULARY["SnpEff"])
    assert not u.contradictions
    tally_record(u, "f", "T", ["C"], snpeff, ppt)
    assert u.contradictions == {("splice_polypyrimidine_tract_variant", "intron_variant"): 1}
